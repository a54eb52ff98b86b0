"""Translation rules: how a source topic becomes a topic (or hub) on a target.

One named function per rule; each docstring cites where its fact comes from
(the sources are collected in ``../shared/docs/targets.md`` and in
:mod:`kmigrate.targets.profiles`).  :func:`translate_topic` applies them to one
topic and :func:`translate_topics` to a whole selection (adding the rules that
count across topics: hubs per namespace, partitions per cluster, partitions
per broker).  Pure: no cluster access, no vendor SDK, no credentials, so
``kmigrate plan --offline`` can compute the whole table from a snapshot and
the plan's declared ``facts``.

The result per topic is a :class:`TopicTranslation` whose :meth:`~TopicTranslation.to_dict`
is the JSON contract of issue 5::

    {"name", "action", "partitions", "replication_factor", "replication_factor_reason",
     "decisions": [{"key", "source_value", "target_value", "decision", "reason", "rule",
                    "target_key", "accepted"}],
     "warnings": [{"message", "rule"}]}

``action`` is ``create``, ``exists`` (the target already has it with at least
as many partitions) or ``refuse`` (an unaccepted refusal).  ``decision`` is
``copied``, ``converted``, ``dropped`` or ``refused``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from kmigrate.targets.profiles import (
    MSK_PARTITIONS_PER_BROKER,
    SRC_EH_KAFKA,
    SRC_MSK_DEFAULTS,
    SRC_MSK_GUIDANCE,
    TargetProfile,
    source_defaults,
)
from kmigrate.topic_configs import vendor_reason

COPIED, CONVERTED, DROPPED, REFUSED = "copied", "converted", "dropped", "refused"
CREATE, EXISTS, REFUSE = "create", "exists", "refuse"

#: Config sources as DescribeConfigs reports them (KIP-226 names, with and without ``_CONFIG``).
TOPIC_SOURCES = frozenset({"DYNAMIC_TOPIC_CONFIG", "DYNAMIC_TOPIC"})
BROKER_SOURCES = frozenset(
    {
        "STATIC_BROKER_CONFIG",
        "STATIC_BROKER",
        "DYNAMIC_BROKER_CONFIG",
        "DYNAMIC_BROKER",
        "DYNAMIC_DEFAULT_BROKER_CONFIG",
        "DYNAMIC_DEFAULT_BROKER",
    }
)
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


# --- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """One source topic config as the broker reported it.

    ``source`` is the DescribeConfigs source (``DYNAMIC_TOPIC_CONFIG``,
    ``DEFAULT_CONFIG``, ``STATIC_BROKER_CONFIG``, ...).  A plain string value in
    :class:`SourceTopic.configs` means an explicit topic value (a snapshot holds
    only those).
    """

    value: str | None
    source: str = "DYNAMIC_TOPIC_CONFIG"
    is_sensitive: bool = False


class TopicLike(Protocol):
    """What a snapshot topic offers: partitions, replication factor, ``{key: value}`` configs."""

    @property
    def partitions(self) -> int: ...

    @property
    def replication_factor(self) -> int: ...

    @property
    def configs(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class SourceTopic:
    """A source topic: partitions, replication factor (from Metadata), configs."""

    partitions: int
    replication_factor: int
    configs: Mapping[str, str | SourceConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class Accept:
    """A refusal the plan accepts: a topic glob and a key (``{topic: "event-*", key: ...}``)."""

    topic: str
    key: str

    def matches(self, topic: str, key: str) -> bool:
        """Whether this acceptance covers ``key`` of ``topic`` (``fnmatch`` glob on the topic)."""
        return self.key == key and fnmatch.fnmatchcase(topic, self.topic)


# --- outputs ----------------------------------------------------------------------------


@dataclass
class Decision:
    """What happens to one config key (or, for ``partitions``/``namespace``, the topic).

    ``target_key`` names the setting on the target when it differs from
    ``key`` (Event Hubs ARM properties such as ``retentionTimeInHours``).
    ``accepted`` is True for a refusal the plan accepted; the key is then not set.
    ``acceptable`` is False for a refusal no ``accept`` entry can lift.
    """

    key: str
    source_value: str | None
    target_value: str | None
    decision: str
    reason: str
    rule: str
    target_key: str | None = None
    accepted: bool = False
    acceptable: bool = True


@dataclass
class Note:
    """A warning about a topic or the whole translation, with the rule that raised it."""

    message: str
    rule: str


@dataclass
class TopicTranslation:
    """The translation of one topic (see the module docstring for the JSON shape)."""

    name: str
    action: str
    partitions: int
    replication_factor: int | None
    replication_factor_reason: str
    decisions: list[Decision] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)

    @property
    def configs(self) -> dict[str, str]:
        """Settings to apply on the target ``{target_key or key: value}`` (copied + converted)."""
        return {
            d.target_key or d.key: d.target_value
            for d in self.decisions
            if d.decision in (COPIED, CONVERTED) and d.target_value is not None
        }

    @property
    def refusals(self) -> list[Decision]:
        """Refusals that block the topic (not accepted)."""
        return [d for d in self.decisions if d.decision == REFUSED and not d.accepted]

    def to_dict(self) -> dict[str, object]:
        """The JSON contract of issue 5 (module docstring), plus ``configs``."""
        return {
            "name": self.name,
            "action": self.action,
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "replication_factor_reason": self.replication_factor_reason,
            "decisions": [asdict(d) for d in self.decisions],
            "warnings": [asdict(w) for w in self.warnings],
            "configs": self.configs,
        }


@dataclass
class Translation:
    """A whole selection: per topic, plus warnings about the whole target."""

    topics: list[TopicTranslation]
    warnings: list[Note] = field(default_factory=list)

    @property
    def refused(self) -> list[TopicTranslation]:
        """Topics whose action is ``refuse``."""
        return [t for t in self.topics if t.action == REFUSE]

    def to_dict(self) -> dict[str, object]:
        """``{"topics": [...], "warnings": [...]}``."""
        return {
            "topics": [t.to_dict() for t in self.topics],
            "warnings": [asdict(w) for w in self.warnings],
        }


# --- per-key rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyContext:
    """What a per-key rule sees: the topic, the source type, the target profile, all configs."""

    topic: str
    source_type: str
    profile: TargetProfile
    configs: Mapping[str, str]


#: A per-key rule: ``(key, value, ctx) -> (decision or None, warnings)``; None: not this rule's key.
KeyRule = Callable[[str, str, KeyContext], "tuple[Decision | None, list[Note]]"]

_NONE: tuple[Decision | None, list[Note]] = (None, [])


def _decide(
    rule: Callable[..., object],
    key: str,
    source: str | None,
    target: str | None,
    decision: str,
    reason: str,
    target_key: str | None = None,
    acceptable: bool = True,
) -> Decision:
    return Decision(
        key, source, target, decision, reason, rule.__name__, target_key, acceptable=acceptable
    )


def drop_vendor_keys(key: str, value: str, ctx: KeyContext) -> tuple[Decision | None, list[Note]]:
    """Redpanda's own keys (``redpanda.*``, ``write.caching``, ``flush.bytes``,
    ``retention.local.target.*``, ...; and Redpanda's ``flush.ms``, which bounds its
    write cache where Kafka's forces fsyncs) are dropped for every non-Redpanda target.
    Tiered-storage and Iceberg topics also get a warning.

    Source: redpanda-data/redpanda ``config_response_utils.cc`` and the Redpanda
    topic-properties reference (``../shared/docs/targets.md``, rule 2).
    """
    if ctx.profile.holds_vendor_keys:
        return _NONE
    reason = vendor_reason(key)
    if reason is None and ctx.source_type == "redpanda" and key == "flush.ms":
        reason = (
            "Redpanda's flush.ms bounds its write cache; Kafka's forces an fsync interval, "
            "which would slow the target"
        )
    if reason is None:
        return _NONE
    notes = []
    tiered = key.startswith(("redpanda.remote.", "redpanda.iceberg."))
    if tiered and value.lower() not in ("false", "disabled", ""):
        notes.append(
            Note(
                f"{ctx.topic}: the source uses tiered storage or Iceberg ({key}={value}); "
                "the target gets only what the mirror copies",
                drop_vendor_keys.__name__,
            )
        )
    return _decide(drop_vendor_keys, key, value, None, DROPPED, reason), notes


def convert_compression_none(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``compression.type=none`` (Redpanda's spelling) becomes ``uncompressed`` on
    every non-Redpanda target.

    Source: Apache Kafka TopicConfig ``compression.type`` values (producer, uncompressed,
    gzip, snappy, lz4, zstd); Redpanda topic-properties reference (``none``).
    """
    if key != "compression.type" or value != "none" or ctx.profile.holds_vendor_keys:
        return _NONE
    reason = "'none' is spelled 'uncompressed' on Apache Kafka"
    return _decide(convert_compression_none, key, value, "uncompressed", CONVERTED, reason), []


def keep_fixed_keys(key: str, value: str, ctx: KeyContext) -> tuple[Decision | None, list[Note]]:
    """A key the service fixes (Confluent Cloud: ``compression.type=producer``) is dropped;
    when the source had another value, a warning says so.

    Source: docs.confluent.io/cloud/current/topics/manage.html (compression.type not editable).
    """
    fixed = ctx.profile.fixed.get(key)
    if fixed is None:
        return _NONE
    reason = f"{ctx.profile.name} fixes {key}={fixed.value} ({fixed.source})"
    notes = []
    if value != fixed.value:
        notes.append(
            Note(
                f"{ctx.topic}: {key} was {value} on the source; the target keeps {fixed.value}, "
                "so records are stored as the mirror's producer compresses them",
                keep_fixed_keys.__name__,
            )
        )
    return _decide(keep_fixed_keys, key, value, None, DROPPED, reason), notes


def msk_serverless_keys(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """MSK Serverless sets only seven topic configs (cleanup.policy, compression.type,
    max.message.bytes, message.timestamp.difference.max.ms, message.timestamp.type,
    retention.bytes, retention.ms); ``segment.bytes`` is refused, ``max.message.bytes``
    above 8 MiB is refused, any other key is dropped.

    Source: docs.aws.amazon.com/msk/latest/developerguide/serverless-config.html.
    """
    if ctx.profile.name != "msk-serverless":
        return _NONE
    src = ctx.profile.settable_source
    if key == "segment.bytes":
        reason = f"MSK Serverless refuses segment.bytes ({src})"
        return _decide(msk_serverless_keys, key, value, None, REFUSED, reason), []
    limit = ctx.profile.limit("max_message_bytes")
    if key == "max.message.bytes" and limit is not None and _int(value) > limit.value:
        reason = (
            f"MSK Serverless allows max.message.bytes up to {limit.value} bytes ({limit.source})"
        )
        return _decide(msk_serverless_keys, key, value, None, REFUSED, reason), []
    if ctx.profile.settable is not None and key not in ctx.profile.settable:
        reason = f"MSK Serverless sets only {len(ctx.profile.settable)} topic configs ({src})"
        return _decide(msk_serverless_keys, key, value, None, DROPPED, reason), []
    return _NONE


def confluent_cloud_editable_keys(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """Confluent Cloud lets a client set only its editable topic configs; others are dropped.

    Source: docs.confluent.io/cloud/current/topics/manage.html (editable settings).
    """
    if ctx.profile.family != "confluent-cloud" or ctx.profile.settable is None:
        return _NONE
    if key in ctx.profile.settable:
        return _NONE
    reason = f"not editable on Confluent Cloud ({ctx.profile.settable_source})"
    return _decide(confluent_cloud_editable_keys, key, value, None, DROPPED, reason), []


# Event Hubs: each Kafka key maps to an ARM hub property, or has none.


def eventhubs_retention_hours(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``retention.ms`` becomes ``retentionTimeInHours``, rounded up; ``-1`` stays ``-1``
    (infinite, capped by the tier in size); above the tier's maximum it is refused.

    Source: learn.microsoft.com/azure/event-hubs/event-hubs-quotas (Standard 7 days,
    Premium and Dedicated 90 days); configure-event-hub-properties (retention hours).
    """
    if ctx.profile.family != "eventhubs" or key != "retention.ms":
        return _NONE
    target_key = "retentionTimeInHours"
    ms = _int(value)
    if ms < 0:
        reason = "infinite retention is retentionTimeInHours=-1 (bounded by the tier in size)"
        return _decide(
            eventhubs_retention_hours, key, value, "-1", CONVERTED, reason, target_key
        ), []
    hours = max(1, math.ceil(ms / HOUR_MS))
    limit = ctx.profile.limit("retention_ms_max")
    if limit is not None and ms > limit.value:
        reason = (
            f"{ms} ms is above {ctx.profile.name}'s maximum retention of "
            f"{limit.value // HOUR_MS} hours ({limit.source})"
        )
        return _decide(eventhubs_retention_hours, key, value, None, REFUSED, reason, target_key), []
    reason = f"{ms} ms -> {hours} hours (rounded up; Event Hubs keeps retention in hours)"
    return _decide(
        eventhubs_retention_hours, key, value, str(hours), CONVERTED, reason, target_key
    ), []


def eventhubs_retention_bytes_dropped(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``retention.bytes`` has no Event Hubs equivalent: dropped, with a warning
    (the hub keeps records by time only).

    Source: learn.microsoft.com/azure/event-hubs/apache-kafka-configurations; the
    ARM hub properties have retention by time only (configure-event-hub-properties).
    """
    if ctx.profile.family != "eventhubs" or key != "retention.bytes":
        return _NONE
    reason = "Event Hubs retains by time only; there is no size-based retention per hub"
    note = Note(
        f"{ctx.topic}: retention.bytes={value} is dropped; the hub keeps records by time only",
        eventhubs_retention_bytes_dropped.__name__,
    )
    return _decide(eventhubs_retention_bytes_dropped, key, value, None, DROPPED, reason), [note]


_CLEANUP = {
    "delete": "Delete",
    "compact": "Compact",
    "compact,delete": "DeleteOrCompact",
    "delete,compact": "DeleteOrCompact",
}


def eventhubs_cleanup_policy(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``cleanup.policy`` becomes the hub's ``cleanupPolicy``: delete -> Delete,
    compact -> Compact, compact,delete -> DeleteOrCompact (set only at creation).
    A compacted hub holds at most ``compacted_bytes_per_partition`` (1 GB per
    partition on Standard): a warning says so.

    Source: learn.microsoft.com/azure/event-hubs/log-compaction and
    configure-event-hub-properties; azure-mgmt-eventhub ``CleanupPolicyRetentionDescription``.
    """
    if ctx.profile.family != "eventhubs" or key != "cleanup.policy":
        return _NONE
    norm = ",".join(sorted(p.strip() for p in value.split(",") if p.strip()))
    mapped = _CLEANUP.get(norm)
    if mapped is None:
        reason = (
            f"Event Hubs has no cleanup policy for {value!r} (Delete, Compact, DeleteOrCompact)"
        )
        return _decide(
            eventhubs_cleanup_policy, key, value, None, REFUSED, reason, "cleanupPolicy"
        ), []
    notes = []
    cap = ctx.profile.limit("compacted_bytes_per_partition")
    if mapped != "Delete" and cap is not None:
        notes.append(
            Note(
                f"{ctx.topic}: a compacted hub on {ctx.profile.name} holds at most "
                f"{cap.value // (1024 * 1024)} MiB per partition ({cap.source})",
                eventhubs_cleanup_policy.__name__,
            )
        )
    reason = f"{value} is the hub cleanup policy {mapped} (fixed at creation)"
    return (
        _decide(eventhubs_cleanup_policy, key, value, mapped, CONVERTED, reason, "cleanupPolicy"),
        notes,
    )


def eventhubs_tombstone_hours(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``delete.retention.ms`` becomes ``tombstoneRetentionTimeInHours``, rounded up.

    Source: learn.microsoft.com/azure/event-hubs/log-compaction;
    azure-mgmt-eventhub ``RetentionDescription.tombstone_retention_time_in_hours``.
    """
    if ctx.profile.family != "eventhubs" or key != "delete.retention.ms":
        return _NONE
    ms = _int(value)
    hours = max(0, math.ceil(ms / HOUR_MS))
    reason = f"{ms} ms -> {hours} hours (rounded up)"
    target_key = "tombstoneRetentionTimeInHours"
    return _decide(
        eventhubs_tombstone_hours, key, value, str(hours), CONVERTED, reason, target_key
    ), []


def eventhubs_min_compaction_lag_minutes(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``min.compaction.lag.ms`` becomes ``minCompactionLagTimeInMinutes``, rounded up
    and capped at 2 days (2880 minutes); a capped value gets a warning.

    Source: learn.microsoft.com/azure/event-hubs/log-compaction; azure-mgmt-eventhub
    12.0.0 ``RetentionDescription.min_compaction_lag_time_in_minutes``.
    """
    if ctx.profile.family != "eventhubs" or key != "min.compaction.lag.ms":
        return _NONE
    ms = _int(value)
    minutes = max(0, math.ceil(ms / MINUTE_MS))
    cap = ctx.profile.limit("min_compaction_lag_ms_max")
    notes = []
    reason = f"{ms} ms -> {minutes} minutes (rounded up)"
    if cap is not None and minutes > cap.value // MINUTE_MS:
        minutes = cap.value // MINUTE_MS
        reason = f"{ms} ms -> {minutes} minutes (capped at 2 days; {cap.source})"
        notes.append(
            Note(
                f"{ctx.topic}: min.compaction.lag.ms={ms} is capped at {minutes} minutes",
                eventhubs_min_compaction_lag_minutes.__name__,
            )
        )
    target_key = "minCompactionLagTimeInMinutes"
    return (
        _decide(
            eventhubs_min_compaction_lag_minutes,
            key,
            value,
            str(minutes),
            CONVERTED,
            reason,
            target_key,
        ),
        notes,
    )


def eventhubs_create_time(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``message.timestamp.type`` becomes the hub's ``timestampType``: CreateTime -> Create,
    so mirrored records keep their source timestamps (the hub default is LogAppend);
    LogAppendTime -> LogAppend.

    Source: learn.microsoft.com/azure/event-hubs/configure-event-hub-properties;
    azure-mgmt-eventhub ``TimestampType`` ("LogAppend", "Create").
    """
    if ctx.profile.family != "eventhubs" or key != "message.timestamp.type":
        return _NONE
    if value == "LogAppendTime":
        reason = "LogAppendTime is the hub timestamp type LogAppend"
        return _decide(
            eventhubs_create_time, key, value, "LogAppend", CONVERTED, reason, "timestampType"
        ), []
    reason = (
        "CreateTime is the hub timestamp type Create, so mirrored records keep their "
        "source timestamps (the hub default LogAppend would overwrite them)"
    )
    return _decide(
        eventhubs_create_time, key, value, "Create", CONVERTED, reason, "timestampType"
    ), []


def eventhubs_max_message_bytes(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``max.message.bytes``: the Event Hubs record limit is fixed (about 1 MB,
    ``max.request.size`` < 1046528); a larger source limit is refused (such records
    could not be mirrored), a smaller one is dropped.

    Source: learn.microsoft.com/azure/event-hubs/apache-kafka-configurations.
    """
    if ctx.profile.family != "eventhubs" or key != "max.message.bytes":
        return _NONE
    limit = ctx.profile.limit("max_message_bytes")
    if limit is not None and _int(value) > limit.value:
        reason = f"Event Hubs takes records below {limit.value} bytes ({limit.source})"
        return _decide(eventhubs_max_message_bytes, key, value, None, REFUSED, reason), []
    reason = f"Event Hubs fixes the record size limit ({SRC_EH_KAFKA})"
    return _decide(eventhubs_max_message_bytes, key, value, None, DROPPED, reason), []


def eventhubs_no_equivalent(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """Any other key has no Event Hubs hub setting: dropped.

    Source: learn.microsoft.com/azure/event-hubs/apache-kafka-configurations (topic
    management through Kafka is not supported; hubs are ARM resources) and the ARM
    ``EventhubProperties`` fields.
    """
    if ctx.profile.family != "eventhubs":
        return _NONE
    reason = f"Event Hubs has no hub setting for {key}"
    return _decide(eventhubs_no_equivalent, key, value, None, DROPPED, reason), []


def copy_settable(key: str, value: str, ctx: KeyContext) -> tuple[Decision | None, list[Note]]:
    """A key the target can hold is copied as it is.

    Source: the target profile's ``settable`` keys (or any Kafka topic config, for Kafka,
    Redpanda and MSK Provisioned: kafka.apache.org/documentation/#topicconfigs).
    """
    reason = f"{ctx.profile.name} holds {key}"
    return _decide(copy_settable, key, value, value, COPIED, reason), []


#: The per-key rules, in the order they apply.  A ``converted`` result passes its new
#: value on to the next rule; ``copied``, ``dropped`` and ``refused`` end the chain.
KEY_RULES: tuple[KeyRule, ...] = (
    drop_vendor_keys,
    convert_compression_none,
    keep_fixed_keys,
    msk_serverless_keys,
    confluent_cloud_editable_keys,
    eventhubs_retention_hours,
    eventhubs_retention_bytes_dropped,
    eventhubs_cleanup_policy,
    eventhubs_tombstone_hours,
    eventhubs_min_compaction_lag_minutes,
    eventhubs_create_time,
    eventhubs_max_message_bytes,
    eventhubs_no_equivalent,
    copy_settable,
)


def decide_key(key: str, value: str, ctx: KeyContext) -> tuple[Decision, list[Note]]:
    """Run :data:`KEY_RULES` on one config; returns the decision and any warnings."""
    notes: list[Note] = []
    converted: Decision | None = None
    current = value
    for rule in KEY_RULES:
        try:
            decision, more = rule(key, current, ctx)
        except ValueError:
            reason = f"{current!r} is not a number, which {key} must be on {ctx.profile.name}"
            return _decide(rule, key, value, None, REFUSED, reason), notes
        notes += more
        if decision is None:
            continue
        if decision.decision == CONVERTED and decision.target_key is None:
            converted = decision
            current = decision.target_value or current
            continue
        if converted is not None and decision.rule == copy_settable.__name__:
            return converted, notes
        if converted is not None:
            decision.source_value = value
            if decision.decision in (COPIED, CONVERTED):
                decision.decision = CONVERTED
                decision.reason = f"{converted.reason}; {decision.reason}"
                decision.rule = f"{converted.rule}+{decision.rule}"
            else:
                decision.reason = f"{decision.reason} (after {converted.rule}: {converted.reason})"
        return decision, notes
    raise AssertionError("copy_settable always decides")  # pragma: no cover


# --- carrying source values -------------------------------------------------------------


def carry_source_values(
    configs: Mapping[str, str | SourceConfig], source_type: str, profile: TargetProfile
) -> dict[str, str]:
    """The source configs worth deciding about, as effective values ``{key: value}``.

    * explicit topic values (``DYNAMIC_TOPIC_CONFIG``, or a plain string, as a
      snapshot holds) are always carried;
    * ``kafka`` STATIC_BROKER / DYNAMIC_BROKER / DYNAMIC_DEFAULT_BROKER values
      (server.properties, ``KAFKA_*`` environment) are the topic's effective values:
      carried when they differ from the *target's* stock default;
    * ``redpanda`` DEFAULT_CONFIG values (where Redpanda hides cluster-level
      customisations) are carried when they differ from the *target's* stock default,
      or, for a key the target has no default for, from Redpanda's;
    * other DEFAULT values are carried only when they differ from the source's stock
      default (some brokers report explicit topic values as defaults).

    Sensitive and null values are never carried.

    Source: ``../shared/docs/targets.md`` (Sources; rule 1) and KIP-226 config sources.
    """
    src_defaults = source_defaults(source_type)
    out: dict[str, str] = {}
    for key, raw in sorted(configs.items()):
        entry = raw if isinstance(raw, SourceConfig) else SourceConfig(raw)
        if entry.value is None or entry.is_sensitive:
            continue
        value = entry.value
        target_default = profile.defaults.get(key)
        if entry.source in TOPIC_SOURCES:
            out[key] = value
        elif source_type == "kafka" and entry.source in BROKER_SOURCES:
            if value != target_default:
                out[key] = value
        elif source_type == "redpanda":
            baseline = target_default if target_default is not None else src_defaults.get(key)
            if value != baseline and value != "":
                out[key] = value
        elif value != src_defaults.get(key) and value != "":
            out[key] = value
    return out


# --- topic-level rules ------------------------------------------------------------------


def eventhubs_basic_refused(profile: TargetProfile) -> Decision | None:
    """An Event Hubs Basic namespace has no Kafka endpoint: every topic is refused.

    Source: learn.microsoft.com/azure/event-hubs/event-hubs-about (Kafka is not in Basic)
    and event-hubs-quotas (tier comparison).
    """
    if profile.kafka_endpoint.value:
        return None
    reason = f"{profile.name} has no Kafka endpoint ({profile.kafka_endpoint.source})"
    return _decide(
        eventhubs_basic_refused, "namespace", profile.name, None, REFUSED, reason, acceptable=False
    )


def partitions_within_tier_limit(partitions: int, profile: TargetProfile) -> Decision | None:
    """More partitions than the target allows per topic (Event Hubs: Standard 32,
    Premium 100, Dedicated 1024 per hub) is refused: the mirror keeps each record
    in its source partition, so the count cannot shrink.

    Source: learn.microsoft.com/azure/event-hubs/event-hubs-quotas.
    """
    limit = profile.limit("partitions_per_topic")
    if limit is None or partitions <= limit.value:
        return None
    reason = (
        f"{partitions} partitions is above {profile.name}'s limit of {limit.value} per "
        f"topic ({limit.source})"
    )
    return _decide(
        partitions_within_tier_limit,
        "partitions",
        str(partitions),
        None,
        REFUSED,
        reason,
        acceptable=False,
    )


def partitions_not_fewer(partitions: int, existing: int | None) -> Decision | None:
    """A target topic with fewer partitions than the source is refused on every target:
    the mirror could not keep each record in its source partition (and so its per-key order).

    Source: Kafka's partitioning contract (records of a key go to one partition;
    kafka.apache.org/documentation/#intro_concepts_and_terms); ``../shared/docs/targets.md`` rule 6.
    """
    if existing is None or existing >= partitions:
        return None
    reason = (
        f"the target already has {existing} partitions, the source {partitions}: fewer "
        "partitions cannot keep each record in its source partition"
    )
    return _decide(
        partitions_not_fewer,
        "partitions",
        str(partitions),
        str(existing),
        REFUSED,
        reason,
        acceptable=False,
    )


def replication_factor_for(
    source_rf: int,
    profile: TargetProfile,
    facts: Mapping[str, object],
    configs: Mapping[str, str],
    wanted: int | None = None,
) -> tuple[int | None, str, list[Note]]:
    """Dispatch to the replication-factor rule of the target's family.

    Returns ``(replication factor or None when the service has none, reason, warnings)``.
    """
    if profile.family == "eventhubs":
        return replication_factor_eventhubs(profile)
    fixed = profile.limit("replication_factor")
    if fixed is not None:
        return replication_factor_required(profile)
    if profile.family == "msk":
        return replication_factor_msk_provisioned(source_rf, profile, facts, configs, wanted)
    return replication_factor_capped(source_rf, facts, wanted)


def replication_factor_eventhubs(profile: TargetProfile) -> tuple[int | None, str, list[Note]]:
    """Event Hubs has no replication factor a client sets: the service replicates.

    Source: learn.microsoft.com/azure/event-hubs/apache-kafka-configurations.
    """
    return None, f"{profile.name} replicates internally; there is no replication factor", []


def replication_factor_required(profile: TargetProfile) -> tuple[int | None, str, list[Note]]:
    """Confluent Cloud requires replication factor 3 (PolicyViolationException otherwise);
    MSK Serverless manages replication itself (3).

    Source: docs.confluent.io/cloud/current/topics/manage.html; MSK serverless-config.html.
    """
    fixed = profile.limit("replication_factor")
    assert fixed is not None
    return (
        fixed.value,
        f"{profile.name} requires replication factor {fixed.value} ({fixed.source})",
        [],
    )


def replication_factor_msk_provisioned(
    source_rf: int,
    profile: TargetProfile,
    facts: Mapping[str, object],
    configs: Mapping[str, str],
    wanted: int | None = None,
) -> tuple[int | None, str, list[Note]]:
    """MSK Provisioned: RF = min(the plan's or the source's RF (3 when unknown), brokers);
    a warning when RF <= min.insync.replicas (MSK's default is 2 on a 3-AZ cluster):
    at RF == min.insync.replicas one broker down stops ``acks=all`` producers, below it
    they cannot write at all.

    Source: docs.aws.amazon.com/msk/latest/developerguide/msk-default-configuration.html
    (default.replication.factor 3, min.insync.replicas 2) and bestpractices.html.
    """
    default = profile.limit("replication_factor_default")
    base = wanted or source_rf or (default.value if default else 3)
    origin = "the plan's" if wanted else "the source's" if source_rf else "MSK's default"
    brokers = _opt_int(facts.get("broker_count"))
    rf = base if brokers is None else min(base, brokers)
    reason = f"{origin} replication factor {base}"
    if rf < base:
        reason += f", capped at the target's {brokers} brokers"
    min_isr = int(
        configs.get("min.insync.replicas", profile.defaults.get("min.insync.replicas", "1"))
    )
    notes = []
    if rf <= min_isr:
        effect = (
            "acks=all producers cannot write"
            if rf < min_isr
            else "one broker down stops acks=all producers"
        )
        notes.append(
            Note(
                f"replication factor {rf} <= min.insync.replicas {min_isr}: {effect} "
                f"({SRC_MSK_DEFAULTS})",
                replication_factor_msk_provisioned.__name__,
            )
        )
    return rf, reason, notes


def replication_factor_capped(
    source_rf: int, facts: Mapping[str, object], wanted: int | None = None
) -> tuple[int | None, str, list[Note]]:
    """Self-run Kafka or Redpanda: the plan's RF; else the larger of the source's and the
    target brokers' ``default.replication.factor`` (a move from a one-broker Compose
    source to a three-broker cluster gets the cluster's 3, not the source's 1); capped
    at the target's broker count (a topic cannot have more replicas than brokers).  A
    warning when the result is below the target's ``min.insync.replicas``: ``acks=all``
    producers, the mirror's among them, cannot write (NOT_ENOUGH_REPLICAS).

    Source: Apache Kafka CreateTopics (INVALID_REPLICATION_FACTOR when RF > brokers),
    kafka.apache.org/documentation/#brokerconfigs_default.replication.factor and
    #topicconfigs_min.insync.replicas.
    """
    default = _opt_int(facts.get("default_replication_factor"))
    if wanted:
        base, reason = wanted, f"the plan's replication factor {wanted}"
    elif default and default > source_rf:
        base = default
        reason = f"the target's default.replication.factor {default} (the source has {source_rf})"
    else:
        base, reason = source_rf, f"the source's replication factor {source_rf}"
    brokers = _opt_int(facts.get("broker_count"))
    rf = base if brokers is None else min(base, max(brokers, 1))
    if rf < base:
        reason += f", capped at the target's {brokers} brokers"
    notes = []
    min_isr = _opt_int(facts.get("min_insync_replicas"))
    if min_isr and rf < min_isr:
        notes.append(
            Note(
                f"replication factor {rf} < the target's min.insync.replicas {min_isr}: "
                "acks=all producers (the mirror's too) cannot write; set replication_factor "
                "on the step",
                replication_factor_capped.__name__,
            )
        )
    return rf, reason, notes


# --- one topic --------------------------------------------------------------------------

EVENTHUBS_EFFECTIVE_KEYS = ("cleanup.policy", "message.timestamp.type", "retention.ms")


def translate_topic(
    name: str,
    source_topic: TopicLike | SourceTopic,
    source_type: str,
    target_profile: TargetProfile,
    facts: Mapping[str, object] | None = None,
    accept: Sequence[Accept] = (),
    *,
    existing_partitions: int | None = None,
    replication_factor: int | None = None,
) -> TopicTranslation:
    """Translate one source topic for ``target_profile``.

    Args:
        name: the topic name.
        source_topic: partitions, replication factor and configs (a snapshot
            ``TopicSnapshot``, or a :class:`SourceTopic` with config sources).
        source_type: ``kafka`` or ``redpanda``.
        target_profile: from :func:`kmigrate.targets.profiles.profile_for`.
        facts: the target's declared or discovered facts (``broker_count``,
            ``broker_type``, ``processing_units``, ...).
        accept: refusals the plan accepts (topic glob and key).
        existing_partitions: the partition count of the topic already on the
            target, or None when it does not exist there.
        replication_factor: the plan's replication factor, if it sets one.

    Returns:
        The :class:`TopicTranslation`; ``action`` is ``refuse`` when any refusal is
        not accepted.  Pure: raises nothing for valid input.
    """
    facts = facts or {}
    profile = target_profile
    carried = carry_source_values(source_topic.configs, source_type, profile)
    if profile.family == "eventhubs":
        # The hub must be told these even when the source keeps its defaults.
        for key in EVENTHUBS_EFFECTIVE_KEYS:
            carried.setdefault(key, source_defaults(source_type)[key])
    ctx = KeyContext(name, source_type, profile, carried)
    decisions: list[Decision] = []
    notes: list[Note] = []
    for key, value in sorted(carried.items()):
        decision, more = decide_key(key, value, ctx)
        decisions.append(decision)
        notes += more
    if profile.family in ("kafka", "redpanda"):
        decisions += timestamp_bounds_kept(carried, source_type, facts)
    for topic_rule in (
        eventhubs_basic_refused(profile),
        partitions_within_tier_limit(source_topic.partitions, profile),
        partitions_not_fewer(source_topic.partitions, existing_partitions),
    ):
        if topic_rule is not None:
            decisions.append(topic_rule)
    rf, rf_reason, more = replication_factor_for(
        source_topic.replication_factor, profile, facts, carried, replication_factor
    )
    notes += more
    return _finish(
        TopicTranslation(
            name,
            CREATE,
            source_topic.partitions if existing_partitions is None else existing_partitions,
            rf,
            rf_reason,
            decisions,
            notes,
        ),
        accept,
        existing_partitions is not None,
    )


#: Topic key -> the fact holding the target brokers' default for it (read online by
#: provision-topics from ``log.message.timestamp.after.max.ms`` and ``...before...``).
TIMESTAMP_BOUND_FACTS = {
    "message.timestamp.after.max.ms": "timestamp_after_max_ms",
    "message.timestamp.before.max.ms": "timestamp_before_max_ms",
}


def timestamp_bounds_kept(
    carried: Mapping[str, str], source_type: str, facts: Mapping[str, object]
) -> list[Decision]:
    """Keep the source's timestamp bounds where the target's brokers are stricter.

    A broker refuses a record whose timestamp lies further ahead of (or behind) its
    clock than ``message.timestamp.after.max.ms`` (``before``) allows, with
    INVALID_TIMESTAMP.  Kafka 4.0 lowered the default of ``after`` from unbounded to
    one hour, so records a 3.x source holds (future-stamped by a producer's clock,
    or on purpose) would stop the mirror.  Where the target's broker default (a fact
    read online) is below the source topic's effective value, the created topic gets
    the source's value.

    Source: kafka.apache.org/documentation/#topicconfigs_message.timestamp.after.max.ms
    and KIP-937 (the 4.0 default of one hour).
    """
    out = []
    defaults = source_defaults(source_type)
    for key, fact in TIMESTAMP_BOUND_FACTS.items():
        target_default = _opt_int(facts.get(fact))
        if key in carried or target_default is None:
            continue
        effective = carried.get(key, defaults.get(key, str(2**63 - 1)))
        if int(effective) <= target_default:
            continue
        out.append(
            Decision(
                key,
                effective,
                effective,
                COPIED,
                f"the target's brokers default to {target_default} ms, the source topic has "
                f"{effective}: set, so that every source record is accepted",
                timestamp_bounds_kept.__name__,
            )
        )
    return out


def apply_accepts(translation: TopicTranslation, accept: Sequence[Accept]) -> None:
    """Mark refusals the plan accepts (per topic glob and key) as ``accepted``; the key is
    then not set on the target.  A refusal that cannot be accepted (``partitions``,
    ``namespace``) stays, with a warning that the acceptance was ignored.

    Source: issue 5 ("a refusal can be accepted per topic glob and key").
    """
    for d in translation.decisions:
        if d.decision != REFUSED:
            continue
        if not any(a.matches(translation.name, d.key) for a in accept):
            continue
        if d.acceptable:
            d.accepted = True
        else:
            translation.warnings.append(
                Note(
                    f"{translation.name}: the refusal of {d.key} cannot be accepted ({d.reason})",
                    apply_accepts.__name__,
                )
            )


def _finish(t: TopicTranslation, accept: Sequence[Accept], exists: bool) -> TopicTranslation:
    apply_accepts(t, accept)
    t.action = REFUSE if t.refusals else EXISTS if exists else CREATE
    return t


# --- the whole selection ----------------------------------------------------------------


def translate_topics(
    topics: Mapping[str, TopicLike | SourceTopic],
    source_type: str,
    target_profile: TargetProfile,
    facts: Mapping[str, object] | None = None,
    accept: Sequence[Accept] = (),
    *,
    existing: Mapping[str, int] | None = None,
    existing_topic_count: int | None = None,
    replication_factor: int | None = None,
) -> Translation:
    """Translate a selection of topics (sorted by name), then apply the cross-topic rules.

    Args:
        topics: ``{name: topic}``.
        existing: ``{name: partitions}`` of topics (hubs) already on the target.
        existing_topic_count: topics (hubs) already on the target in all, including
            ones not selected; defaults to ``len(existing)``.
        Others: as :func:`translate_topic`.
    """
    facts = facts or {}
    existing = existing or {}
    out = [
        translate_topic(
            name,
            topic,
            source_type,
            target_profile,
            facts,
            accept,
            existing_partitions=existing.get(name),
            replication_factor=replication_factor,
        )
        for name, topic in sorted(topics.items())
    ]
    count = len(existing) if existing_topic_count is None else existing_topic_count
    eventhubs_hub_limit(out, target_profile, facts, count)
    notes = partitions_per_cluster(out, target_profile, facts)
    notes += msk_partition_guidance(out, target_profile, facts)
    for t in out:
        t.action = REFUSE if t.refusals else t.action
    return Translation(out, notes)


def _units(facts: Mapping[str, object]) -> int:
    return _opt_int(facts.get("processing_units")) or _opt_int(facts.get("capacity_units")) or 1


def eventhubs_hub_limit(
    topics: list[TopicTranslation],
    profile: TargetProfile,
    facts: Mapping[str, object],
    existing_count: int,
) -> None:
    """Hubs above the namespace limit are refused (Standard 10, Premium 100 per
    processing unit, Dedicated 1,000), counting the hubs already there; the topics past
    the limit, in name order, are the ones refused.

    Source: learn.microsoft.com/azure/event-hubs/event-hubs-quotas.
    """
    limit = profile.limit("topics_per_cluster")
    if profile.family != "eventhubs" or limit is None:
        return
    allowed = limit.value * (_units(facts) if profile.name == "eventhubs-premium" else 1)
    used = existing_count
    for t in topics:
        if t.action != CREATE:
            continue
        used += 1
        if used > allowed:
            reason = (
                f"the namespace would hold {used} hubs; {profile.name} allows {allowed} "
                f"({limit.source})"
            )
            t.decisions.append(
                _decide(
                    eventhubs_hub_limit, "hubs", str(used), None, REFUSED, reason, acceptable=False
                )
            )


def partitions_per_cluster(
    topics: list[TopicTranslation], profile: TargetProfile, facts: Mapping[str, object]
) -> list[Note]:
    """Partitions across the cluster above the target's limit: refused for Event Hubs
    (Premium 200 per PU, Dedicated 2,000 per CU) and MSK Serverless (120); a warning
    for Confluent Cloud, whose published figures vary by doc version.

    Source: learn.microsoft.com/azure/event-hubs/event-hubs-quotas; MSK limits.html;
    docs.confluent.io/cloud/current/clusters/cluster-types.html.
    """
    limit = profile.limit("partitions_per_cluster")
    if limit is None:
        return []
    allowed = limit.value * (_units(facts) if profile.family == "eventhubs" else 1)
    total = _opt_int(facts.get("existing_partitions")) or 0
    notes = []
    for t in topics:
        if t.action != CREATE:
            continue
        total += t.partitions
        if total <= allowed:
            continue
        reason = (
            f"the target would hold {total} partitions; {profile.name} allows {allowed} "
            f"({limit.source})"
        )
        if profile.family == "confluent-cloud":
            notes.append(Note(f"{t.name}: {reason}", partitions_per_cluster.__name__))
        else:
            t.decisions.append(
                _decide(
                    partitions_per_cluster,
                    "partitions",
                    str(t.partitions),
                    None,
                    REFUSED,
                    reason,
                    acceptable=False,
                )
            )
    return notes


def msk_partition_guidance(
    topics: list[TopicTranslation], profile: TargetProfile, facts: Mapping[str, object]
) -> list[Note]:
    """MSK Provisioned: a warning when partitions x RF / brokers exceeds AWS's guidance
    for the broker size (kafka.t3.small 300; m5/m7g large-xlarge 1000; 2xlarge 2000;
    4xlarge and up 4000 partition replicas per broker).  Needs ``broker_count`` and
    ``broker_type`` facts.

    Source: docs.aws.amazon.com/msk/latest/developerguide/bestpractices.html.
    """
    if profile.name != "msk-provisioned":
        return []
    brokers = _opt_int(facts.get("broker_count"))
    guidance = MSK_PARTITIONS_PER_BROKER.get(str(facts.get("broker_type", "")))
    if not brokers or guidance is None:
        return []
    replicas = sum(t.partitions * (t.replication_factor or 1) for t in topics if t.action != REFUSE)
    replicas += _opt_int(facts.get("existing_partition_replicas")) or 0
    per_broker = math.ceil(replicas / brokers)
    if per_broker <= guidance.value:
        return []
    return [
        Note(
            f"{per_broker} partition replicas per broker is above AWS's guidance of "
            f"{guidance.value} for {facts.get('broker_type')} ({SRC_MSK_GUIDANCE})",
            msk_partition_guidance.__name__,
        )
    ]


#: Every rule, for listing them with their sources (``rule_catalogue``).
ALL_RULES: tuple[Callable[..., object], ...] = (
    *KEY_RULES,
    carry_source_values,
    eventhubs_basic_refused,
    partitions_within_tier_limit,
    partitions_not_fewer,
    replication_factor_eventhubs,
    replication_factor_required,
    replication_factor_msk_provisioned,
    replication_factor_capped,
    apply_accepts,
    eventhubs_hub_limit,
    partitions_per_cluster,
    msk_partition_guidance,
)


def rule_catalogue() -> list[dict[str, str]]:
    """Every rule as ``{"rule", "summary", "source"}``: its name, the first sentence of its
    docstring and the text after ``Source:``."""
    out = []
    for rule in ALL_RULES:
        doc = " ".join((rule.__doc__ or "").split())
        summary = doc.split(". ")[0].rstrip(".")
        _, _, source = doc.partition("Source: ")
        out.append({"rule": rule.__name__, "summary": summary, "source": source})
    return out


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return int(float(value))


def _opt_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    return int(str(value))


__all__ = [
    "COPIED",
    "CONVERTED",
    "DROPPED",
    "REFUSED",
    "CREATE",
    "EXISTS",
    "REFUSE",
    "ALL_RULES",
    "KEY_RULES",
    "rule_catalogue",
    "Accept",
    "Decision",
    "Note",
    "SourceConfig",
    "SourceTopic",
    "TopicTranslation",
    "Translation",
    "translate_topic",
    "translate_topics",
]

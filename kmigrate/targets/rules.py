"""The shared translation rules: the ones every target type runs.

One named function per rule; each docstring cites where its fact comes from
(the sources are collected in ``../shared/docs/targets.md`` and in
:mod:`kmigrate.targets.profiles`).  A rule that only one cluster type needs lives in
that type's module (``kmigrate/clusters/<type>``) and reaches the translation through
the type's :class:`~kmigrate.targets.profiles.TargetProfile` (``key_rules``,
``topic_rules``, ``replication_rule``, ``selection_rules``); a difference between
types that a shared rule must know is data on the profile, never a test of its type.
:mod:`kmigrate.targets.translate` applies them.  Pure: no cluster access, no vendor
SDK, no credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kmigrate.targets.model import (
    CONVERTED,
    COPIED,
    CREATE,
    DROPPED,
    NO_DECISION,
    REFUSED,
    Accept,
    Decision,
    KeyContext,
    Note,
    SourceConfig,
    TopicTranslation,
    capacity_units,
    decide,
    opt_int,
)
from kmigrate.targets.profiles import TargetProfile, source_defaults
from kmigrate.topic_configs import vendor_reason

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


def drop_vendor_keys(key: str, value: str, ctx: KeyContext) -> tuple[Decision | None, list[Note]]:
    """Redpanda's own keys (``redpanda.*``, ``write.caching``, ``flush.bytes``,
    ``retention.local.target.*``, ...; and Redpanda's ``flush.ms``, which bounds its
    write cache where Kafka's forces fsyncs) are dropped for every non-Redpanda target.
    Tiered-storage and Iceberg topics also get a warning.

    Source: redpanda-data/redpanda ``config_response_utils.cc`` and the Redpanda
    topic-properties reference (``../shared/docs/targets.md``, rule 2).
    """
    if ctx.profile.holds_vendor_keys:
        return NO_DECISION
    reason = vendor_reason(key)
    if reason is None and ctx.source_type == "redpanda" and key == "flush.ms":
        reason = (
            "Redpanda's flush.ms bounds its write cache; Kafka's forces an fsync interval, "
            "which would slow the target"
        )
    if reason is None:
        return NO_DECISION
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
    return decide(drop_vendor_keys, key, value, None, DROPPED, reason), notes


def convert_compression_none(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``compression.type=none`` (Redpanda's spelling) becomes ``uncompressed`` on
    every non-Redpanda target.

    Source: Apache Kafka TopicConfig ``compression.type`` values (producer, uncompressed,
    gzip, snappy, lz4, zstd); Redpanda topic-properties reference (``none``).
    """
    if key != "compression.type" or value != "none" or ctx.profile.holds_vendor_keys:
        return NO_DECISION
    reason = "'none' is spelled 'uncompressed' on Apache Kafka"
    return decide(convert_compression_none, key, value, "uncompressed", CONVERTED, reason), []


def keep_fixed_keys(key: str, value: str, ctx: KeyContext) -> tuple[Decision | None, list[Note]]:
    """A key the service fixes (Confluent Cloud: ``compression.type=producer``) is dropped;
    when the source had another value, a warning says so.

    Source: docs.confluent.io/cloud/current/topics/manage.html (compression.type not editable).
    """
    fixed = ctx.profile.fixed.get(key)
    if fixed is None:
        return NO_DECISION
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
    return decide(keep_fixed_keys, key, value, None, DROPPED, reason), notes


def copy_settable(key: str, value: str, ctx: KeyContext) -> tuple[Decision | None, list[Note]]:
    """A key the target can hold is copied as it is.

    Source: the target profile's ``settable`` keys (or any Kafka topic config, for Kafka,
    Redpanda and MSK Provisioned: kafka.apache.org/documentation/#topicconfigs).
    """
    reason = f"{ctx.profile.name} holds {key}"
    return decide(copy_settable, key, value, value, COPIED, reason), []


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
    return decide(
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
    return decide(
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
    """Dispatch to the replication-factor rule of the target: the type's own
    (``profile.replication_rule``), else the one the service requires, else the capped one.

    Returns ``(replication factor or None when the service has none, reason, warnings)``.
    """
    if profile.replication_rule is not None:
        return profile.replication_rule(source_rf, profile, facts, configs, wanted)
    fixed = profile.limit("replication_factor")
    if fixed is not None:
        return replication_factor_required(profile)
    return replication_factor_capped(source_rf, facts, wanted)


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
    default = opt_int(facts.get("default_replication_factor"))
    if wanted:
        base, reason = wanted, f"the plan's replication factor {wanted}"
    elif default and default > source_rf:
        base = default
        reason = f"the target's default.replication.factor {default} (the source has {source_rf})"
    else:
        base, reason = source_rf, f"the source's replication factor {source_rf}"
    brokers = opt_int(facts.get("broker_count"))
    rf = base if brokers is None else min(base, max(brokers, 1))
    if rf < base:
        reason += f", capped at the target's {brokers} brokers"
    notes = []
    min_isr = opt_int(facts.get("min_insync_replicas"))
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
        target_default = opt_int(facts.get(fact))
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
    allowed = limit.value * (capacity_units(facts) if profile.limits_per_unit else 1)
    total = opt_int(facts.get("existing_partitions")) or 0
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
        if profile.cluster_partitions_warn:
            notes.append(Note(f"{t.name}: {reason}", partitions_per_cluster.__name__))
        else:
            t.decisions.append(
                decide(
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


#: The shared rules, for listing them with their sources (the cluster types add theirs:
#: :func:`kmigrate.clusters.registry.rule_catalogue`).
SHARED_RULES: tuple[Callable[..., object], ...] = (
    drop_vendor_keys,
    convert_compression_none,
    keep_fixed_keys,
    copy_settable,
    carry_source_values,
    partitions_within_tier_limit,
    partitions_not_fewer,
    replication_factor_required,
    replication_factor_capped,
    apply_accepts,
    partitions_per_cluster,
)

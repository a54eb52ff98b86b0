"""Event Hubs as a translation target: its tiers' profiles and the rules only it needs.

Each Kafka topic config maps to an ARM hub property, or has none; hubs have no
replication factor a client sets; a namespace holds a limited number of hubs.

Sources: learn.microsoft.com/azure/event-hubs/event-hubs-quotas,
apache-kafka-configurations, log-compaction, configure-event-hub-properties and
event-hubs-about (each fact below names its own).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from kmigrate.targets.model import (
    CONVERTED,
    CREATE,
    DROPPED,
    NO_DECISION,
    REFUSED,
    Decision,
    KeyContext,
    KeyRule,
    Note,
    TopicTranslation,
    capacity_units,
    decide,
    to_int,
)
from kmigrate.targets.profiles import DAY_MS, MIB, Fact, TargetProfile, frozen

HOUR_MS = 3_600_000
MINUTE_MS = 60_000

SRC_EH_QUOTAS = "learn.microsoft.com/azure/event-hubs/event-hubs-quotas"
SRC_EH_KAFKA = "learn.microsoft.com/azure/event-hubs/apache-kafka-configurations"
SRC_EH_TIERS = "learn.microsoft.com/azure/event-hubs/event-hubs-about (Kafka: not in Basic)"
SRC_EH_COMPACTION = "learn.microsoft.com/azure/event-hubs/log-compaction"
SRC_EH_TIMESTAMP = "learn.microsoft.com/azure/event-hubs/configure-event-hub-properties"


def eventhubs_retention_hours(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``retention.ms`` becomes ``retentionTimeInHours``, rounded up; ``-1`` stays ``-1``
    (infinite, capped by the tier in size); above the tier's maximum it is refused.

    Source: learn.microsoft.com/azure/event-hubs/event-hubs-quotas (Standard 7 days,
    Premium and Dedicated 90 days); configure-event-hub-properties (retention hours).
    """
    if key != "retention.ms":
        return NO_DECISION
    target_key = "retentionTimeInHours"
    ms = to_int(value)
    if ms < 0:
        reason = "infinite retention is retentionTimeInHours=-1 (bounded by the tier in size)"
        return decide(
            eventhubs_retention_hours, key, value, "-1", CONVERTED, reason, target_key
        ), []
    hours = max(1, math.ceil(ms / HOUR_MS))
    limit = ctx.profile.limit("retention_ms_max")
    if limit is not None and ms > limit.value:
        reason = (
            f"{ms} ms is above {ctx.profile.name}'s maximum retention of "
            f"{limit.value // HOUR_MS} hours ({limit.source})"
        )
        return decide(eventhubs_retention_hours, key, value, None, REFUSED, reason, target_key), []
    reason = f"{ms} ms -> {hours} hours (rounded up; Event Hubs keeps retention in hours)"
    return decide(
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
    if key != "retention.bytes":
        return NO_DECISION
    reason = "Event Hubs retains by time only; there is no size-based retention per hub"
    note = Note(
        f"{ctx.topic}: retention.bytes={value} is dropped; the hub keeps records by time only",
        eventhubs_retention_bytes_dropped.__name__,
    )
    return decide(eventhubs_retention_bytes_dropped, key, value, None, DROPPED, reason), [note]


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
    if key != "cleanup.policy":
        return NO_DECISION
    norm = ",".join(sorted(p.strip() for p in value.split(",") if p.strip()))
    mapped = _CLEANUP.get(norm)
    if mapped is None:
        reason = (
            f"Event Hubs has no cleanup policy for {value!r} (Delete, Compact, DeleteOrCompact)"
        )
        return decide(
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
        decide(eventhubs_cleanup_policy, key, value, mapped, CONVERTED, reason, "cleanupPolicy"),
        notes,
    )


def eventhubs_tombstone_hours(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """``delete.retention.ms`` becomes ``tombstoneRetentionTimeInHours``, rounded up.

    Source: learn.microsoft.com/azure/event-hubs/log-compaction;
    azure-mgmt-eventhub ``RetentionDescription.tombstone_retention_time_in_hours``.
    """
    if key != "delete.retention.ms":
        return NO_DECISION
    ms = to_int(value)
    hours = max(0, math.ceil(ms / HOUR_MS))
    reason = f"{ms} ms -> {hours} hours (rounded up)"
    target_key = "tombstoneRetentionTimeInHours"
    return decide(
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
    if key != "min.compaction.lag.ms":
        return NO_DECISION
    ms = to_int(value)
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
        decide(
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
    if key != "message.timestamp.type":
        return NO_DECISION
    if value == "LogAppendTime":
        reason = "LogAppendTime is the hub timestamp type LogAppend"
        return decide(
            eventhubs_create_time, key, value, "LogAppend", CONVERTED, reason, "timestampType"
        ), []
    reason = (
        "CreateTime is the hub timestamp type Create, so mirrored records keep their "
        "source timestamps (the hub default LogAppend would overwrite them)"
    )
    return decide(
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
    if key != "max.message.bytes":
        return NO_DECISION
    limit = ctx.profile.limit("max_message_bytes")
    if limit is not None and to_int(value) > limit.value:
        reason = f"Event Hubs takes records below {limit.value} bytes ({limit.source})"
        return decide(eventhubs_max_message_bytes, key, value, None, REFUSED, reason), []
    reason = f"Event Hubs fixes the record size limit ({SRC_EH_KAFKA})"
    return decide(eventhubs_max_message_bytes, key, value, None, DROPPED, reason), []


def eventhubs_no_equivalent(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """Any other key has no Event Hubs hub setting: dropped.

    Source: learn.microsoft.com/azure/event-hubs/apache-kafka-configurations (topic
    management through Kafka is not supported; hubs are ARM resources) and the ARM
    ``EventhubProperties`` fields.
    """
    reason = f"Event Hubs has no hub setting for {key}"
    return decide(eventhubs_no_equivalent, key, value, None, DROPPED, reason), []


def eventhubs_basic_refused(profile: TargetProfile) -> Decision | None:
    """An Event Hubs Basic namespace has no Kafka endpoint: every topic is refused.

    Source: learn.microsoft.com/azure/event-hubs/event-hubs-about (Kafka is not in Basic)
    and event-hubs-quotas (tier comparison).
    """
    if profile.kafka_endpoint.value:
        return None
    reason = f"{profile.name} has no Kafka endpoint ({profile.kafka_endpoint.source})"
    return decide(
        eventhubs_basic_refused, "namespace", profile.name, None, REFUSED, reason, acceptable=False
    )


def replication_factor_eventhubs(
    source_rf: int,
    profile: TargetProfile,
    facts: Mapping[str, object],
    configs: Mapping[str, str],
    wanted: int | None = None,
) -> tuple[int | None, str, list[Note]]:
    """Event Hubs has no replication factor a client sets: the service replicates.

    The source's, the plan's and the facts are not needed (the signature is
    :attr:`~kmigrate.targets.profiles.TargetProfile.replication_rule`'s).

    Source: learn.microsoft.com/azure/event-hubs/apache-kafka-configurations.
    """
    return None, f"{profile.name} replicates internally; there is no replication factor", []


#: The hub must be told these even when the source keeps its defaults.
EVENTHUBS_EFFECTIVE_KEYS = ("cleanup.policy", "message.timestamp.type", "retention.ms")


def eventhubs_hub_limit(
    topics: list[TopicTranslation],
    profile: TargetProfile,
    facts: Mapping[str, object],
    existing_count: int,
) -> list[Note]:
    """Hubs above the namespace limit are refused (Standard 10, Premium 100 per
    processing unit, Dedicated 1,000), counting the hubs already there; the topics past
    the limit, in name order, are the ones refused.

    Source: learn.microsoft.com/azure/event-hubs/event-hubs-quotas.
    """
    limit = profile.limit("topics_per_cluster")
    if limit is None:
        return []
    allowed = limit.value * (capacity_units(facts) if profile.name == "eventhubs-premium" else 1)
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
                decide(
                    eventhubs_hub_limit, "hubs", str(used), None, REFUSED, reason, acceptable=False
                )
            )
    return []


#: Event Hubs' own per-key rules, in the order they apply.
KEY_RULES: tuple[KeyRule, ...] = (
    eventhubs_retention_hours,
    eventhubs_retention_bytes_dropped,
    eventhubs_cleanup_policy,
    eventhubs_tombstone_hours,
    eventhubs_min_compaction_lag_minutes,
    eventhubs_create_time,
    eventhubs_max_message_bytes,
    eventhubs_no_equivalent,
)


#: Event Hubs: the Kafka topic configs that have an ARM hub setting (the rest have none).
#: Source: :data:`SRC_EH_TIMESTAMP` and :data:`SRC_EH_COMPACTION`.
EVENTHUBS_KEYS = frozenset(
    {
        "cleanup.policy",
        "retention.ms",
        "delete.retention.ms",
        "min.compaction.lag.ms",
        "message.timestamp.type",
    }
)


_EH_DEFAULTS = frozen({"cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"})


def _eventhubs(tier: str, limits: Mapping[str, Fact[int]], kafka: bool) -> TargetProfile:
    """The profile of one tier: its limits, and whether it has a Kafka endpoint."""
    return TargetProfile(
        name=f"eventhubs-{tier}",
        family="eventhubs",
        defaults=_EH_DEFAULTS,
        defaults_source=f"{SRC_EH_TIMESTAMP} (timestamp type LogAppend by default)",
        settable=EVENTHUBS_KEYS,
        settable_source=f"{SRC_EH_TIMESTAMP}; {SRC_EH_COMPACTION}",
        limits=MappingProxyType(
            {
                "max_message_bytes": Fact(1_046_528, SRC_EH_KAFKA),
                "min_compaction_lag_ms_max": Fact(2 * DAY_MS, SRC_EH_COMPACTION),
                **limits,
            }
        ),
        kafka_endpoint=Fact(kafka, SRC_EH_TIERS),
        key_rules=KEY_RULES,
        topic_rules=(eventhubs_basic_refused,),
        replication_rule=replication_factor_eventhubs,
        selection_rules=(eventhubs_hub_limit,),
        told_at_defaults=EVENTHUBS_EFFECTIVE_KEYS,
        limits_per_unit=True,
        kafka_topic_configs=False,
    )


#: The profiles by declared ``facts.tier``.
PROFILES: Mapping[str, TargetProfile] = {
    "basic": _eventhubs("basic", {}, kafka=False),
    "standard": _eventhubs(
        "standard",
        {
            "partitions_per_topic": Fact(32, SRC_EH_QUOTAS),
            "topics_per_cluster": Fact(10, SRC_EH_QUOTAS),
            "retention_ms_max": Fact(7 * DAY_MS, SRC_EH_QUOTAS),
            "compacted_bytes_per_partition": Fact(1024 * MIB, SRC_EH_COMPACTION),
        },
        kafka=True,
    ),
    "premium": _eventhubs(
        "premium",
        {
            "partitions_per_topic": Fact(100, SRC_EH_QUOTAS),
            "topics_per_cluster": Fact(100, f"{SRC_EH_QUOTAS} (per processing unit)"),
            "partitions_per_cluster": Fact(200, f"{SRC_EH_QUOTAS} (per processing unit)"),
            "retention_ms_max": Fact(90 * DAY_MS, SRC_EH_QUOTAS),
            "compacted_bytes_per_partition": Fact(250 * 1024 * MIB, SRC_EH_COMPACTION),
        },
        kafka=True,
    ),
    "dedicated": _eventhubs(
        "dedicated",
        {
            "partitions_per_topic": Fact(1024, SRC_EH_QUOTAS),
            "topics_per_cluster": Fact(1000, SRC_EH_QUOTAS),
            "partitions_per_cluster": Fact(2000, f"{SRC_EH_QUOTAS} (per capacity unit)"),
            "retention_ms_max": Fact(90 * DAY_MS, SRC_EH_QUOTAS),
            "compacted_bytes_per_partition": Fact(250 * 1024 * MIB, SRC_EH_COMPACTION),
        },
        kafka=True,
    ),
}

"""Target profiles: what each cluster type holds, as data with a source per fact.

A :class:`TargetProfile` gives, for one cluster type (and tier or cluster
kind), its stock topic defaults, the topic config keys it lets a client set,
values it fixes, and its limits.  Every limit is a :class:`Fact` naming where
the value comes from, so a rule that refuses a topic can say why and cite it.

Pure data and lookups: no cluster access, no vendor SDK.  The Kafka and
Redpanda defaults are the ones :mod:`kmigrate.topic_configs` already holds.

Profile names: ``kafka``, ``redpanda``, ``msk-provisioned``, ``msk-serverless``,
``eventhubs-basic|standard|premium|dedicated``,
``confluent-cloud-basic|standard|enterprise|dedicated``.  :func:`profile_for`
maps a plan's ``type`` and declared ``facts`` to one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

from kmigrate.errors import UsageError
from kmigrate.topic_configs import KAFKA_DEFAULTS, REDPANDA_DEFAULTS

T = TypeVar("T")

# Sources, named once and cited by every fact below.
SRC_KAFKA = (
    "Apache Kafka 3.8 LogConfig.java / TopicConfig.java "
    "(kafka.apache.org/documentation/#topicconfigs)"
)
SRC_REDPANDA = (
    "redpanda-data/redpanda src/v/kafka/server/handlers/configs/config_response_utils.cc; "
    "docs.redpanda.com reference/properties/topic-properties"
)
SRC_MSK_DEFAULTS = "docs.aws.amazon.com/msk/latest/developerguide/msk-default-configuration.html"
SRC_MSK_GUIDANCE = (
    "docs.aws.amazon.com/msk/latest/developerguide/bestpractices.html "
    "(right-size your cluster: number of partitions per broker)"
)
SRC_MSK_SERVERLESS = "docs.aws.amazon.com/msk/latest/developerguide/serverless-config.html"
SRC_MSK_SERVERLESS_QUOTA = (
    "docs.aws.amazon.com/msk/latest/developerguide/limits.html (serverless quota)"
)
SRC_EH_QUOTAS = "learn.microsoft.com/azure/event-hubs/event-hubs-quotas"
SRC_EH_KAFKA = "learn.microsoft.com/azure/event-hubs/apache-kafka-configurations"
SRC_EH_TIERS = "learn.microsoft.com/azure/event-hubs/event-hubs-about (Kafka: not in Basic)"
SRC_EH_COMPACTION = "learn.microsoft.com/azure/event-hubs/log-compaction"
SRC_EH_TIMESTAMP = "learn.microsoft.com/azure/event-hubs/configure-event-hub-properties"
SRC_CC_CONFIGS = "docs.confluent.io/cloud/current/topics/manage.html (editable topic configs)"
SRC_CC_LIMITS = "docs.confluent.io/cloud/current/clusters/cluster-types.html"

MIB = 1024 * 1024
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Fact(Generic[T]):
    """One fact about a target: its ``value`` and the ``source`` (doc page or code) of it."""

    value: T
    source: str


@dataclass(frozen=True)
class TargetProfile:
    """What one kind of target cluster holds.

    Attributes:
        name: the profile name (``msk-provisioned``, ``eventhubs-standard``, ...).
        family: the plan ``type`` it belongs to (``kafka``, ``redpanda``, ``msk``,
            ``eventhubs``, ``confluent-cloud``).
        defaults: stock topic config values ``{key: value}`` (strings, as Kafka
            reports them); a source value equal to these needs no setting.
        defaults_source: where ``defaults`` come from.
        settable: topic config keys a client may set, or None for "any Kafka
            topic config key".
        settable_source: where ``settable`` comes from.
        fixed: keys the service fixes ``{key: value}``; a different source value
            cannot be kept.
        limits: named limits, each a :class:`Fact`.  Keys used by the rules:
            ``partitions_per_topic`` (partitions), ``topics_per_cluster``
            (topics or hubs per namespace), ``partitions_per_cluster``
            (partitions), ``retention_ms_max`` (ms), ``max_message_bytes``
            (bytes), ``replication_factor`` (required replicas),
            ``min_compaction_lag_ms_max`` (ms), ``compacted_bytes_per_partition`` (bytes).
        kafka_endpoint: whether the service has a Kafka endpoint at all.
        holds_vendor_keys: whether Redpanda's own keys (``redpanda.*``,
            ``write.caching``, ...) can be set on it.
    """

    name: str
    family: str
    defaults: Mapping[str, str]
    defaults_source: str
    settable: frozenset[str] | None = None
    settable_source: str = ""
    fixed: Mapping[str, Fact[str]] = field(default_factory=dict)
    limits: Mapping[str, Fact[int]] = field(default_factory=dict)
    kafka_endpoint: Fact[bool] = Fact(True, "")
    holds_vendor_keys: bool = False

    def limit(self, name: str) -> Fact[int] | None:
        """The limit called ``name`` (see the class docstring), or None when there is none."""
        return self.limits.get(name)


def _frozen(d: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(d))


#: MSK Provisioned partition guidance: broker instance size -> partitions per broker
#: (leaders and followers).  Source: :data:`SRC_MSK_GUIDANCE`.
MSK_PARTITIONS_PER_BROKER: Mapping[str, Fact[int]] = MappingProxyType(
    {
        "kafka.t3.small": Fact(300, SRC_MSK_GUIDANCE),
        "kafka.m5.large": Fact(1000, SRC_MSK_GUIDANCE),
        "kafka.m5.xlarge": Fact(1000, SRC_MSK_GUIDANCE),
        "kafka.m7g.large": Fact(1000, SRC_MSK_GUIDANCE),
        "kafka.m7g.xlarge": Fact(1000, SRC_MSK_GUIDANCE),
        "kafka.m5.2xlarge": Fact(2000, SRC_MSK_GUIDANCE),
        "kafka.m7g.2xlarge": Fact(2000, SRC_MSK_GUIDANCE),
        "kafka.m5.4xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m7g.4xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m5.8xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m7g.8xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m5.12xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m7g.12xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m5.16xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m7g.16xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m5.24xlarge": Fact(4000, SRC_MSK_GUIDANCE),
    }
)

#: MSK Serverless: the only topic configs a client may set.  Source: :data:`SRC_MSK_SERVERLESS`.
MSK_SERVERLESS_KEYS = frozenset(
    {
        "cleanup.policy",
        "compression.type",
        "max.message.bytes",
        "message.timestamp.difference.max.ms",
        "message.timestamp.type",
        "retention.bytes",
        "retention.ms",
    }
)

#: Confluent Cloud: the topic configs a client may edit.  Source: :data:`SRC_CC_CONFIGS`.
CONFLUENT_CLOUD_KEYS = frozenset(
    {
        "cleanup.policy",
        "delete.retention.ms",
        "max.message.bytes",
        "max.compaction.lag.ms",
        "message.timestamp.difference.max.ms",
        "message.timestamp.type",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.ms",
        "confluent.key.schema.validation",
        "confluent.value.schema.validation",
        "confluent.key.subject.name.strategy",
        "confluent.value.subject.name.strategy",
    }
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

_KAFKA = TargetProfile(
    name="kafka",
    family="kafka",
    defaults=_frozen(KAFKA_DEFAULTS),
    defaults_source=SRC_KAFKA,
    kafka_endpoint=Fact(True, SRC_KAFKA),
)
_REDPANDA = TargetProfile(
    name="redpanda",
    family="redpanda",
    defaults=_frozen(REDPANDA_DEFAULTS),
    defaults_source=SRC_REDPANDA,
    kafka_endpoint=Fact(True, SRC_REDPANDA),
    holds_vendor_keys=True,
)
_MSK_PROVISIONED = TargetProfile(
    name="msk-provisioned",
    family="msk",
    defaults=_frozen({**KAFKA_DEFAULTS, "min.insync.replicas": "2"}),
    defaults_source=f"{SRC_KAFKA}; MSK overrides: {SRC_MSK_DEFAULTS} (3-AZ cluster)",
    limits=MappingProxyType({"replication_factor_default": Fact(3, SRC_MSK_DEFAULTS)}),
    kafka_endpoint=Fact(True, SRC_MSK_DEFAULTS),
)
_MSK_SERVERLESS = TargetProfile(
    name="msk-serverless",
    family="msk",
    defaults=_frozen({**KAFKA_DEFAULTS, "retention.bytes": str(250 * 1024 * MIB)}),
    defaults_source=f"{SRC_KAFKA}; {SRC_MSK_SERVERLESS_QUOTA} (retention.bytes 250 GiB)",
    settable=MSK_SERVERLESS_KEYS,
    settable_source=SRC_MSK_SERVERLESS,
    limits=MappingProxyType(
        {
            "max_message_bytes": Fact(8 * MIB, SRC_MSK_SERVERLESS),
            "partitions_per_cluster": Fact(120, SRC_MSK_SERVERLESS_QUOTA),
            "replication_factor": Fact(3, SRC_MSK_SERVERLESS),
        }
    ),
    kafka_endpoint=Fact(True, SRC_MSK_SERVERLESS),
)

_EH_DEFAULTS = _frozen({"cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"})


def _eventhubs(tier: str, limits: Mapping[str, Fact[int]], kafka: bool) -> TargetProfile:
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
    )


_EVENTHUBS = {
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


def _confluent(kind: str, partitions: int) -> TargetProfile:
    return TargetProfile(
        name=f"confluent-cloud-{kind}",
        family="confluent-cloud",
        defaults=_frozen(
            {
                **KAFKA_DEFAULTS,
                "max.message.bytes": "2097164",
                "min.insync.replicas": "2",
                "segment.bytes": "104857600",
                "retention.ms": "604800000",
            }
        ),
        defaults_source=f"{SRC_KAFKA}; Confluent Cloud overrides: {SRC_CC_CONFIGS}",
        settable=CONFLUENT_CLOUD_KEYS,
        settable_source=SRC_CC_CONFIGS,
        fixed=MappingProxyType({"compression.type": Fact("producer", SRC_CC_CONFIGS)}),
        limits=MappingProxyType(
            {
                "replication_factor": Fact(3, SRC_CC_CONFIGS),
                "partitions_per_cluster": Fact(partitions, SRC_CC_LIMITS),
            }
        ),
        kafka_endpoint=Fact(True, SRC_CC_CONFIGS),
    )


_CONFLUENT = {
    "basic": _confluent("basic", 4096),
    "standard": _confluent("standard", 4096),
    "enterprise": _confluent("enterprise", 5000),
    "dedicated": _confluent("dedicated", 100_000),
}

#: Every profile by name.
PROFILES: Mapping[str, TargetProfile] = MappingProxyType(
    {
        p.name: p
        for p in (
            _KAFKA,
            _REDPANDA,
            _MSK_PROVISIONED,
            _MSK_SERVERLESS,
            *_EVENTHUBS.values(),
            *_CONFLUENT.values(),
        )
    }
)

#: Plan ``type`` -> the ``facts`` key that picks the profile, and its allowed values.
FAMILIES: Mapping[str, tuple[str | None, tuple[str, ...]]] = MappingProxyType(
    {
        "kafka": (None, ()),
        "redpanda": (None, ()),
        "msk": ("cluster_type", ("provisioned", "serverless")),
        "eventhubs": ("tier", ("basic", "standard", "premium", "dedicated")),
        "confluent-cloud": ("cluster_type", ("basic", "standard", "enterprise", "dedicated")),
    }
)


def profile_for(cluster_type: str, facts: Mapping[str, object] | None = None) -> TargetProfile:
    """The profile for a plan's cluster ``type`` and its declared ``facts``.

    ``msk`` and ``confluent-cloud`` read ``facts["cluster_type"]``, ``eventhubs``
    reads ``facts["tier"]``; ``kafka`` and ``redpanda`` need none.

    Raises:
        UsageError: unknown type, or a missing or unknown fact (the message
            names the allowed values).
    """
    facts = facts or {}
    if cluster_type not in FAMILIES:
        raise UsageError(
            f"unknown cluster type {cluster_type!r}; expected one of: {', '.join(FAMILIES)}"
        )
    key, allowed = FAMILIES[cluster_type]
    if key is None:
        return PROFILES[cluster_type]
    value = facts.get(key)
    if value is None:
        raise UsageError(
            f"a {cluster_type} target needs facts.{key} (one of: {', '.join(allowed)})"
        )
    kind = str(value).lower()
    if kind not in allowed:
        raise UsageError(
            f"{cluster_type} facts.{key}: expected one of {', '.join(allowed)}; found {value!r}"
        )
    prefix = {"msk": "msk", "eventhubs": "eventhubs", "confluent-cloud": "confluent-cloud"}
    return PROFILES[f"{prefix[cluster_type]}-{kind}"]


def source_defaults(source_type: str) -> Mapping[str, str]:
    """Stock topic defaults of a source cluster type (``kafka`` or ``redpanda``)."""
    return REDPANDA_DEFAULTS if source_type == "redpanda" else KAFKA_DEFAULTS

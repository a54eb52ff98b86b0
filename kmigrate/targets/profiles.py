"""Target profiles: what each cluster type holds, as data with a source per fact.

A :class:`TargetProfile` gives, for one cluster type (and tier or cluster
kind), its stock topic defaults, the topic config keys it lets a client set,
values it fixes, and its limits.  Every limit is a :class:`Fact` naming where
the value comes from, so a rule that refuses a topic can say why and cite it.

Pure data: no cluster access, no vendor SDK.  Each cluster type's module
(``kmigrate/clusters/<type>``) defines its profiles, with the rules only that type
needs; :func:`kmigrate.clusters.registry.profile_for` maps a plan's ``type`` and
declared ``facts`` to one of them.  Profile names: ``kafka``, ``redpanda``,
``msk-provisioned``, ``msk-serverless``, ``eventhubs-basic|standard|premium|dedicated``,
``confluent-cloud-basic|standard|enterprise|dedicated``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

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
        key_rules: the type's own per-key rules ``(key, value, KeyContext) ->
            (Decision | None, [Note])``, run after the shared ones and before
            ``copy_settable`` (:func:`kmigrate.targets.translate.key_rules`).
        topic_rules: the type's own per-topic rules ``(profile) -> Decision | None``,
            run before the shared partition rules.
        replication_rule: the type's own replication-factor rule ``(source_rf, profile,
            facts, configs, wanted) -> (rf | None, reason, [Note])``, or None for the
            shared ones (:func:`kmigrate.targets.rules.replication_factor_for`).
        selection_rules: the type's own rules across a selection ``(topics, profile,
            facts, existing topic count) -> [Note]`` (they may add refusals to topics),
            run before the shared ``partitions_per_cluster``.
        told_at_defaults: config keys the target must be given even when the source
            keeps its stock default (a hub's defaults differ from Kafka's).
        self_run: whether the target's brokers' own defaults are read online
            (``default.replication.factor``, ``min.insync.replicas``, timestamp
            bounds), rather than declared by a service's documentation.
        broker_counted: whether its broker count (from Metadata when not declared)
            caps the replication factor.
        limits_per_unit: whether ``partitions_per_cluster`` scales with the declared
            ``processing_units`` / ``capacity_units``.
        cluster_partitions_warn: whether going over ``partitions_per_cluster`` is a
            warning (published figures vary) rather than a refusal.
        kafka_topic_configs: whether existing topics' configs are read through the
            Kafka API (DescribeConfigs) to show how they differ.
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
    key_rules: tuple[Callable[..., Any], ...] = ()
    topic_rules: tuple[Callable[..., Any], ...] = ()
    replication_rule: Callable[..., Any] | None = None
    selection_rules: tuple[Callable[..., Any], ...] = ()
    told_at_defaults: tuple[str, ...] = ()
    self_run: bool = False
    broker_counted: bool = False
    limits_per_unit: bool = False
    cluster_partitions_warn: bool = False
    kafka_topic_configs: bool = True

    def limit(self, name: str) -> Fact[int] | None:
        """The limit called ``name`` (see the class docstring), or None when there is none."""
        return self.limits.get(name)


def frozen(d: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy of ``d`` (profile defaults cannot be changed by a caller)."""
    return MappingProxyType(dict(d))


def source_defaults(source_type: str) -> Mapping[str, str]:
    """Stock topic defaults of a source cluster type (``kafka`` or ``redpanda``)."""
    return REDPANDA_DEFAULTS if source_type == "redpanda" else KAFKA_DEFAULTS

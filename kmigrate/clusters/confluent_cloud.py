"""Confluent Cloud: client settings (SASL_SSL PLAIN with an API key) and the cluster
type's limits.  Provisioning goes through the Kafka Admin API (the Kafka adapter).

Sources: docs.confluent.io/cloud/current/client-apps/config-client.html (SASL_SSL,
PLAIN, username = API key, password = API secret);
docs.confluent.io/cloud/current/clusters/cluster-types.html (limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from kmigrate.clusters.kafka import KafkaPlane, data_plane, librdkafka_settings
from kmigrate.clusters.spec import ClusterType
from kmigrate.errors import UsageError
from kmigrate.targets.model import DROPPED, NO_DECISION, Decision, KeyContext, Note, decide
from kmigrate.targets.profiles import SRC_KAFKA, Fact, TargetProfile, frozen
from kmigrate.topic_configs import KAFKA_DEFAULTS

if TYPE_CHECKING:
    from kmigrate.clusters.port import Cluster, Found

SRC_CC_CONFIGS = "docs.confluent.io/cloud/current/topics/manage.html (editable topic configs)"
SRC_CC_LIMITS = "docs.confluent.io/cloud/current/clusters/cluster-types.html"


def confluent_cloud_editable_keys(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """Confluent Cloud lets a client set only its editable topic configs; others are dropped.

    Source: docs.confluent.io/cloud/current/topics/manage.html (editable settings).
    """
    if ctx.profile.settable is None:
        return NO_DECISION
    if key in ctx.profile.settable:
        return NO_DECISION
    reason = f"not editable on Confluent Cloud ({ctx.profile.settable_source})"
    return decide(confluent_cloud_editable_keys, key, value, None, DROPPED, reason), []


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


def _confluent(kind: str, partitions: int) -> TargetProfile:
    """The profile of one Confluent Cloud cluster type, with its partitions per cluster."""
    return TargetProfile(
        name=f"confluent-cloud-{kind}",
        family="confluent-cloud",
        defaults=frozen(
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
        key_rules=(confluent_cloud_editable_keys,),
        cluster_partitions_warn=True,
    )


#: The profiles by declared ``facts.cluster_type``.
PROFILES: Mapping[str, TargetProfile] = {
    "basic": _confluent("basic", 4096),
    "standard": _confluent("standard", 4096),
    "enterprise": _confluent("enterprise", 5000),
    "dedicated": _confluent("dedicated", 100_000),
}

#: The ``confluent-cloud`` type: ``bootstrap_servers``, ``api_key``, ``api_secret`` (a
#: reference); a target only.
TYPE = ClusterType(
    "confluent-cloud",
    ("bootstrap_servers", "api_key", "api_secret"),
    references=("api_secret",),
    profiles=PROFILES,
    facts_key="cluster_type",
)


def client_settings(bootstrap_servers: str, api_key: str, api_secret: str) -> dict[str, object]:
    """librdkafka settings for a Confluent Cloud cluster.

    ``api_key`` / ``api_secret`` are the resolved values of the plan's ``${VAR}``
    references; they go into the client only, never into output.

    Raises:
        UsageError: an empty bootstrap, key or secret (the message names which).
    """
    for name, value in (
        ("bootstrap_servers", bootstrap_servers),
        ("api_key", api_key),
        ("api_secret", api_secret),
    ):
        if not value:
            raise UsageError(f"a confluent-cloud target needs {name}")
    return {
        "bootstrap.servers": bootstrap_servers,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": api_key,
        "sasl.password": api_secret,
    }


def limits(cluster_type: str) -> Mapping[str, Fact[int]]:
    """The declared cluster type's limits (``basic|standard|enterprise|dedicated``).

    Raises:
        UsageError: unknown cluster type.
    """
    return TYPE.profile({"cluster_type": cluster_type}).limits


class ConfluentCloudPlane(KafkaPlane):
    """Confluent Cloud's control plane for kmigrate: the Kafka Admin API (``validate_only``
    first, as :class:`~kmigrate.clusters.kafka.KafkaPlane`), plus the declared cluster
    type's limits shown at preflight."""

    def __init__(
        self, facts: Mapping[str, object], settings: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(TYPE, facts, settings)

    def preflight(self, cluster: Cluster) -> Found:
        """A Kafka connection and DescribeCluster (cluster id, brokers), then the declared
        cluster type's limits (which the Kafka API cannot discover).

        Raises:
            ClusterError: unreachable, or authentication failed.
            UsageError: facts.cluster_type missing or unknown.
        """
        found = super().preflight(cluster)
        kind = str(self.facts.get("cluster_type", ""))
        found.rows.append(("cluster type (declared)", kind))
        for name, fact in sorted(limits(kind).items()):
            found.rows.append((f"limit {name}", f"{fact.value} ({fact.source})"))
        found.facts = {}
        return found


def open_cluster(
    role: str, values: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[Cluster, ConfluentCloudPlane]:
    """A ``confluent-cloud`` target: SASL_SSL PLAIN with the API key, plus ``config:``.

    Raises:
        UsageError: an empty bootstrap, key or secret.
    """
    settings = {
        **client_settings(
            str(values.get("bootstrap_servers") or ""),
            str(values.get("api_key") or ""),
            str(values.get("api_secret") or ""),
        ),
        **config,
    }
    bootstrap = str(settings.pop("bootstrap.servers"))
    resolved = librdkafka_settings(settings)
    return data_plane(role, bootstrap, resolved), ConfluentCloudPlane(
        values.get("facts") or {}, resolved
    )

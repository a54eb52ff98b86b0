"""Confluent Cloud: client settings (SASL_SSL PLAIN with an API key) and the cluster
type's limits.  Provisioning goes through the Kafka Admin API (the Kafka adapter).

Sources: docs.confluent.io/cloud/current/client-apps/config-client.html (SASL_SSL,
PLAIN, username = API key, password = API secret);
docs.confluent.io/cloud/current/clusters/cluster-types.html (limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kmigrate.errors import UsageError
from kmigrate.targets.profiles import Fact, TargetProfile, profile_for

if TYPE_CHECKING:
    from kmigrate.clusters.port import Cluster, CrossCheck, Found


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
    return profile_for("confluent-cloud", {"cluster_type": cluster_type}).limits


class ConfluentCloudPlane:
    """Confluent Cloud's control plane for kmigrate: the Kafka Admin API (``validate_only``
    first), plus the declared cluster type's limits shown at preflight."""

    cluster_type = "confluent-cloud"

    def __init__(
        self, facts: Mapping[str, object], settings: Mapping[str, Any] | None = None
    ) -> None:
        from kmigrate.clusters.kafka import KafkaPlane

        self.facts: Mapping[str, object] = dict(facts)
        self.kafka = KafkaPlane("confluent-cloud", facts, settings)

    def profile(self) -> TargetProfile:
        """``confluent-cloud-<cluster_type>`` from ``facts.cluster_type``."""
        return profile_for("confluent-cloud", self.facts)

    def preflight(self, cluster: Cluster) -> Found:
        """A Kafka connection and DescribeCluster (cluster id, brokers), then the declared
        cluster type's limits (which the Kafka API cannot discover).

        Raises:
            ClusterError: unreachable, or authentication failed.
            UsageError: facts.cluster_type missing or unknown.
        """
        found = self.kafka.preflight(cluster)
        kind = str(self.facts.get("cluster_type", ""))
        found.rows.append(("cluster type (declared)", kind))
        for name, fact in sorted(limits(kind).items()):
            found.rows.append((f"limit {name}", f"{fact.value} ({fact.source})"))
        found.facts = {}
        return found

    def existing(self, cluster: Cluster) -> dict[str, int]:
        """``{topic: partitions}`` from Metadata."""
        return self.kafka.existing(cluster)

    def provision(self, cluster: Cluster, translations: list[Any]) -> list[Any]:
        """Through the Kafka Admin API, validating first."""
        return self.kafka.provision(cluster, translations)

    def remove(self, cluster: Cluster, name: str) -> str:
        """DeleteTopics through the Kafka Admin API."""
        return self.kafka.remove(cluster, name)

    def cross_check(self, cluster: Cluster, counts: dict[tuple[str, int], int]) -> CrossCheck:
        """Nothing beyond ``verify`` (the Kafka API is this type's data plane)."""
        return self.kafka.cross_check(cluster, counts)


def open_cluster(
    role: str, values: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[Cluster, ConfluentCloudPlane]:
    """A ``confluent-cloud`` target: SASL_SSL PLAIN with the API key, plus ``config:``.

    Raises:
        UsageError: an empty bootstrap, key or secret.
    """
    from kmigrate.clusters.kafka import data_plane
    from kmigrate.clusters.registry import librdkafka_settings

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

"""Type ``kafka``: any Apache Kafka API broker (Compose Kafka, a self-run cluster).

Client settings are the plan's ``config:`` only; discovery is Metadata; topics are
created through the Kafka Admin API (``validate_only`` first, then for real) and
deleted the same way.  :class:`KafkaPlane` is also the base of the other Kafka-API
types (redpanda, msk, confluent-cloud); the Kafka adapter (confluent_kafka) is loaded
only when a cluster is opened or probed, so importing a type's module loads no client.

Sources: Apache Kafka CreateTopics ``validate_only`` (KIP-108); Metadata broker count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kmigrate.clusters.port import Cluster, ClusterInfo, CreateOutcome, CrossCheck, Found
from kmigrate.clusters.spec import ClusterType
from kmigrate.targets.profiles import SRC_KAFKA, Fact, TargetProfile, frozen
from kmigrate.topic_configs import KAFKA_DEFAULTS

if TYPE_CHECKING:
    from kmigrate.targets.model import TopicTranslation

PROFILE = TargetProfile(
    name="kafka",
    family="kafka",
    defaults=frozen(KAFKA_DEFAULTS),
    defaults_source=SRC_KAFKA,
    kafka_endpoint=Fact(True, SRC_KAFKA),
    self_run=True,
    broker_counted=True,
)

#: The ``kafka`` type: ``bootstrap_servers``; a source or a target.
TYPE = ClusterType("kafka", ("bootstrap_servers",), source=True, profiles={"": PROFILE})


class KafkaPlane:
    """The control plane of a Kafka-API cluster: Metadata and the Admin API.

    Attributes:
        kind: the cluster type.
        cluster_type: the plan ``type`` (``kind.name``).
        facts: the declared ``facts`` (``broker_count`` for self-run Kafka is discovered).
        ignored_validate_only: topics a broker created although asked only to validate
            (the sandbox broker does; see :meth:`provision`).
    """

    def __init__(
        self,
        kind: ClusterType,
        facts: Mapping[str, object] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """Args:
        kind: the cluster type (its module's ``TYPE``).
        facts: the declared facts.
        settings: the client's librdkafka settings (secrets resolved), for
            :meth:`preflight`'s probe; never printed.
        """
        self.kind = kind
        self.cluster_type = kind.name
        self.facts: Mapping[str, object] = dict(facts or {})
        self.settings: Mapping[str, Any] = dict(settings or {})
        self.ignored_validate_only: list[str] = []

    def profile(self) -> TargetProfile:
        """The profile for the type and declared facts (:meth:`ClusterType.profile`).

        Raises:
            UsageError: a fact the type needs is missing or unknown.
        """
        return self.kind.profile(self.facts)

    def preflight(self, cluster: Cluster) -> Found:
        """Metadata: cluster id, brokers, topics (the broker count becomes a fact).

        Raises:
            ClusterError: unreachable, or "authentication failed" / "TLS failed" with
                librdkafka's reason and no secret (:func:`kmigrate.adapters.probe.probe`).
        """
        info = connect(cluster, self.settings)
        return Found(
            [
                ("bootstrap servers", cluster.bootstrap_servers),
                ("cluster id", str(info.cluster_id)),
                ("brokers", str(info.broker_count)),
                ("topics", str(info.topic_count)),
            ],
            {"broker_count": info.broker_count},
        )

    def existing(self, cluster: Cluster) -> dict[str, int]:
        """``{topic: partitions}`` from Metadata."""
        return {name: meta.partitions for name, meta in cluster.topics().items()}

    def provision(
        self, cluster: Cluster, translations: list[TopicTranslation]
    ) -> list[CreateOutcome]:
        """CreateTopics with ``validate_only=True``, then for real those that passed.

        A broker that creates a topic although asked only to validate (the sandbox
        broker ignores the flag, ``../shared/docs/sandbox-broker.md``) is detected by
        listing the topics after the validation: such a topic was created by this
        call, so it is reported ``created`` (and is rolled back), and its name is
        kept in :attr:`ignored_validate_only`.  On Kafka the list does not show it.
        """
        wanted = [
            (t.name, t.partitions, t.replication_factor or 1, t.configs) for t in translations
        ]
        checked = cluster.create_topics(wanted, validate_only=True)
        passed = {o.topic for o in checked if o.status == "created"}
        out = [o for o in checked if o.status != "created"]
        present = set(cluster.topics()) & passed
        self.ignored_validate_only = sorted(present)
        out += [CreateOutcome(name, "created") for name in sorted(present)]
        out += cluster.create_topics([w for w in wanted if w[0] in passed - present])
        return out

    def remove(self, cluster: Cluster, name: str) -> str:
        """DeleteTopics for one topic."""
        return cluster.delete_topic(name)

    def cross_check(self, cluster: Cluster, counts: dict[tuple[str, int], int]) -> CrossCheck:
        """Nothing beyond ``verify`` itself: the Kafka API is this type's own API."""
        return CrossCheck()


def connect(cluster: Cluster, settings: Mapping[str, Any]) -> ClusterInfo:
    """Connect with ``settings`` and read Metadata, saying *why* a secured connection
    failed (:func:`kmigrate.adapters.probe.probe`)."""
    from kmigrate.adapters.probe import probe

    return probe(cluster.role, cluster.bootstrap_servers, settings)


def data_plane(role: str, bootstrap: str, settings: Mapping[str, Any]) -> Cluster:
    """The Kafka adapter for ``bootstrap`` with ``settings`` (secrets resolved)."""
    from kmigrate.adapters.kafka import KafkaCluster

    return KafkaCluster(role, bootstrap, dict(settings))


def open_cluster(
    role: str, values: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[Cluster, KafkaPlane]:
    """A ``kafka`` cluster: bootstrap servers and the plan's ``config:`` as they are."""
    return (
        data_plane(role, str(values.get("bootstrap_servers") or ""), config),
        KafkaPlane(TYPE, values.get("facts") or {}, config),
    )


def librdkafka_settings(settings: Mapping[str, object]) -> dict[str, Any]:
    """Settings as librdkafka takes them: booleans as ``true``/``false``, numbers as text,
    callables (``oauth_cb``) as they are."""
    return {
        k: v if callable(v) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in settings.items()
    }

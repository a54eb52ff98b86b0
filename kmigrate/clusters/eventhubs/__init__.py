"""Azure Event Hubs (Kafka endpoint): client settings and auth, the control plane
(hubs through ARM: :mod:`.arm`) and the data-plane partition cross-check for ``verify``;
the tiers' profiles and the translation rules only Event Hubs needs are in :mod:`.rules`.

azure-mgmt-eventhub, azure-identity and azure-eventhub (the ``azure`` extra) are
imported only here, lazily.  Hubs are ARM resources: Kafka CreateTopics on the Event
Hubs endpoint is not relied on (listed as not supported).

Sources:

* Endpoint, SASL settings and client settings:
  learn.microsoft.com/azure/event-hubs/apache-kafka-configurations and
  azure-event-hubs-for-kafka (``$ConnectionString`` / PLAIN; OAUTHBEARER with an Entra
  token for ``https://NAMESPACE.servicebus.windows.net/.default``; ``expires_on``
  is already in seconds).
* Tiers: learn.microsoft.com/azure/event-hubs/event-hubs-quotas (Basic has no Kafka).
* ARM hub model: azure-mgmt-eventhub 12.0.0 (API 2026-01-01): ``Eventhub.properties``
  (``EventhubProperties``: partition_count, retention_description, message_timestamp_description).
* Data plane: azure-eventhub ``EventHubConsumerClient.get_partition_properties``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kmigrate.clusters._optional import require
from kmigrate.clusters.eventhubs.arm import (
    EXTRA_MSG,
    EventHubsControlPlane,
    HubInfo,
    NamespaceInfo,
    azure_errors,
    hub_body,
)
from kmigrate.clusters.eventhubs.rules import PROFILES
from kmigrate.clusters.kafka import connect, data_plane, librdkafka_settings
from kmigrate.clusters.spec import ClusterType
from kmigrate.errors import ClusterError, UsageError
from kmigrate.targets.model import TopicTranslation
from kmigrate.targets.profiles import TargetProfile

if TYPE_CHECKING:
    from kmigrate.clusters.port import Cluster, CreateOutcome, CrossCheck, Found

__all__ = [
    "AUTHS",
    "CLIENT_SETTINGS",
    "KAFKA_PORT",
    "PRODUCER_SETTINGS",
    "TYPE",
    "EventHubsControlPlane",
    "EventHubsPlane",
    "HubInfo",
    "NamespaceInfo",
    "PartitionProperties",
    "arm_plane",
    "client_settings",
    "consumer_client",
    "endpoint",
    "hub_body",
    "open_cluster",
    "partition_properties",
]

KAFKA_PORT = 9093
AUTHS = ("connection-string", "entra")

#: Client settings the Kafka endpoint needs (apache-kafka-configurations): idle
#: connections are closed after 240 s, so both stay below it.
CLIENT_SETTINGS: Mapping[str, object] = {
    "metadata.max.age.ms": 180000,
    "connections.max.idle.ms": 180000,
    "socket.keepalive.enable": True,
}
#: Producer settings it needs (librdkafka's request timeout default is too low).
PRODUCER_SETTINGS: Mapping[str, object] = {"request.timeout.ms": 60000}


def endpoint(namespace: str) -> str:
    """``NAMESPACE.servicebus.windows.net:9093``.

    Raises:
        UsageError: an empty namespace, or one given as a host name.
    """
    if not namespace or "." in namespace or ":" in namespace:
        raise UsageError(
            f"eventhubs namespace: expected the namespace name (shop-prod); found {namespace!r}"
        )
    return _host_port(namespace)


def _host_port(namespace: str) -> str:
    return f"{namespace}.servicebus.windows.net:{KAFKA_PORT}"


def scope(namespace: str) -> str:
    """The Entra token scope of a namespace."""
    return f"https://{namespace}.servicebus.windows.net/.default"


def connection_string_settings(connection_string: str) -> dict[str, object]:
    """SASL_SSL PLAIN with username ``$ConnectionString`` and the connection string as
    the password (a secret: never printed).

    Raises:
        UsageError: the value does not look like an Event Hubs connection string (the
            message does not show it).
    """
    if not connection_string.startswith("Endpoint=sb://"):
        raise UsageError(
            "eventhubs connection_string: expected 'Endpoint=sb://NAMESPACE.servicebus."
            "windows.net/;SharedAccessKeyName=...;SharedAccessKey=...' (value not shown)"
        )
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "$ConnectionString",
        "sasl.password": connection_string,
    }


def entra_oauth_cb(
    namespace: str, credential: Any = None
) -> Callable[[str | None], tuple[str, float]]:
    """A confluent-kafka ``oauth_cb`` returning an Entra token for the namespace.

    ``credential`` is any azure-core ``TokenCredential`` (default: azure-identity
    ``DefaultAzureCredential``).  ``AccessToken.expires_on`` is seconds since the
    epoch, as librdkafka wants.

    Raises:
        UsageError: azure-identity is not installed (``pip install 'kmigrate[azure]'``).
    """
    if credential is None:
        identity = require("azure.identity", "azure", EXTRA_MSG)
        credential = identity.DefaultAzureCredential()
    wanted = scope(namespace)

    def oauth_cb(_config: str | None) -> tuple[str, float]:
        token = credential.get_token(wanted)
        return token.token, float(token.expires_on)

    return oauth_cb


def client_settings(
    namespace: str,
    auth: str,
    connection_string: str | None = None,
    credential: Any = None,
) -> dict[str, object]:
    """librdkafka settings for the namespace's Kafka endpoint (bootstrap included).

    Raises:
        UsageError: unknown auth, a missing connection string, or a missing extra.
    """
    base: dict[str, object] = {"bootstrap.servers": endpoint(namespace), **CLIENT_SETTINGS}
    if auth == "connection-string":
        if not connection_string:
            raise UsageError(
                "an eventhubs target with auth: connection-string needs connection_string"
            )
        return {**base, **connection_string_settings(connection_string)}
    if auth == "entra":
        return {
            **base,
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": entra_oauth_cb(namespace, credential),
        }
    raise UsageError(f"eventhubs auth: expected one of {', '.join(AUTHS)}; found {auth!r}")


@dataclass(frozen=True)
class PartitionProperties:
    """``get_partition_properties`` of one partition (sequence numbers, not Kafka offsets)."""

    partition_id: str
    beginning_sequence_number: int
    last_enqueued_sequence_number: int
    is_empty: bool

    @property
    def count(self) -> int:
        """Events in the partition by sequence numbers (0 when empty)."""
        if self.is_empty:
            return 0
        return self.last_enqueued_sequence_number - self.beginning_sequence_number + 1


def consumer_client(
    namespace: str,
    hub: str,
    *,
    connection_string: str | None = None,
    credential: Any = None,
) -> Any:
    """An azure-eventhub ``EventHubConsumerClient`` for one hub (``$Default`` group).

    Raises:
        UsageError: azure-eventhub is not installed.
    """
    sdk = require("azure.eventhub", "azure", EXTRA_MSG)
    if connection_string:
        return sdk.EventHubConsumerClient.from_connection_string(
            connection_string, consumer_group="$Default", eventhub_name=hub
        )
    if credential is None:
        credential = require("azure.identity", "azure", EXTRA_MSG).DefaultAzureCredential()
    return sdk.EventHubConsumerClient(
        f"{namespace}.servicebus.windows.net", hub, "$Default", credential
    )


def partition_properties(client: Any) -> dict[str, PartitionProperties]:
    """Per partition id, what the data plane says (``get_partition_ids`` then
    ``get_partition_properties``), for ``verify``'s cross-check of partition ids and
    last enqueued sequence numbers.

    Args:
        client: an ``EventHubConsumerClient`` from :func:`consumer_client`.

    Raises:
        ClusterError: the data plane refused.
    """
    try:
        ids = client.get_partition_ids()
        out = {}
        for pid in ids:
            p = client.get_partition_properties(pid)
            out[str(pid)] = PartitionProperties(
                partition_id=str(pid),
                beginning_sequence_number=int(p["beginning_sequence_number"]),
                last_enqueued_sequence_number=int(p["last_enqueued_sequence_number"]),
                is_empty=bool(p["is_empty"]),
            )
        return out
    except azure_errors() as exc:
        raise ClusterError(f"Event Hubs partition properties failed: {exc}") from None


# --- the registry's entry: data plane + control plane -----------------------------------


def arm_plane(subscription_id: str, resource_group: str, namespace: str) -> EventHubsControlPlane:
    """The ARM control plane of a namespace with the default credential chain (tests
    replace this function to hand in a client on a stubbed transport).

    Raises:
        UsageError: the azure extra is not installed.
    """
    return EventHubsControlPlane(subscription_id, resource_group, namespace)


class EventHubsPlane:
    """Event Hubs as kmigrate's control plane: the namespace checked and hubs created and
    deleted through ARM (never Kafka CreateTopics); records through the Kafka endpoint.

    The ARM client is built on first use, so ``kmigrate plan`` and a data-only step
    need no Azure credentials.
    """

    cluster_type = "eventhubs"

    def __init__(
        self,
        subscription_id: str,
        resource_group: str,
        namespace: str,
        facts: Mapping[str, object],
        settings: Mapping[str, Any] | None = None,
        connection_string: str | None = None,
    ) -> None:
        self.settings: Mapping[str, Any] = dict(settings or {})
        self.connection_string = connection_string
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.namespace = namespace
        self.facts: Mapping[str, object] = dict(facts)
        self._arm: EventHubsControlPlane | None = None

    @property
    def arm(self) -> EventHubsControlPlane:
        """The ARM plane (:func:`arm_plane`), created on first use."""
        if self._arm is None:
            self._arm = arm_plane(self.subscription_id, self.resource_group, self.namespace)
        return self._arm

    def profile(self) -> TargetProfile:
        """``eventhubs-<tier>`` from ``facts.tier``.

        Raises:
            UsageError: facts.tier missing or unknown.
        """
        return TYPE.profile(self.facts)

    def preflight(self, cluster: Cluster) -> Found:
        """ARM: the namespace (tier, Basic refused, Kafka enabled; declared tier checked),
        its hubs against the tier's hub limit; then a Kafka connection.

        Raises:
            ClusterError: as :meth:`EventHubsControlPlane.check`, the namespace already at
                its hub limit, or the Kafka connection failed.
        """
        from kmigrate.clusters.port import Found

        info = self.arm.check(self.facts)
        hubs = self.arm.hubs()
        profile = TYPE.profile({"tier": info.tier})
        limit = profile.limit("topics_per_cluster")
        rows = [
            ("namespace", f"{info.name} ({info.status or 'status unknown'})"),
            ("tier", info.tier),
            ("capacity", str(info.capacity or "-")),
            ("Kafka enabled", "yes" if info.kafka_enabled else "no"),
            ("hubs", f"{len(hubs)}" + (f" of {limit.value} ({limit.source})" if limit else "")),
        ]
        if limit is not None and info.tier != "premium" and len(hubs) >= limit.value:
            raise ClusterError(
                f"Event Hubs namespace {self.namespace} already holds {len(hubs)} hubs, "
                f"its {info.tier} limit ({limit.source})"
            )
        described = connect(cluster, self.settings)
        rows += [("bootstrap servers", cluster.bootstrap_servers)]
        rows += [("Kafka cluster id", str(described.cluster_id))]
        return Found(rows, {"tier": info.tier})

    def existing(self, cluster: Cluster) -> dict[str, int]:
        """``{hub: partitions}`` from ARM."""
        return {name: hub.partition_count or 0 for name, hub in self.arm.hubs().items()}

    def provision(
        self, cluster: Cluster, translations: list[TopicTranslation]
    ) -> list[CreateOutcome]:
        """Create each hub through ARM (``event_hubs.create_or_update``); ARM has no
        validate-only call, the translation rules have checked the values."""
        from kmigrate.clusters.port import CreateOutcome

        out = []
        for t in translations:
            try:
                self.arm.create_hub(t)
                out.append(CreateOutcome(t.name, "created"))
            except ClusterError as exc:
                out.append(CreateOutcome(t.name, "failed", str(exc)))
        return out

    def remove(self, cluster: Cluster, name: str) -> str:
        """Delete a hub through ARM (``event_hubs.delete``)."""
        self.arm.delete_hub(name)
        return "deleted"

    def cross_check(self, cluster: Cluster, counts: dict[tuple[str, int], int]) -> CrossCheck:
        """Per hub, the data plane's partition ids (``get_partition_ids``) must be those
        verify read over Kafka, and each partition's event count by sequence numbers
        (``get_partition_properties``: last enqueued - beginning + 1) must equal the
        records verify counted.

        Raises:
            ClusterError: the data plane refused.
            UsageError: azure-eventhub is not installed.
        """
        from kmigrate.clusters.port import CrossCheck

        out = CrossCheck()
        for hub in sorted({topic for topic, _ in counts}):
            kafka_ids = {str(p) for t, p in counts if t == hub}
            client = consumer_client(self.namespace, hub, connection_string=self.connection_string)
            try:
                props = partition_properties(client)
            finally:
                close = getattr(client, "close", None)
                if close is not None:
                    close()
            if set(props) != kafka_ids:
                out.problems.append(
                    f"{hub}: Event Hubs partition ids {sorted(props)} differ from the "
                    f"Kafka partitions {sorted(kafka_ids)}"
                )
            for pid, p in sorted(props.items()):
                read = counts.get((hub, int(pid)))
                out.rows.append(
                    (
                        f"{hub}[{pid}]",
                        f"{p.count} events (sequence numbers {p.beginning_sequence_number}.."
                        f"{p.last_enqueued_sequence_number}), verify read {read}",
                    )
                )
                if read is not None and read != p.count:
                    out.problems.append(
                        f"{hub}[{pid}]: Event Hubs holds {p.count} events by sequence "
                        f"numbers, verify read {read} records"
                    )
        return out


def open_cluster(
    role: str, values: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[Cluster, EventHubsPlane]:
    """An ``eventhubs`` target: the namespace's Kafka endpoint (or the plan's
    ``bootstrap_servers`` override), SASL settings for ``auth`` (default
    ``connection-string``), plus the plan's ``config:``.

    Raises:
        UsageError: a bad namespace, a missing connection string, or a missing extra.
    """
    namespace = str(values["namespace"])
    settings: dict[str, object] = {
        **client_settings(
            namespace,
            str(values.get("auth") or "connection-string"),
            values.get("connection_string"),
        ),
        **config,
    }
    endpoint_servers = str(settings.pop("bootstrap.servers"))
    bootstrap = str(values.get("bootstrap_servers") or endpoint_servers)
    resolved = librdkafka_settings(settings)
    plane = EventHubsPlane(
        str(values["subscription_id"]),
        str(values["resource_group"]),
        namespace,
        values.get("facts") or {},
        resolved,
        values.get("connection_string"),
    )
    return data_plane(role, bootstrap, resolved), plane


def _connection_string_needed(spec: Any) -> list[tuple[str, str]]:
    """``auth: connection-string`` (the default) needs ``connection_string``."""
    if (spec.auth or "connection-string") == "connection-string" and spec.connection_string is None:
        return [("connection_string", "auth: connection-string needs connection_string")]
    return []


def _namespace_endpoint(spec: Any) -> str | None:
    """The namespace's Kafka endpoint (:func:`endpoint`'s form, unchecked), or None."""
    return _host_port(spec.namespace) if spec.namespace else None


#: The ``eventhubs`` type: ``namespace``, ``subscription_id``, ``resource_group``, ``auth``
#: (default ``connection-string``), ``connection_string`` (a reference), optional
#: ``bootstrap_servers``; a target only.
TYPE = ClusterType(
    "eventhubs",
    ("namespace", "subscription_id", "resource_group"),
    ("auth", "connection_string", "bootstrap_servers"),
    references=("connection_string",),
    choices={"auth": AUTHS},
    extra="azure",
    profiles=PROFILES,
    facts_key="tier",
    checks=_connection_string_needed,
    endpoint=_namespace_endpoint,
)

"""Azure Event Hubs' ARM control plane: the namespace checked, hubs listed, created
from a translation and deleted (``azure-mgmt-eventhub``, imported lazily).

Hubs are ARM resources: Kafka CreateTopics on the Event Hubs endpoint is not relied
on (listed as not supported).

Sources: azure-mgmt-eventhub 12.0.0 (API 2026-01-01): ``Eventhub.properties``
(``EventhubProperties``: partition_count, retention_description,
message_timestamp_description); tiers: learn.microsoft.com/azure/event-hubs/event-hubs-quotas
(Basic has no Kafka).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kmigrate.clusters._optional import require
from kmigrate.errors import ClusterError, UsageError
from kmigrate.targets.model import TopicTranslation

#: How a missing ``azure`` extra names what needed it.
EXTRA_MSG = "an Event Hubs target"


@dataclass(frozen=True)
class NamespaceInfo:
    """An Event Hubs namespace: ``tier`` (lower case), Kafka enabled, capacity (PUs/TUs)."""

    name: str
    tier: str
    kafka_enabled: bool
    capacity: int | None
    status: str | None


@dataclass(frozen=True)
class HubInfo:
    """One hub as ARM reports it (hours, minutes; None when ARM leaves it unset)."""

    name: str
    partition_count: int | None
    retention_hours: int | None
    cleanup_policy: str | None
    timestamp_type: str | None


def azure_errors() -> tuple[type[Exception], ...]:
    """The azure-core exception classes a call may raise (the ``azure`` extra, lazily).

    Raises:
        UsageError: azure-core is not installed.
    """
    exc = require("azure.core.exceptions", "azure", EXTRA_MSG)
    return (exc.AzureError,)


class EventHubsControlPlane:
    """ARM operations on one namespace through azure-mgmt-eventhub.

    Every azure-core error becomes a :class:`~kmigrate.errors.ClusterError` naming the
    operation (without credentials).
    """

    def __init__(
        self,
        subscription_id: str,
        resource_group: str,
        namespace: str,
        credential: Any = None,
        client: Any = None,
        **client_kwargs: Any,
    ) -> None:
        """Args:
            subscription_id, resource_group, namespace: where the namespace lives.
            credential: an azure-core ``TokenCredential`` (default ``DefaultAzureCredential``).
            client: an ``EventHubManagementClient`` (built when None).
            client_kwargs: passed to the client (``transport=`` in tests, ``base_url=``).

        Raises:
            UsageError: the azure extra is not installed.
        """
        self.resource_group = resource_group
        self.namespace = namespace
        if client is None:
            mgmt = require("azure.mgmt.eventhub", "azure", EXTRA_MSG)
            if credential is None:
                credential = require("azure.identity", "azure", EXTRA_MSG).DefaultAzureCredential()
            client = mgmt.EventHubManagementClient(credential, subscription_id, **client_kwargs)
        self.client = client

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except azure_errors() as exc:
            message = getattr(exc, "message", None) or str(exc).splitlines()[0]
            raise ClusterError(f"Event Hubs {what} on {self.namespace} failed: {message}") from None

    def namespace_info(self) -> NamespaceInfo:
        """Read the namespace (``namespaces.get``).

        Raises:
            ClusterError: the call failed.
        """
        ns = self._call(
            "namespace read", self.client.namespaces.get, self.resource_group, self.namespace
        )
        sku = ns.sku
        props = ns.properties
        return NamespaceInfo(
            name=self.namespace,
            tier=_text(sku.tier or sku.name).lower() if sku else "",
            kafka_enabled=bool(props and props.kafka_enabled),
            capacity=sku.capacity if sku else None,
            status=props.status if props else None,
        )

    def check(self, declared: Mapping[str, object] | None = None) -> NamespaceInfo:
        """Read the namespace and refuse what cannot work.

        Raises:
            ClusterError: Basic tier (no Kafka endpoint), Kafka disabled, or a declared
                ``facts.tier`` that disagrees with the namespace (naming both).
        """
        info = self.namespace_info()
        if info.tier == "basic":
            raise ClusterError(
                f"Event Hubs namespace {self.namespace} is Basic, which has no Kafka endpoint "
                "(event-hubs-quotas); use Standard or above"
            )
        if not info.kafka_enabled:
            raise ClusterError(f"Event Hubs namespace {self.namespace} has Kafka disabled")
        tier = (declared or {}).get("tier")
        if tier is not None and str(tier).lower() != info.tier:
            raise ClusterError(
                f"Event Hubs namespace {self.namespace}: facts.tier: the plan declares "
                f"{tier!r}, the namespace is {info.tier!r}"
            )
        return info

    def hubs(self) -> dict[str, HubInfo]:
        """The namespace's hubs by name (``event_hubs.list_by_namespace``).

        Raises:
            ClusterError: the call failed.
        """
        pages = self._call(
            "hub list",
            self.client.event_hubs.list_by_namespace,
            self.resource_group,
            self.namespace,
        )
        out = {}
        for hub in self._call("hub list", list, pages):
            out[hub.name] = _hub_info(hub)
        return out

    def create_hub(self, translation: TopicTranslation) -> HubInfo:
        """Create (``event_hubs.create_or_update``) the hub a translation describes.

        Raises:
            UsageError: the translation is not ``create`` (refused or existing).
            ClusterError: ARM refused it.
        """
        if translation.action != "create":
            raise UsageError(
                f"hub {translation.name}: the translation says {translation.action}, not create"
            )
        body = hub_body(translation)
        hub = self._call(
            f"hub create ({translation.name})",
            self.client.event_hubs.create_or_update,
            self.resource_group,
            self.namespace,
            translation.name,
            body,
        )
        return _hub_info(hub)

    def delete_hub(self, name: str) -> None:
        """Delete a hub (``event_hubs.delete``); rollback calls it only for hubs it created.

        Raises:
            ClusterError: ARM refused it.
        """
        self._call(
            f"hub delete ({name})",
            self.client.event_hubs.delete,
            self.resource_group,
            self.namespace,
            name,
        )


def hub_body(translation: TopicTranslation) -> Any:
    """The ARM ``Eventhub`` model for a translation: partition count, retention hours,
    cleanup policy, tombstone hours, minimum compaction lag minutes, timestamp type.

    Raises:
        UsageError: azure-mgmt-eventhub is not installed.
    """
    models = require("azure.mgmt.eventhub.models", "azure", EXTRA_MSG)
    cfg = translation.configs

    def opt_int(key: str) -> int | None:
        return int(cfg[key]) if key in cfg else None

    retention = models.RetentionDescription(
        cleanup_policy=cfg.get("cleanupPolicy", "Delete"),
        retention_time_in_hours=opt_int("retentionTimeInHours"),
        tombstone_retention_time_in_hours=opt_int("tombstoneRetentionTimeInHours"),
        min_compaction_lag_time_in_minutes=opt_int("minCompactionLagTimeInMinutes"),
    )
    return models.Eventhub(
        properties=models.EventhubProperties(
            partition_count=translation.partitions,
            retention_description=retention,
            message_timestamp_description=models.MessageTimestampDescription(
                timestamp_type=cfg.get("timestampType", "Create")
            ),
        )
    )


def _text(value: Any) -> str:
    """An SDK enum member or string as its wire value (``SkuTier.STANDARD`` -> ``Standard``)."""
    return str(getattr(value, "value", value))


def _hub_info(hub: Any) -> HubInfo:
    props = hub.properties
    retention = props.retention_description if props else None
    stamp = props.message_timestamp_description if props else None
    hours = retention.retention_time_in_hours if retention else None
    if hours is None and props is not None and props.message_retention_in_days is not None:
        hours = props.message_retention_in_days * 24
    return HubInfo(
        name=hub.name,
        partition_count=props.partition_count if props else None,
        retention_hours=hours,
        cleanup_policy=_text(retention.cleanup_policy)
        if retention and retention.cleanup_policy
        else None,
        timestamp_type=_text(stamp.timestamp_type) if stamp and stamp.timestamp_type else None,
    )

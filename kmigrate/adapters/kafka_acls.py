"""ACL bindings through the Kafka Admin API (confluent-kafka): describe, create, delete.

Converts between kmigrate's neutral :class:`kmigrate.acls.model.AclBinding` and
confluent-kafka's ``AclBinding`` (librdkafka names the cluster resource ``BROKER``;
kmigrate calls it ``CLUSTER``, as Kafka does).  Admin calls used: DescribeAcls,
CreateAcls, DeleteAcls (KIP-140; prefixed patterns KIP-290).

``validate_only``: neither Kafka's CreateAcls request (KIP-140: only the
creations) nor confluent-kafka's ``AdminClient.create_acls`` (2.16: ``acls``,
``request_timeout``) has one, on any target.  What :meth:`KafkaAcls.create` does
instead: it describes the target's bindings first, creates only the missing ones
and reports those that were there as ``exists``, so that a rollback deletes
exactly what kmigrate created (:meth:`KafkaAcls.delete` takes exact bindings, not
patterns).  A binding the broker refuses fails alone (per-binding outcomes).

A KRaft broker answers DescribeAcls from its copy of the metadata log, which lags
the controller by up to about a second (measured on the tests' 3-node target): a
binding created by someone else within that time may not be seen yet, and is then
reported ``created`` (CreateAcls of an existing binding succeeds without a word).
Long-standing bindings, the case of a migration, are seen.

Writes are refused on the ``source`` role: kmigrate never writes to the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AclBinding as KBinding
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    ResourcePatternType,
    ResourceType,
)

from kmigrate.acls.model import AclBinding, Operation, PatternType, Permission
from kmigrate.acls.model import ResourceType as RType
from kmigrate.errors import ClusterError
from kmigrate.logs import client_logger

#: Seconds an ACL request may take (broker lookup included).
ACL_TIMEOUT_S = 30.0
CREATED, EXISTS, FAILED = "created", "exists", "failed"

_TO_KAFKA_TYPE = {
    RType.TOPIC: ResourceType.TOPIC,
    RType.GROUP: ResourceType.GROUP,
    RType.CLUSTER: ResourceType.BROKER,
    RType.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID,
}
_FROM_KAFKA_TYPE = {v: k for k, v in _TO_KAFKA_TYPE.items()}


def to_kafka(b: AclBinding) -> KBinding:
    """confluent-kafka's binding for ``b``."""
    return KBinding(
        _TO_KAFKA_TYPE[b.resource_type],
        b.name,
        ResourcePatternType[b.pattern_type.value],
        b.principal,
        b.host,
        AclOperation[b.operation.value],
        AclPermissionType[b.permission.value],
    )


def _exact_filter(b: AclBinding) -> AclBindingFilter:
    """A filter that matches ``b`` and nothing else (no ANY/MATCH field)."""
    k = to_kafka(b)
    return AclBindingFilter(
        k.restype,
        k.name,
        k.resource_pattern_type,
        k.principal,
        k.host,
        k.operation,
        k.permission_type,
    )


def from_kafka(k: Any) -> AclBinding | None:
    """kmigrate's binding for a confluent-kafka one; None for a resource type, pattern,
    operation or permission kmigrate does not move (librdkafka reports those UNKNOWN)."""
    try:
        return AclBinding(
            _FROM_KAFKA_TYPE[k.restype],
            k.name,
            PatternType(k.resource_pattern_type.name),
            k.principal,
            k.host,
            Operation(k.operation.name),
            Permission(k.permission_type.name),
        )
    except (KeyError, ValueError):
        return None


@dataclass
class AclListing:
    """Every binding a cluster holds: ``bindings`` (sorted) and ``skipped`` (one line each
    for bindings kmigrate does not move, e.g. an UNKNOWN resource type)."""

    bindings: list[AclBinding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AclOutcome:
    """One binding's outcome of :meth:`KafkaAcls.create`: ``created``, ``exists`` or
    ``failed`` (``error`` then names the broker's error code and message)."""

    binding: AclBinding
    status: str
    error: str | None = None


class KafkaAcls:
    """ACL bindings of one cluster through its AdminClient."""

    def __init__(self, admin: AdminClient, role: str, label: str) -> None:
        """Args:
        admin: the cluster's AdminClient.
        role: ``source`` (read-only) or ``target``.
        label: how errors name the cluster (``target (127.0.0.1:29092)``), no secrets.
        """
        self.admin = admin
        self.role = role
        self.label = label

    @classmethod
    def connect(cls, role: str, bootstrap_servers: str, config: Mapping[str, Any]) -> KafkaAcls:
        """Open an AdminClient (librdkafka's log to kmigrate's log file, never stderr).

        ``config``: librdkafka settings, secrets resolved; never printed.
        """
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "logger": client_logger(role),
            **config,
        }
        return cls(AdminClient(conf), role, f"{role} ({bootstrap_servers})")

    def _fail(self, what: str, exc: KafkaException) -> ClusterError:
        err: Any = exc.args[0] if exc.args else exc
        detail = f"{err.name()}: {err.str()}" if hasattr(err, "name") else str(err)
        return ClusterError(f"{self.label}: {what} failed: {detail}")

    def describe(self, timeout_s: float = ACL_TIMEOUT_S) -> AclListing:
        """Every binding the cluster holds (DescribeAcls with an all-ANY filter).

        Raises:
            ClusterError: the request failed (for example SECURITY_DISABLED: the
                cluster has no authorizer; CLUSTER_AUTHORIZATION_FAILED: the
                principal lacks DESCRIBE on the cluster).
        """
        # None means "any" for the name, principal and host (confluent-kafka's docs).
        anything: Any = None
        everything = AclBindingFilter(
            ResourceType.ANY,
            anything,
            ResourcePatternType.ANY,
            anything,
            anything,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        try:
            found = self.admin.describe_acls(everything, request_timeout=timeout_s).result(
                timeout=timeout_s + 5
            )
        except KafkaException as exc:
            raise self._fail("describing ACLs", exc) from None
        out = AclListing()
        for k in found:
            b = from_kafka(k)
            if b is None:
                out.skipped.append(str(k))
            else:
                out.bindings.append(b)
        out.bindings.sort()
        return out

    def authorizer(self, timeout_s: float = ACL_TIMEOUT_S) -> str | None:
        """The ``authorizer.class.name`` of the lowest-id broker: ``""`` when none is
        configured, None when the broker does not report the key (Redpanda enables
        authorization through its own cluster properties).

        Why: a broker without an authorizer answers DescribeAcls with an empty list
        (measured on Apache Kafka 3.9 in ZooKeeper mode through confluent-kafka 2.16:
        no SECURITY_DISABLED reaches the client), which reads like "no ACLs"; this tells
        the two apart.  Source: kafka.apache.org/documentation/#brokerconfigs_authorizer.class.name.

        Raises:
            ClusterError: Metadata or DescribeConfigs failed.
        """
        try:
            brokers = self.admin.list_topics(timeout=timeout_s).brokers
            resource = ConfigResource("broker", str(min(brokers)))
            futures = self.admin.describe_configs([resource], request_timeout=timeout_s)
            configs = futures[resource].result(timeout=timeout_s + 5)
        except KafkaException as exc:
            raise self._fail("reading the brokers' authorizer.class.name", exc) from None
        entry = configs.get("authorizer.class.name")
        return None if entry is None else (entry.value or "")

    def _require_target(self, what: str) -> None:
        if self.role != "target":
            raise ClusterError(
                f"{self.label}: refused to {what}: kmigrate never writes to the source cluster"
            )

    def create(
        self, bindings: Iterable[AclBinding], timeout_s: float = ACL_TIMEOUT_S
    ) -> list[AclOutcome]:
        """Create the bindings the cluster does not hold yet; one outcome per binding, in
        the given order (duplicates once).

        Raises:
            ClusterError: on the source role, or the describe before it failed.
        """
        self._require_target("create ACLs")
        wanted = list(dict.fromkeys(bindings))
        present = set(self.describe(timeout_s).bindings)
        missing = [b for b in wanted if b not in present]
        errors: dict[AclBinding, str] = {}
        if missing:
            futures = self.admin.create_acls(
                [to_kafka(b) for b in missing], request_timeout=timeout_s
            )
            by_kafka = dict(zip([to_kafka(b) for b in missing], missing, strict=True))
            for k, fut in futures.items():
                try:
                    fut.result(timeout=timeout_s + 5)
                except KafkaException as exc:
                    err = exc.args[0]
                    errors[by_kafka[k]] = f"{err.name()}: {err.str()}"
        return [
            AclOutcome(b, EXISTS)
            if b in present
            else AclOutcome(b, FAILED, errors[b])
            if b in errors
            else AclOutcome(b, CREATED)
            for b in wanted
        ]

    def delete(
        self, bindings: Iterable[AclBinding], timeout_s: float = ACL_TIMEOUT_S
    ) -> list[AclBinding]:
        """Delete exactly these bindings (one exact filter each: no pattern, no ANY), for
        rollback; the bindings the cluster deleted (one that was not there is absent).

        Raises:
            ClusterError: on the source role, or a delete failed.
        """
        self._require_target("delete ACLs")
        wanted = list(dict.fromkeys(bindings))
        if not wanted:
            return []
        futures = self.admin.delete_acls(
            [_exact_filter(b) for b in wanted], request_timeout=timeout_s
        )
        deleted: list[AclBinding] = []
        for _flt, fut in futures.items():
            try:
                found = fut.result(timeout=timeout_s + 5)
            except KafkaException as exc:
                raise self._fail("deleting ACLs", exc) from None
            deleted += [b for b in map(from_kafka, found) if b is not None]
        return deleted

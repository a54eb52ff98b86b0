"""ACLs on the sandbox's target: the bindings a principal needs, granted and revoked
over the PLAINTEXT listener (set-up, as the super user ``User:ANONYMOUS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from kmigrate.errors import ClusterError


def _allow(
    kind: type[AclBinding], principal: str, acls: Sequence[tuple[str, str, str]]
) -> list[Any]:
    """Literal ALLOW bindings (or filters matching them) for ``principal`` from any
    host, one per (resource type, name, operation)."""
    return [
        kind(
            ResourceType[rtype],
            name,
            ResourcePatternType.LITERAL,
            principal,
            "*",
            AclOperation[op],
            AclPermissionType.ALLOW,
        )
        for rtype, name, op in acls
    ]


def grant_acls(internal: str, principal: str, acls: Sequence[tuple[str, str, str]]) -> None:
    """Create literal ALLOW bindings for ``principal`` from any host, one per (resource
    type, name, operation), over the PLAINTEXT listener.

    Raises:
        ClusterError: the broker refused a binding.
    """
    admin = AdminClient({"bootstrap.servers": internal, "log_level": 0})
    futures = admin.create_acls(_allow(AclBinding, principal, acls), request_timeout=30)
    for binding, fut in futures.items():
        try:
            fut.result(timeout=60)
        except KafkaException as exc:
            raise ClusterError(f"creating ACL {binding} failed: {exc.args[0].str()}") from None


def revoke_acls(internal: str, principal: str, acls: Sequence[tuple[str, str, str]]) -> None:
    """Delete the literal ALLOW bindings :func:`grant_acls` made for these triples."""
    admin = AdminClient({"bootstrap.servers": internal, "log_level": 0})
    futures = admin.delete_acls(_allow(AclBindingFilter, principal, acls), request_timeout=30)
    for fut in futures.values():
        fut.result(timeout=60)

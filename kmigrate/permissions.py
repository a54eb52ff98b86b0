"""What a plan needs to be allowed to do, and which of it a principal lacks.

``check-connectivity`` checks, before anything changes, every ACL operation
the plan's steps will use on the source and target topics and consumer groups,
so that a principal missing one is named at the start of the window, not in the
middle of a phase.  The operations each Kafka request needs are Kafka's own
table: kafka.apache.org/documentation/#operations_resources_and_protocols.
What a principal may do is read with KIP-430's authorized operations
(DescribeTopics, DescribeGroups with ``include_authorized_operations``).

What cannot be checked beforehand is said, not guessed: Kafka reports
authorized operations only for topics that exist, so for a target topic that
``provision-topics`` has yet to create only CREATE is checked (CreateTopics
with ``validate_only`` is authorized like the real request).

This module computes; the step reads the clusters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kmigrate.acls.model import (
    CLUSTER_NAME,
    WILDCARD,
    AclBinding,
    PatternType,
    Permission,
    ResourceType,
)

#: A side of the migration and a resource type: ``("target", "topic")``.
Scope = tuple[str, str]


@dataclass(frozen=True)
class Need:
    """One ACL operation a step needs on every selected resource of one scope.

    ``side``: ``source`` or ``target``; ``resource``: ``topic``, ``group`` or
    ``cluster`` (the one resource ``kafka-cluster``);
    ``operation``: Kafka's name (``READ``, ``WRITE``, ...); ``why``: the request.
    """

    side: str
    resource: str
    operation: str
    why: str


#: Per step action, what it does on which resources (Kafka's protocol table; the
#: request named in ``why``).  kmigrate never alters an existing topic's configs, and
#: CreateTopics with configs needs CREATE alone, so ALTER_CONFIGS is not needed.
NEEDS: dict[str, tuple[Need, ...]] = {
    "export-topics": (
        Need("source", "topic", "DESCRIBE", "export-topics: Metadata"),
        Need("source", "topic", "DESCRIBE_CONFIGS", "export-topics: DescribeConfigs"),
    ),
    "provision-topics": (
        Need("target", "topic", "CREATE", "provision-topics: CreateTopics"),
        Need("target", "topic", "DESCRIBE", "provision-topics: Metadata"),
        Need("target", "topic", "DESCRIBE_CONFIGS", "provision-topics: DescribeConfigs"),
        Need("target", "topic", "DELETE", "rollback of provision-topics: DeleteTopics"),
    ),
    "mirror": (
        Need("source", "topic", "READ", "mirror: Fetch"),
        Need("target", "topic", "WRITE", "mirror: Produce"),
        Need("target", "topic", "DESCRIBE", "mirror: ListOffsets"),
    ),
    "verify": (
        Need("source", "topic", "READ", "verify: Fetch"),
        Need("target", "topic", "READ", "verify: Fetch"),
    ),
    "dual-write-check": (
        Need("source", "topic", "READ", "dual-write-check: Fetch"),
        Need("target", "topic", "READ", "dual-write-check: Fetch"),
    ),
    "translate-offsets": (
        Need("source", "group", "DESCRIBE", "translate-offsets: OffsetFetch"),
        Need("source", "topic", "DESCRIBE", "translate-offsets: OffsetFetch"),
        Need("target", "group", "READ", "translate-offsets: OffsetCommit"),
        Need("target", "topic", "READ", "translate-offsets: OffsetCommit"),
        Need("target", "group", "DESCRIBE", "translate-offsets: DescribeGroups"),
        Need("target", "group", "DELETE", "rollback of translate-offsets: DeleteGroups"),
    ),
    "provision-acls": (
        Need("target", "cluster", "ALTER", "provision-acls: CreateAcls, DeleteAcls (rollback)"),
        Need("target", "cluster", "DESCRIBE", "provision-acls: DescribeAcls"),
    ),
    "source-quiet": (Need("source", "topic", "DESCRIBE", "source-quiet: ListOffsets"),),
    "consumers-on-target": (
        Need("target", "group", "DESCRIBE", "consumers-on-target: DescribeGroups, OffsetFetch"),
        Need("target", "topic", "DESCRIBE", "consumers-on-target: OffsetFetch"),
        Need("source", "group", "DESCRIBE", "consumers-on-target: DescribeGroups"),
    ),
}


def needs_for(actions: Iterable[str]) -> list[Need]:
    """The needs of these step actions, without repeats, in a stable order."""
    seen: dict[tuple[str, str, str], Need] = {}
    for action in actions:
        for need in NEEDS.get(action, ()):
            seen.setdefault((need.side, need.resource, need.operation), need)
    return sorted(seen.values(), key=lambda n: (n.side, n.resource, n.operation))


@dataclass(frozen=True)
class Missing:
    """An operation the principal lacks on one resource (``why``: which step needs it)."""

    side: str
    resource: str
    name: str
    operation: str
    why: str

    def __str__(self) -> str:
        return f"{self.operation} on {self.side} {self.resource} {self.name} ({self.why})"


#: Per (side, resource, operation): the resources on which it could not be checked.
Unchecked = dict[tuple[str, str, str], list[str]]


def missing(
    needs: Iterable[Need],
    granted: Mapping[Scope, Mapping[str, frozenset[str] | None]],
) -> tuple[list[Missing], Unchecked]:
    """Which needed operations the principal lacks, and what could not be checked.

    Args:
        needs: from :func:`needs_for`.
        granted: per scope, per resource name, the authorized operations
            (``None``: unknown, e.g. a topic that does not exist yet).

    Returns:
        ``(missing operations, unchecked)``.
    """
    lacking: list[Missing] = []
    unknown: Unchecked = {}
    for need in needs:
        for name, ops in sorted(granted.get((need.side, need.resource), {}).items()):
            if ops is None:
                unknown.setdefault((need.side, need.resource, need.operation), []).append(name)
            elif need.operation not in ops:
                lacking.append(Missing(need.side, need.resource, name, need.operation, need.why))
    return lacking, unknown


def describe_unchecked(unknown: Unchecked) -> list[str]:
    """One line per operation that could not be checked on some resources."""
    return [
        f"{op} on {len(names)} {side} {resource}(s) not checked: "
        "they do not exist there yet, or the broker did not say "
        f"({', '.join(names[:3])}{' …' if len(names) > 3 else ''})"
        for (side, resource, op), names in sorted(unknown.items())
    ]


# --- MirrorMaker 2 with exactly-once source (KIP-618) ------------------------------------

#: Operations another implies in Kafka's authorizer: DESCRIBE is implied by READ,
#: WRITE, DELETE and ALTER; DESCRIBE_CONFIGS by ALTER_CONFIGS; ALL implies every one.
#: Only an ALLOW implies: a DENY denies exactly its operation (or ALL).  Source:
#: kafka.apache.org/documentation/#operations_resources_and_protocols (the notes under
#: the table) and ``StandardAuthorizer``'s matching.
IMPLIED_BY: Mapping[str, frozenset[str]] = {
    "DESCRIBE": frozenset({"READ", "WRITE", "DELETE", "ALTER"}),
    "DESCRIBE_CONFIGS": frozenset({"ALTER_CONFIGS"}),
}


@dataclass(frozen=True)
class ExactlyOnceWriter:
    """Who writes MirrorMaker 2's records to the target when the Connect cluster runs
    source connectors exactly once (KIP-618), and as which transactional ids.

    ``principal``: ``User:name`` the source tasks' producer authenticates as on the
    target (kmigrate's MM2 configs give it the plan's target principal through
    ``producer.override.*``).  ``connector``: the MirrorSourceConnector's name.
    ``tasks``: its ``tasks.max``.  ``group_id``: the Connect cluster's ``group.id``
    when known; without it a transactional-id binding counts when it has one of the
    shapes KIP-618 names for this connector (see :func:`exactly_once_missing`).
    ``required``: the plan says ``exactly_once: true``; False where the MM2 step
    uses exactly-once only if the Connect cluster has it (then ``connect``, the
    plan's ``connect:`` block, lets the check ask the cluster first).

    KIP-618 ("Exactly-Once Support for Source Connectors", section "Connector
    principal permissions"): each task ``T`` writes in transactions with the
    transactional id ``${groupId}-${connector}-${T}``, so the connector's producer
    principal needs Write (and Describe) on those TransactionalId resources (a
    prefixed ``${groupId}-${connector}`` binding is KIP-618's shorthand) and
    IdempotentWrite on the Cluster.  The worker's own principal
    (``connect-cluster-${groupId}``) is the Connect cluster operator's, not checked.
    """

    principal: str
    connector: str
    tasks: int
    group_id: str | None = None
    required: bool = True
    connect: Any = field(default=None, compare=False)

    def transactional_ids(self) -> list[str]:
        """``GROUP-CONNECTOR-T`` per task (``<group.id>`` when the group is unknown)."""
        group = self.group_id or "<group.id>"
        return [f"{group}-{self.connector}-{t}" for t in range(self.tasks)]


def _names_match(binding: AclBinding, name: str, suffix: str | None) -> bool:
    """Does ``binding``'s resource pattern cover ``name``?  With ``suffix`` (the
    group id unknown: ``name`` is ``<group.id>-CONNECTOR-T`` and ``suffix``
    ``-CONNECTOR-T``), a literal name ending in ``suffix`` or a prefix ending in
    ``-CONNECTOR`` / ``-CONNECTOR-`` counts."""
    if binding.pattern_type is PatternType.LITERAL:
        if binding.name == WILDCARD:
            return True
        return binding.name.endswith(suffix) if suffix else binding.name == name
    if suffix:
        connector = suffix.rsplit("-", 1)[0]
        return binding.name.endswith((connector, connector + "-"))
    return name.startswith(binding.name)


def acl_allows(
    bindings: Iterable[AclBinding],
    principal: str,
    resource: ResourceType,
    name: str,
    operation: str,
    suffix: str | None = None,
) -> bool:
    """Whether ``bindings`` let ``principal`` do ``operation`` on a resource, as
    Kafka's authorizer decides: a matching DENY (of the operation or ALL) wins, else a
    matching ALLOW of it, of ALL, or of an operation implying it (:data:`IMPLIED_BY`).
    A binding matches the principal itself or ``User:*``, any host (kmigrate does not
    know the Connect workers' addresses), and the resource by its pattern
    (``_names_match``)."""
    allowing = {operation, "ALL", *IMPLIED_BY.get(operation, ())}
    allowed = False
    for b in bindings:
        if b.resource_type is not resource or b.principal not in (principal, "User:*"):
            continue
        if not _names_match(b, name, suffix):
            continue
        if b.permission is Permission.DENY and b.operation in (operation, "ALL"):
            return False
        if b.permission is Permission.ALLOW and b.operation in allowing:
            allowed = True
    return allowed


def exactly_once_missing(
    writer: ExactlyOnceWriter, bindings: Iterable[AclBinding]
) -> list[Missing]:
    """What ``writer.principal`` lacks on the target for MirrorMaker 2 with
    exactly-once source (KIP-618): Write and Describe on each task's transactional
    id, IdempotentWrite on the cluster; ``bindings``: every binding the target holds
    (DescribeAcls).  Without ``writer.group_id`` the transactional ids are matched by
    their KIP-618 shape: a literal ``*``, a literal name ending in
    ``-CONNECTOR-T``, or a prefix ending in ``-CONNECTOR``."""
    bindings = list(bindings)
    why = (
        f"mirror with MirrorMaker 2 exactly-once (KIP-618) as {writer.principal}, "
        f"connector {writer.connector}"
    )
    lacking = []
    for task, name in enumerate(writer.transactional_ids()):
        suffix = None if writer.group_id else f"-{writer.connector}-{task}"
        for op in ("WRITE", "DESCRIBE"):
            if not acl_allows(
                bindings, writer.principal, ResourceType.TRANSACTIONAL_ID, name, op, suffix
            ):
                lacking.append(
                    Missing("target", "transactional id", name, op, f"{why}, task {task}")
                )
    if not acl_allows(
        bindings, writer.principal, ResourceType.CLUSTER, CLUSTER_NAME, "IDEMPOTENT_WRITE"
    ):
        lacking.append(Missing("target", "cluster", CLUSTER_NAME, "IDEMPOTENT_WRITE", why))
    return lacking

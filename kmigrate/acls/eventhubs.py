"""Event Hubs: Kafka ACL bindings become Azure role assignments (Azure RBAC).

An Event Hubs namespace authorizes Entra ID clients with Azure role assignments,
not Kafka ACLs: a built-in data role on the namespace or on one event hub (a
topic).  This module decides each binding and describes the role assignments
to make; :mod:`kmigrate.clusters.eventhubs_rbac` creates them through ARM.

Facts and their sources:

* The built-in roles and their ids: Azure Event Hubs Data Sender
  ``2b629674-e913-4c01-ae53-ef4638d8f975``, Data Receiver
  ``a638d3c7-ab3a-418d-83e6-5f17a39d4fde``, Data Owner
  ``f526a384-b230-433a-b45c-95f59c4a2dec``
  (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles,
  "Analytics"); they may be assigned at namespace or event hub scope
  (https://learn.microsoft.com/azure/event-hubs/authorize-access-azure-active-directory).
* A role assignment's scope is one resource: no prefix, no pattern
  (https://learn.microsoft.com/azure/role-based-access-control/scope-overview).
* Deny assignments are made by Azure itself (Blueprints, managed applications,
  deployment stacks), never through the role-assignments API
  (https://learn.microsoft.com/azure/role-based-access-control/deny-assignments).
* Kafka consumer groups on Event Hubs are created on use and span the namespace;
  no role is granted per group
  (https://learn.microsoft.com/azure/event-hubs/apache-kafka-frequently-asked-questions).
* Topic management through the Kafka endpoint is not supported: hubs are ARM
  resources (https://learn.microsoft.com/azure/event-hubs/apache-kafka-configurations);
  transactions are not relied on (``../shared/docs/targets.md``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from kmigrate.acls.decisions import (
    CONVERTED,
    DROPPED,
    REFUSED,
    AclDecision,
    AclTranslation,
    Rule,
    decide,
    rule,
    translate_each,
)
from kmigrate.acls.model import (
    WILDCARD,
    AclBinding,
    Operation,
    PatternType,
    Permission,
    ResourceType,
)
from kmigrate.acls.principals import PrincipalMap

BUILT_IN_ROLES_PAGE = "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles"
AUTHORIZE_PAGE = (
    "https://learn.microsoft.com/azure/event-hubs/authorize-access-azure-active-directory"
)
SCOPE_PAGE = "https://learn.microsoft.com/azure/role-based-access-control/scope-overview"
DENY_PAGE = "https://learn.microsoft.com/azure/role-based-access-control/deny-assignments"
NETWORK_PAGE = "https://learn.microsoft.com/azure/event-hubs/network-security"
KAFKA_FAQ_PAGE = (
    "https://learn.microsoft.com/azure/event-hubs/apache-kafka-frequently-asked-questions"
)
KAFKA_CONFIG_PAGE = "https://learn.microsoft.com/azure/event-hubs/apache-kafka-configurations"
ROLE_ASSIGNMENT_API_PAGE = (
    "https://learn.microsoft.com/rest/api/authorization/role-assignments/create"
)

#: Built-in role name -> role definition id (BUILT_IN_ROLES_PAGE).
ROLE_IDS = {
    "Azure Event Hubs Data Sender": "2b629674-e913-4c01-ae53-ef4638d8f975",
    "Azure Event Hubs Data Receiver": "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
    "Azure Event Hubs Data Owner": "f526a384-b230-433a-b45c-95f59c4a2dec",
}
#: ALLOW on a topic -> the role that grants it.
TOPIC_ROLES = {
    Operation.WRITE: "Azure Event Hubs Data Sender",
    Operation.READ: "Azure Event Hubs Data Receiver",
    Operation.ALL: "Azure Event Hubs Data Owner",
}
#: The principal types a role assignment names (RoleAssignmentCreateParameters.principal_type).
PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group", "ForeignGroup")
#: Fixed namespace for the assignment names (uuid5): the same scope, role and principal
#: always give the same name, so creating again is a no-op PUT.
_NAME_NS = uuid.UUID("9a0c7a52-7d55-4c36-a7d5-2f1b3c3f6a15")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

EVENTHUBS_TOPIC_ROLE = rule(
    "eventhubs_topic_role",
    "ALLOW WRITE on a topic becomes Azure Event Hubs Data Sender, READ Data Receiver, ALL "
    "Data Owner, at the scope of that event hub; the LITERAL `*` topic, at the namespace.",
    f"{BUILT_IN_ROLES_PAGE} ; {AUTHORIZE_PAGE}",
)
EVENTHUBS_PREFIXED = rule(
    "eventhubs_prefixed",
    "A PREFIXED topic binding is refused: a role assignment's scope is one namespace or one "
    "hub, never a name prefix, and the namespace would grant every hub.",
    SCOPE_PAGE,
)
EVENTHUBS_DENY = rule(
    "eventhubs_deny",
    "A DENY binding is refused: Azure deny assignments are made only by Azure itself, not "
    "through the role-assignments API.",
    DENY_PAGE,
)
EVENTHUBS_HOST = rule(
    "eventhubs_host",
    "A binding limited to a host other than `*` is refused: a role assignment has no client "
    "address (IP rules are namespace-wide network settings).",
    NETWORK_PAGE,
)
EVENTHUBS_COVERED = rule(
    "eventhubs_covered",
    "ALLOW DESCRIBE on a topic, ALLOW READ or DESCRIBE on a consumer group and ALLOW "
    "IDEMPOTENT_WRITE or DESCRIBE on the cluster are dropped: the Data Sender and Receiver "
    "roles include them, and Kafka consumer groups on Event Hubs are created on use across "
    "the namespace, with no role per group (so a receiver may use any group).",
    f"{BUILT_IN_ROLES_PAGE} ; {KAFKA_FAQ_PAGE}",
)
EVENTHUBS_NO_EQUIVALENT = rule(
    "eventhubs_no_equivalent",
    "Bindings with no data-plane role are refused by name: topic CREATE, DELETE, ALTER, "
    "DESCRIBE_CONFIGS, ALTER_CONFIGS (hubs are ARM resources), group DELETE, other cluster "
    "operations, and transactional ids (transactions are not relied on).",
    f"{KAFKA_CONFIG_PAGE} ; {KAFKA_FAQ_PAGE}",
)
EVENTHUBS_PRINCIPAL = rule(
    "eventhubs_principal",
    "The mapped principal must be `ServicePrincipal|User|Group|ForeignGroup:OBJECT_ID` "
    "(an Entra object id): a role assignment names the object id and its type (the SDK "
    "would otherwise assume User).",
    ROLE_ASSIGNMENT_API_PAGE,
)


@dataclass(frozen=True)
class Namespace:
    """Where the namespace lives (the plan's ``clusters.target``)."""

    subscription_id: str
    resource_group: str
    namespace: str

    @property
    def scope(self) -> str:
        """The namespace's ARM resource id (the scope of a namespace-wide assignment)."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.EventHub/namespaces/{self.namespace}"
        )

    def hub_scope(self, hub: str) -> str:
        """One event hub's ARM resource id."""
        return f"{self.scope}/eventhubs/{hub}"

    def role_definition_id(self, role: str) -> str:
        """The full role definition id of a built-in role in this subscription."""
        return (
            f"/subscriptions/{self.subscription_id}/providers/Microsoft.Authorization"
            f"/roleDefinitions/{ROLE_IDS[role]}"
        )


@dataclass(frozen=True, order=True)
class RoleAssignment:
    """One role assignment to create: ``role`` for ``principal_id`` at ``scope``.

    ``name`` is the assignment's GUID (uuid5 of scope, role and principal, so the
    same assignment always has the same name).
    """

    scope: str
    role: str
    role_definition_id: str
    principal_id: str
    principal_type: str
    name: str

    def to_dict(self) -> dict[str, str]:
        """The output-file shape (every field)."""
        return asdict(self)


def split_principal(mapped: str) -> tuple[str, str] | None:
    """``(principal_type, object_id)`` from ``Type:OBJECT_ID``, or None when malformed."""
    kind, _, oid = mapped.partition(":")
    if kind not in PRINCIPAL_TYPES or not _GUID.match(oid):
        return None
    return kind, oid.lower()


def _assignment(ns: Namespace, scope: str, role: str, mapped: str) -> RoleAssignment:
    kind, oid = split_principal(mapped)  # type: ignore[misc]
    name = str(uuid.uuid5(_NAME_NS, f"{scope.lower()}|{ROLE_IDS[role]}|{oid}"))
    return RoleAssignment(scope, role, ns.role_definition_id(role), oid, kind, name)


def _one(ns: Namespace, binding: AclBinding, mapped: str) -> AclDecision:
    rt, op = binding.resource_type, binding.operation

    def refuse(r: Rule, why: str) -> AclDecision:
        return decide(binding, REFUSED, r, why, mapped)

    if split_principal(mapped) is None:
        return refuse(
            EVENTHUBS_PRINCIPAL,
            f"{binding.principal} is mapped to {mapped!r}, not "
            "ServicePrincipal|User|Group|ForeignGroup:OBJECT_ID",
        )
    if binding.permission is Permission.DENY:
        return refuse(EVENTHUBS_DENY, "Azure has no user-made deny assignment")
    if binding.host != WILDCARD:
        return refuse(
            EVENTHUBS_HOST, f"host {binding.host}: a role assignment has no client address"
        )
    covered = {
        ResourceType.TOPIC: {Operation.DESCRIBE},
        ResourceType.GROUP: {Operation.READ, Operation.DESCRIBE},
        ResourceType.CLUSTER: {Operation.IDEMPOTENT_WRITE, Operation.DESCRIBE},
    }
    if op in covered.get(rt, set()):
        return decide(
            binding, DROPPED, EVENTHUBS_COVERED, f"{op} on {rt}: included in the data roles", mapped
        )
    if rt is ResourceType.TOPIC and op in TOPIC_ROLES:
        if binding.pattern_type is PatternType.PREFIXED:
            return refuse(
                EVENTHUBS_PREFIXED,
                f"prefix {binding.name!r}: a role's scope is one hub or the namespace",
            )
        scope = ns.scope if binding.is_wildcard else ns.hub_scope(binding.name)
        a = _assignment(ns, scope, TOPIC_ROLES[op], mapped)
        where = "the namespace" if binding.is_wildcard else f"hub {binding.name}"
        return decide(
            binding, CONVERTED, EVENTHUBS_TOPIC_ROLE, f"{a.role} on {where}", mapped, a.to_dict()
        )
    what = {
        ResourceType.TOPIC: "topic management goes through ARM, not Kafka",
        ResourceType.GROUP: "consumer groups have no role of their own",
        ResourceType.CLUSTER: "no data-plane role grants it",
        ResourceType.TRANSACTIONAL_ID: "transactions are not relied on on Event Hubs",
    }[rt]
    return refuse(EVENTHUBS_NO_EQUIVALENT, f"{op} on {rt} has no RBAC equivalent: {what}")


def translate(
    bindings: Iterable[AclBinding], principals: PrincipalMap, ns: Namespace
) -> AclTranslation:
    """Decide every binding for an Event Hubs namespace.

    A converted decision's ``target`` is the :class:`RoleAssignment` as a dict;
    :func:`role_assignments` gathers them (each once).
    """
    return translate_each("eventhubs", bindings, principals, lambda b, m: _one(ns, b, m))


def role_assignments(translation: AclTranslation) -> list[RoleAssignment]:
    """The role assignments the converted decisions call for, each once, sorted."""
    made = {
        RoleAssignment(**d.target)
        for d in translation.decisions
        if d.decision == CONVERTED and d.target is not None
    }
    return sorted(made)

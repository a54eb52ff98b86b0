"""ACL bindings as a neutral value type: what a source cluster allows or denies, to whom.

A Kafka ACL binding is a resource pattern (resource type, name, pattern type) and
an access control entry (principal, host, operation, permission): Apache Kafka's
``org.apache.kafka.common.acl.AclBinding`` (KIP-140 for the Admin API, KIP-290 for
prefixed patterns).  Source: kafka.apache.org/documentation/#security_authz and
the ``kafka-acls`` tool's options.

This module holds no client code: :mod:`kmigrate.adapters.kafka_acls` converts
confluent-kafka's bindings to and from :class:`AclBinding`, and the translations in
:mod:`kmigrate.acls` work on these values only (so ``plan --offline`` can compute
them from a snapshot).

The snapshot shape of one binding (:meth:`AclBinding.to_dict`)::

    {"resource_type": "TOPIC", "name": "orders", "pattern_type": "LITERAL",
     "principal": "User:orders-svc", "host": "*", "operation": "WRITE",
     "permission": "ALLOW"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum


class ResourceType(StrEnum):
    """The resource types kmigrate moves.

    Kafka's ``ResourceType`` also has ``DELEGATION_TOKEN`` and ``USER``
    (KIP-48, KIP-554): bindings on those are about credentials, which a
    migration does not move; :func:`parse_binding` refuses them by name.
    """

    TOPIC = "TOPIC"
    GROUP = "GROUP"
    CLUSTER = "CLUSTER"
    TRANSACTIONAL_ID = "TRANSACTIONAL_ID"


class PatternType(StrEnum):
    """How the resource name matches: exactly (``*`` is the wildcard) or as a prefix (KIP-290)."""

    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


class Operation(StrEnum):
    """Kafka ACL operations (``org.apache.kafka.common.acl.AclOperation`` without ANY/UNKNOWN)."""

    ALL = "ALL"
    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DELETE = "DELETE"
    ALTER = "ALTER"
    DESCRIBE = "DESCRIBE"
    CLUSTER_ACTION = "CLUSTER_ACTION"
    DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"
    ALTER_CONFIGS = "ALTER_CONFIGS"
    IDEMPOTENT_WRITE = "IDEMPOTENT_WRITE"


class Permission(StrEnum):
    """ALLOW or DENY; in Kafka a matching DENY wins over any ALLOW."""

    ALLOW = "ALLOW"
    DENY = "DENY"


#: The name Kafka gives the one cluster resource.
CLUSTER_NAME = "kafka-cluster"
#: The resource name (with ``LITERAL``) and the host that mean "any".
WILDCARD = "*"

_FIELDS = (
    "resource_type",
    "name",
    "pattern_type",
    "principal",
    "host",
    "operation",
    "permission",
)


class AclInputError(ValueError):
    """A binding or a principal map is malformed; ``key`` is the offending key path.

    Callers that read a file turn it into a :class:`kmigrate.errors.PlanError`
    naming the file and line.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ACL binding: ``permission`` ``operation`` on the resource for ``principal``
    connecting from ``host``.

    ``principal`` is ``Type:name`` as Kafka writes it (``User:orders-svc``,
    ``User:*``, ``User:CN=app,O=shop`` for mTLS).  ``host`` is an IP address or
    ``*``.  A LITERAL ``name`` of ``*`` matches every resource of the type.
    Hashable and ordered, so sets of bindings compare and sort.
    """

    resource_type: ResourceType
    name: str
    pattern_type: PatternType
    principal: str
    host: str
    operation: Operation
    permission: Permission

    def to_dict(self) -> dict[str, str]:
        """The snapshot / JSON shape (every value a plain string)."""
        return {k: str(v) for k, v in asdict(self).items()}

    def with_principal(self, principal: str) -> AclBinding:
        """The same binding for another principal."""
        return replace(self, principal=principal)

    @property
    def is_wildcard(self) -> bool:
        """True for a LITERAL ``*`` resource name (every resource of the type)."""
        return self.pattern_type is PatternType.LITERAL and self.name == WILDCARD

    def describe(self) -> str:
        """One line for people, e.g. ``ALLOW User:a WRITE on TOPIC orders (LITERAL) from *``."""
        return (
            f"{self.permission} {self.principal} {self.operation} on {self.resource_type} "
            f"{self.name} ({self.pattern_type}) from {self.host}"
        )


def check_principal(value: object, key: str) -> str:
    """``value`` if it is a Kafka principal ``Type:name`` (both parts non-empty).

    Raises:
        AclInputError: not a string of that shape (the message names ``key``).
    """
    if not isinstance(value, str) or ":" not in value:
        raise AclInputError(
            key, f"expected a principal 'Type:name' (User:orders-svc), found {value!r}"
        )
    kind, _, name = value.partition(":")
    if not kind or not name:
        raise AclInputError(
            key, f"expected a principal 'Type:name' (User:orders-svc), found {value!r}"
        )
    return value


def _enum(kind: type[StrEnum], value: object, key: str) -> StrEnum:
    try:
        return kind(str(value).upper())
    except ValueError:
        allowed = ", ".join(str(m) for m in kind)
        raise AclInputError(key, f"expected one of {allowed}, found {value!r}") from None


def parse_binding(data: object, key: str = "acls[]") -> AclBinding:
    """A binding from its snapshot shape (see the module docstring).

    ``host`` defaults to ``*``; enum values are case-insensitive.  The cluster
    resource's name must be ``kafka-cluster``.

    Raises:
        AclInputError: not a mapping, a missing or unknown key, an unknown
            resource type (``DELEGATION_TOKEN`` and ``USER`` named as not moved),
            pattern type, operation or permission, a malformed principal.
    """
    if not isinstance(data, Mapping):
        raise AclInputError(key, f"expected a mapping, found {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(_FIELDS))
    if unknown:
        raise AclInputError(f"{key}.{unknown[0]}", f"unknown key; expected {', '.join(_FIELDS)}")
    missing = [f for f in _FIELDS if f not in data and f != "host"]
    if missing:
        raise AclInputError(f"{key}.{missing[0]}", "missing")
    rtype = str(data["resource_type"]).upper()
    if rtype in ("DELEGATION_TOKEN", "USER"):
        raise AclInputError(
            f"{key}.resource_type",
            f"{rtype} bindings guard credentials, which a migration does not move",
        )
    name = data["name"]
    if not isinstance(name, str) or not name:
        raise AclInputError(f"{key}.name", f"expected a resource name, found {name!r}")
    binding = AclBinding(
        ResourceType(_enum(ResourceType, rtype, f"{key}.resource_type")),
        name,
        PatternType(_enum(PatternType, data["pattern_type"], f"{key}.pattern_type")),
        check_principal(data["principal"], f"{key}.principal"),
        str(data.get("host", WILDCARD)),
        Operation(_enum(Operation, data["operation"], f"{key}.operation")),
        Permission(_enum(Permission, data["permission"], f"{key}.permission")),
    )
    if binding.resource_type is ResourceType.CLUSTER and name != CLUSTER_NAME:
        raise AclInputError(f"{key}.name", f"the cluster resource is named {CLUSTER_NAME!r}")
    return binding


def parse_bindings(items: object, key: str = "acls") -> list[AclBinding]:
    """:func:`parse_binding` over a list, keys ``acls[0]``, ``acls[1]``, ...

    Raises:
        AclInputError: not a list, or a bad item (named by index).
    """
    if not isinstance(items, list):
        raise AclInputError(key, f"expected a list of bindings, found {type(items).__name__}")
    return [parse_binding(item, f"{key}[{i}]") for i, item in enumerate(items)]

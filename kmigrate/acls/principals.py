"""Which target identity each source principal becomes: the plan's ``acls`` block.

The plan shape (issue 15; ``docs/acls.md``, "Principals")::

    acls:
      principals:                       # source principal -> target principal
        "User:orders-svc": "User:sa-123abc"        # Confluent Cloud service account
        "User:billing": "arn:aws:iam::123456789012:role/billing"      # MSK with IAM
        "User:reports": "ServicePrincipal:7f1c...-..."                # Event Hubs (object id)
      drop:                             # source principals whose bindings are not moved
        - "User:legacy-batch"

Every principal that a selected binding names must be mapped or dropped: an
unmapped principal is refused by name, never guessed (mapping a principal to
itself is written out: ``"User:app": "User:app"``).  A principal may not be both
mapped and dropped.  ``User:*`` (every principal) is a principal like any other
here: it must be mapped (usually to itself, on a Kafka-ACL target) or dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kmigrate.acls.model import AclInputError, check_principal


class UnmappedPrincipal(KeyError):
    """A principal the plan neither maps nor drops; ``principal`` names it."""

    def __init__(self, principal: str) -> None:
        super().__init__(principal)
        self.principal = principal


@dataclass(frozen=True)
class PrincipalMap:
    """Source principal -> target principal, and the principals whose bindings are dropped.

    ``mapping`` keys are Kafka principals (``Type:name``); values are the target's
    identity in the target's own form (a Kafka principal, an IAM role or user ARN,
    ``ServicePrincipal|User|Group:OBJECT_ID`` for Azure).  Each translation checks
    the values' form for its target.
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()

    def target_for(self, principal: str) -> str | None:
        """The target principal for ``principal``; None when the plan drops it.

        Raises:
            UnmappedPrincipal: the plan neither maps nor drops ``principal``.
        """
        if principal in self.drop:
            return None
        try:
            return self.mapping[principal]
        except KeyError:
            raise UnmappedPrincipal(principal) from None

    def unmapped(self, principals: Iterable[str]) -> list[str]:
        """The principals (sorted, each once) that are neither mapped nor dropped."""
        return sorted({p for p in principals if p not in self.mapping and p not in self.drop})

    @classmethod
    def from_plan(cls, data: object, key: str = "acls") -> PrincipalMap:
        """Parse the plan's ``acls`` block (``principals`` mapping, ``drop`` list).

        Raises:
            AclInputError: not a mapping; an unknown key; a key or a drop entry
                that is not ``Type:name``; a target that is not a non-empty string;
                a principal both mapped and dropped (named with its key path).
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise AclInputError(key, f"expected a mapping, found {type(data).__name__}")
        for k in data:
            if k not in ("principals", "drop"):
                raise AclInputError(f"{key}.{k}", "unknown key; expected principals, drop")
        raw = data.get("principals") or {}
        if not isinstance(raw, Mapping):
            raise AclInputError(f"{key}.principals", "expected a mapping of principal: principal")
        mapping: dict[str, str] = {}
        for src, dst in raw.items():
            where = f"{key}.principals.{src}"
            check_principal(src, where)
            if not isinstance(dst, str) or not dst.strip():
                raise AclInputError(where, f"expected the target principal, found {dst!r}")
            mapping[src] = dst.strip()
        drops = data.get("drop") or []
        if not isinstance(drops, list):
            raise AclInputError(f"{key}.drop", "expected a list of principals")
        drop = frozenset(check_principal(p, f"{key}.drop[{i}]") for i, p in enumerate(drops))
        both = sorted(drop & mapping.keys())
        if both:
            raise AclInputError(f"{key}.drop", f"{both[0]} is both mapped and dropped")
        return cls(mapping, drop)

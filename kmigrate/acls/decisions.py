"""What happens to each source ACL binding on a target, with the rule and its source.

Like the topic-config table (:mod:`kmigrate.targets.rules`, ``docs/rules.md``),
every binding gets one decision: ``copied`` (as it is), ``converted`` (into the
target's form: another principal, IAM actions, an Azure role), ``dropped`` (not
moved, by the plan or because the target covers it otherwise) or ``refused``
(the target cannot hold it; the reason says why).  Each decision names its rule
and the rule's source (a documentation URL); :data:`RULES` lists them all and
``docs/acls.md`` prints that list (a test keeps the two equal).

JSON shape of :meth:`AclTranslation.to_dict` (``plan --output json`` will carry it)::

    {"target": "kafka" | "msk-iam" | "eventhubs",
     "counts": {"copied": n, "converted": n, "dropped": n, "refused": n},
     "unmapped_principals": ["User:x", ...],
     "decisions": [{"binding": {...}, "decision", "rule", "source", "reason",
                    "target_principal", "target": {...} | null}]}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kmigrate.acls.model import AclBinding
from kmigrate.acls.principals import PrincipalMap, UnmappedPrincipal

COPIED, CONVERTED, DROPPED, REFUSED = "copied", "converted", "dropped", "refused"
DECISIONS = (COPIED, CONVERTED, DROPPED, REFUSED)


@dataclass(frozen=True)
class Rule:
    """A named translation rule: what it does (one sentence) and where the fact comes from."""

    name: str
    summary: str
    source: str


#: Every ACL rule by name (``docs/acls.md`` lists the same; the target modules add theirs).
RULES: dict[str, Rule] = {}


def rule(name: str, summary: str, source: str) -> Rule:
    """Register and return a rule (each name once).

    Raises:
        ValueError: a rule of that name is registered already.
    """
    if name in RULES:
        raise ValueError(f"ACL rule {name} registered twice")
    RULES[name] = Rule(name, summary, source)
    return RULES[name]


PRINCIPAL_DROPPED = rule(
    "principal_dropped",
    "A binding whose principal the plan lists under `acls.drop` is not moved.",
    "docs/acls.md#principals (the plan's `acls.drop`; issue 15)",
)
PRINCIPAL_UNMAPPED = rule(
    "principal_unmapped",
    "A binding whose principal the plan neither maps (`acls.principals`) nor drops is "
    "refused, naming the principal: kmigrate never guesses a target identity.",
    "docs/acls.md#principals (issue 15: an unmapped principal is refused by name)",
)


@dataclass(frozen=True)
class AclDecision:
    """The decision for one source binding.

    ``target_principal`` is the mapped principal (None when dropped or unmapped);
    ``target`` what the binding becomes on the target (the Kafka binding, the IAM
    statement, the role assignment), None when nothing is made.
    """

    binding: AclBinding
    decision: str
    rule: str
    source: str
    reason: str
    target_principal: str | None = None
    target: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (see the module docstring)."""
        return {
            "binding": self.binding.to_dict(),
            "decision": self.decision,
            "rule": self.rule,
            "source": self.source,
            "reason": self.reason,
            "target_principal": self.target_principal,
            "target": dict(self.target) if self.target is not None else None,
        }


def decide(
    binding: AclBinding,
    decision: str,
    r: Rule,
    reason: str,
    target_principal: str | None = None,
    target: Mapping[str, Any] | None = None,
) -> AclDecision:
    """An :class:`AclDecision` under rule ``r`` (its name and source filled in)."""
    return AclDecision(binding, decision, r.name, r.source, reason, target_principal, target)


@dataclass
class AclTranslation:
    """Every binding's decision for one target, in the order of the source bindings."""

    target: str
    decisions: list[AclDecision] = field(default_factory=list)

    def by(self, decision: str) -> list[AclDecision]:
        """The decisions of one kind (``copied``, ``converted``, ``dropped``, ``refused``)."""
        return [d for d in self.decisions if d.decision == decision]

    @property
    def counts(self) -> dict[str, int]:
        """``{decision: count}`` for every decision kind (zeros included)."""
        seen = Counter(d.decision for d in self.decisions)
        return {k: seen.get(k, 0) for k in DECISIONS}

    @property
    def unmapped_principals(self) -> list[str]:
        """The principals refused as unmapped, sorted, each once."""
        return sorted(
            {d.binding.principal for d in self.by(REFUSED) if d.rule == PRINCIPAL_UNMAPPED.name}
        )

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.by(REFUSED)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (see the module docstring)."""
        return {
            "target": self.target,
            "counts": self.counts,
            "unmapped_principals": self.unmapped_principals,
            "decisions": [d.to_dict() for d in self.decisions],
        }


def translate_each(
    target: str,
    bindings: Iterable[AclBinding],
    principals: PrincipalMap,
    one: Callable[[AclBinding, str], AclDecision],
) -> AclTranslation:
    """Map each binding's principal through ``principals``, then let ``one`` decide.

    A dropped principal gives ``dropped`` (:data:`PRINCIPAL_DROPPED`), an unmapped
    one ``refused`` (:data:`PRINCIPAL_UNMAPPED`, the principal named); otherwise
    ``one(binding, target_principal)`` decides.  Duplicated bindings are decided once.
    """
    result = AclTranslation(target)
    for binding in dict.fromkeys(bindings):
        try:
            mapped = principals.target_for(binding.principal)
        except UnmappedPrincipal as exc:
            result.decisions.append(
                decide(
                    binding,
                    REFUSED,
                    PRINCIPAL_UNMAPPED,
                    f"principal {exc.principal} is not mapped: add it under acls.principals "
                    "or acls.drop",
                )
            )
            continue
        if mapped is None:
            result.decisions.append(
                decide(binding, DROPPED, PRINCIPAL_DROPPED, f"{binding.principal} is in acls.drop")
            )
            continue
        result.decisions.append(one(binding, mapped))
    return result

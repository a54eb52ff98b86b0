"""What a translation is made of: its inputs (a source topic and its configs, the plan's
acceptances), its outputs (a decision per key, warnings, per topic and for the whole
selection) and what a rule sees and returns.

The result per topic is a :class:`TopicTranslation` whose :meth:`~TopicTranslation.to_dict`
is the JSON contract of issue 5::

    {"name", "action", "partitions", "replication_factor", "replication_factor_reason",
     "decisions": [{"key", "source_value", "target_value", "decision", "reason", "rule",
                    "target_key", "accepted"}],
     "warnings": [{"message", "rule"}]}

``action`` is ``create``, ``exists`` (the target already has it with at least
as many partitions) or ``refuse`` (an unaccepted refusal).  ``decision`` is
``copied``, ``converted``, ``dropped`` or ``refused``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kmigrate.targets.profiles import TargetProfile

COPIED, CONVERTED, DROPPED, REFUSED = "copied", "converted", "dropped", "refused"
CREATE, EXISTS, REFUSE = "create", "exists", "refuse"


# --- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceConfig:
    """One source topic config as the broker reported it.

    ``source`` is the DescribeConfigs source (``DYNAMIC_TOPIC_CONFIG``,
    ``DEFAULT_CONFIG``, ``STATIC_BROKER_CONFIG``, ...).  A plain string value in
    :class:`SourceTopic.configs` means an explicit topic value (a snapshot holds
    only those).
    """

    value: str | None
    source: str = "DYNAMIC_TOPIC_CONFIG"
    is_sensitive: bool = False


class TopicLike(Protocol):
    """What a snapshot topic offers: partitions, replication factor, ``{key: value}`` configs."""

    @property
    def partitions(self) -> int: ...

    @property
    def replication_factor(self) -> int: ...

    @property
    def configs(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class SourceTopic:
    """A source topic: partitions, replication factor (from Metadata), configs."""

    partitions: int
    replication_factor: int
    configs: Mapping[str, str | SourceConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class Accept:
    """A refusal the plan accepts: a topic glob and a key (``{topic: "event-*", key: ...}``)."""

    topic: str
    key: str

    def matches(self, topic: str, key: str) -> bool:
        """Whether this acceptance covers ``key`` of ``topic`` (``fnmatch`` glob on the topic)."""
        return self.key == key and fnmatch.fnmatchcase(topic, self.topic)


# --- outputs ----------------------------------------------------------------------------


@dataclass
class Decision:
    """What happens to one config key (or, for ``partitions``/``namespace``, the topic).

    ``target_key`` names the setting on the target when it differs from
    ``key`` (Event Hubs ARM properties such as ``retentionTimeInHours``).
    ``accepted`` is True for a refusal the plan accepted; the key is then not set.
    ``acceptable`` is False for a refusal no ``accept`` entry can lift.
    """

    key: str
    source_value: str | None
    target_value: str | None
    decision: str
    reason: str
    rule: str
    target_key: str | None = None
    accepted: bool = False
    acceptable: bool = True


@dataclass
class Note:
    """A warning about a topic or the whole translation, with the rule that raised it."""

    message: str
    rule: str


@dataclass
class TopicTranslation:
    """The translation of one topic (see the module docstring for the JSON shape)."""

    name: str
    action: str
    partitions: int
    replication_factor: int | None
    replication_factor_reason: str
    decisions: list[Decision] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)

    @property
    def configs(self) -> dict[str, str]:
        """Settings to apply on the target ``{target_key or key: value}`` (copied + converted)."""
        return {
            d.target_key or d.key: d.target_value
            for d in self.decisions
            if d.decision in (COPIED, CONVERTED) and d.target_value is not None
        }

    @property
    def refusals(self) -> list[Decision]:
        """Refusals that block the topic (not accepted)."""
        return [d for d in self.decisions if d.decision == REFUSED and not d.accepted]

    def to_dict(self) -> dict[str, object]:
        """The JSON contract of issue 5 (module docstring), plus ``configs``."""
        return {
            "name": self.name,
            "action": self.action,
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "replication_factor_reason": self.replication_factor_reason,
            "decisions": [asdict(d) for d in self.decisions],
            "warnings": [asdict(w) for w in self.warnings],
            "configs": self.configs,
        }


@dataclass
class Translation:
    """A whole selection: per topic, plus warnings about the whole target."""

    topics: list[TopicTranslation]
    warnings: list[Note] = field(default_factory=list)

    @property
    def refused(self) -> list[TopicTranslation]:
        """Topics whose action is ``refuse``."""
        return [t for t in self.topics if t.action == REFUSE]

    def to_dict(self) -> dict[str, object]:
        """``{"topics": [...], "warnings": [...]}``."""
        return {
            "topics": [t.to_dict() for t in self.topics],
            "warnings": [asdict(w) for w in self.warnings],
        }


# --- per-key rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyContext:
    """What a per-key rule sees: the topic, the source type, the target profile, all configs."""

    topic: str
    source_type: str
    profile: TargetProfile
    configs: Mapping[str, str]


#: A per-key rule: ``(key, value, ctx) -> (decision or None, warnings)``; None: not this rule's key.
KeyRule = Callable[[str, str, KeyContext], "tuple[Decision | None, list[Note]]"]

#: What a per-key rule returns for a key that is not its own.
NO_DECISION: tuple[Decision | None, list[Note]] = (None, [])


def decide(
    rule: Callable[..., object],
    key: str,
    source: str | None,
    target: str | None,
    decision: str,
    reason: str,
    target_key: str | None = None,
    acceptable: bool = True,
) -> Decision:
    """A :class:`Decision` about ``key`` (source value ``source`` -> ``target``, None when
    not set), named by ``rule``'s function name, as every rule prints it."""
    return Decision(
        key, source, target, decision, reason, rule.__name__, target_key, acceptable=acceptable
    )


def to_int(value: str) -> int:
    """``value`` as an integer; a decimal (``"1e3"``, ``"2.0"``) is truncated.

    Raises:
        ValueError: not a number (the key rules turn it into a refusal).
    """
    try:
        return int(value)
    except ValueError:
        return int(float(value))


def opt_int(value: object) -> int | None:
    """A fact as an integer, or None when it is absent or empty.

    Raises:
        ValueError: not an integer.
    """
    if value is None or value == "":
        return None
    return int(str(value))


def capacity_units(facts: Mapping[str, object]) -> int:
    """The declared ``processing_units`` (Event Hubs Premium) or ``capacity_units``
    (Dedicated), else 1."""
    return opt_int(facts.get("processing_units")) or opt_int(facts.get("capacity_units")) or 1

"""``consumers-on-target``: did each translated consumer group resume on the target?

After ``translate-offsets`` set a group's committed offsets on the target and the
operator started its consumers there, this checks, for each group the translate step
recorded as ``translated``:

1. **members on the target**: DescribeGroups on the target shows the group active
   (members, or a state other than ``EMPTY``/``DEAD``: a ``STABLE`` group has members by
   Kafka's group protocol, KIP-848 / the classic protocol's states);
2. **committed at or past the translated offsets**: OffsetFetch on the target gives, for
   every partition the translate step set, an offset at or above the translated one
   (a consumer that resumed there commits at or past it; a lower one means it was reset
   or rewound, and would read records twice);
3. **not active on the source**: DescribeGroups on the source shows it ``EMPTY`` or
   ``DEAD``; a group still consuming from the source is named (its consumers were not
   all switched).

It re-checks every ``interval_s`` seconds until every group holds or ``timeout_s`` has
passed; then it refuses, naming each group that does not hold and why.

The translate-offsets record this reads (:mod:`kmigrate.steps.translate_offsets`)::

    {"groups": [{"group": "billing", "status": "translated", ...,
                 "partitions": [{"topic": "orders", "partition": 0,
                                 "target_offset": 166, ...}]}]}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TP = tuple[str, int]
#: Translate-offsets' status of a group whose offsets were applied on the target.
TRANSLATED = "translated"


@dataclass(frozen=True)
class GroupActivity:
    """A group as DescribeGroups shows it: ``state`` (the broker's word), ``members`` (one
    line each), ``active`` (members, or a state other than EMPTY/DEAD)."""

    state: str
    members: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class TranslatedGroup:
    """A group translate-offsets applied: ``offsets`` ``{(topic, partition): target offset}``."""

    group: str
    offsets: Mapping[TP, int]


def translated_groups(record: Mapping[str, Any] | None) -> list[TranslatedGroup]:
    """The groups a translate-offsets record says were applied on the target, by group id.

    Groups refused, with nothing to translate, or only previewed (``would translate``)
    are left out: nothing of theirs was set on the target.  A partition row without a
    ``target_offset`` (refused) is left out too.
    """
    out = []
    for g in (record or {}).get("groups", []):
        if g.get("status") != TRANSLATED:
            continue
        offsets = {
            (str(r["topic"]), int(r["partition"])): int(r["target_offset"])
            for r in g.get("partitions", [])
            if r.get("target_offset") is not None
        }
        out.append(TranslatedGroup(str(g["group"]), offsets))
    return sorted(out, key=lambda t: t.group)


@dataclass
class GroupCheck:
    """One group's state at the last look.

    ``target`` / ``source``: DescribeGroups on each side; ``behind``: partitions whose
    committed target offset is below the translated one, as
    ``{"topic", "partition", "committed", "translated"}`` (``committed`` None: none).
    """

    group: str
    target: GroupActivity | None = None
    source: GroupActivity | None = None
    behind: list[dict[str, Any]] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        """Members on the target, no partition behind, not active on the source."""
        return (
            self.target is not None
            and self.target.active
            and not self.behind
            and not (self.source is not None and self.source.active)
        )

    def problems(self) -> list[str]:
        """Why the group does not hold, one phrase each (empty when it holds)."""
        out = []
        if self.target is None or not self.target.active:
            state = self.target.state if self.target else "unknown"
            out.append(f"no members on the target (state {state})")
        if self.behind:
            rows = [
                f"{b['topic']}[{b['partition']}] committed {b['committed']} "
                f"< translated {b['translated']}"
                for b in self.behind[:5]
            ]
            out.append(
                "committed below its translated offsets: "
                + ", ".join(rows)
                + (" …" if len(self.behind) > 5 else "")
            )
        if self.source is not None and self.source.active:
            who = ", ".join(self.source.members) or "the broker lists none"
            out.append(f"still active on the source (state {self.source.state}; members: {who})")
        return out

    def as_record(self) -> dict[str, Any]:
        """Journal shape: ``{"group", "holds", "target_state", "target_members",
        "source_state", "source_members", "behind", "problems"}``."""
        return {
            "group": self.group,
            "holds": self.holds,
            "target_state": self.target.state if self.target else None,
            "target_members": list(self.target.members) if self.target else [],
            "source_state": self.source.state if self.source else None,
            "source_members": list(self.source.members) if self.source else [],
            "behind": self.behind,
            "problems": self.problems(),
        }


@dataclass
class ConsumersResult:
    """What :func:`wait_for_consumers` saw: ``groups`` at the last look, ``seconds``
    waited, ``looks`` (how many times every group was checked)."""

    timeout_s: float
    groups: list[GroupCheck] = field(default_factory=list)
    seconds: float = 0.0
    looks: int = 0

    @property
    def holds(self) -> bool:
        """True when every group holds (also when there is none)."""
        return all(g.holds for g in self.groups)

    def refusal(self) -> str:
        """One line naming each group that does not hold, with why."""
        bad = [g for g in self.groups if not g.holds]
        return (
            f"{len(bad)} of {len(self.groups)} consumer groups did not resume on the target "
            f"within {self.timeout_s:g} s: "
            + " | ".join(f"{g.group}: {'; '.join(g.problems())}" for g in bad)
        )

    def as_record(self) -> dict[str, Any]:
        """The step's journal record::

        {"holds": false, "timeout_s": 30, "waited_s": 30.1, "looks": 16,
         "groups": [{"group": "billing", "holds": false, "target_state": "EMPTY",
                     "target_members": [], "source_state": "STABLE",
                     "source_members": ["rdkafka (m-1 on /10.0.0.5)"],
                     "behind": [], "problems": ["no members on the target (state EMPTY)",
                                                "still active on the source (...)"]}]}
        """
        return {
            "holds": self.holds,
            "timeout_s": self.timeout_s,
            "waited_s": round(self.seconds, 3),
            "looks": self.looks,
            "groups": [g.as_record() for g in self.groups],
        }


def check_group(
    group: TranslatedGroup,
    target_activity: Callable[[str], GroupActivity],
    target_committed: Callable[[str], Mapping[TP, int]],
    source_activity: Callable[[str], GroupActivity],
) -> GroupCheck:
    """One look at one group (three reads: target DescribeGroups and OffsetFetch, source
    DescribeGroups)."""
    check = GroupCheck(group.group, target=target_activity(group.group))
    committed = target_committed(group.group)
    for (topic, partition), translated in sorted(group.offsets.items()):
        now = committed.get((topic, partition))
        if now is None or now < translated:
            check.behind.append(
                {"topic": topic, "partition": partition, "committed": now, "translated": translated}
            )
    check.source = source_activity(group.group)
    return check


def wait_for_consumers(
    groups: list[TranslatedGroup],
    target_activity: Callable[[str], GroupActivity],
    target_committed: Callable[[str], Mapping[TP, int]],
    source_activity: Callable[[str], GroupActivity],
    timeout_s: float,
    *,
    interval_s: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_look: Callable[[ConsumersResult], None] | None = None,
) -> ConsumersResult:
    """Check every group until all hold or ``timeout_s`` seconds have passed.

    A group that holds is not looked at again.  With ``timeout_s`` 0 it looks once.

    Returns:
        A :class:`ConsumersResult` (``holds`` False: refuse with ``refusal()``).

    Raises:
        ValueError: a negative ``timeout_s`` or a non-positive ``interval_s``.
        Whatever the reads raise (the cluster port raises ClusterError).
    """
    if timeout_s < 0 or interval_s <= 0:
        raise ValueError(
            f"expected timeout_s >= 0 and interval_s > 0; found {timeout_s}, {interval_s}"
        )
    start = clock()
    result = ConsumersResult(timeout_s=timeout_s)
    checks: dict[str, GroupCheck] = {}
    while True:
        for g in groups:
            if g.group in checks and checks[g.group].holds:
                continue
            checks[g.group] = check_group(g, target_activity, target_committed, source_activity)
        result.looks += 1
        result.groups = [checks[g.group] for g in groups]
        result.seconds = clock() - start
        if on_look is not None:
            on_look(result)
        if result.holds or result.seconds >= timeout_s:
            return result
        sleep(min(interval_s, max(timeout_s - result.seconds, 0.0)))

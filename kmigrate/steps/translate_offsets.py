"""``translate-offsets``: consumer groups resume on the target at exactly the next record.

For each selected consumer group the step reads its committed source offsets,
maps each through the offset map the mirror wrote
(:func:`kmigrate.offsets.translate.translate_offset`), and checks every mapped
position: the record a consumer reads next on the target (from the translated
offset) must have the same digest (key, value, headers, timestamp) as the
record it would read next on the source (from the committed offset), or both
partitions must be at their end.  A group is refused (named, with partition
and offsets) when a check fails, when an offset cannot be mapped (the mirror
is not caught up), when it has active members on the target, or when its
source offsets moved while the step ran (consumers still running on the
source).  Other groups are applied with AlterConsumerGroupOffsets (KIP-222) on
the target.

The journaled record, written *before* any offset is altered::

    {"groups": [
      {"group": "eventsearch-indexer", "status": "translated",   # or refused / would translate
       "reason": null, "existed_before": false,
       "partitions": [
         {"topic": "event-created", "partition": 0, "source_offset": 166,
          "target_offset": 166, "kind": "record", "source_lag": 168,
          "target_lag": 168, "check": "ok", "previous_target_offset": "absent"}]}]}

Rollback works from that record only: a group kmigrate created (no offsets and
not listed on the target before) is deleted when it has no members; otherwise
each partition's previous target offset is restored.  Offsets that did not
exist before in a group that did cannot be removed through confluent-kafka's
AdminClient (it has no DeleteConsumerGroupOffsets, KIP-496): rollback names
them with the ``kafka-consumer-groups.sh --delete-offsets`` command and fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from kmigrate.clusters.port import DESCRIBED
from kmigrate.errors import PartialRollback, StepFailed
from kmigrate.offsets.groups import (
    ABSENT,
    NOTHING,
    REFUSED_GROUP,
    TRANSLATED,
    WOULD,
    GroupPlan,
    keep_earlier,
    plan_groups,
    refuse_moved,
)
from kmigrate.offsets.map import OffsetMap
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord

TABLE_HEADERS = [
    "group",
    "topic",
    "partition",
    "source offset",
    "target offset",
    "source lag",
    "target lag",
    "check",
]


def rows_for_table(plans: list[GroupPlan]) -> list[list[Any]]:
    """One table row per group and partition (``TABLE_HEADERS``)."""
    out: list[list[Any]] = []
    for gp in plans:
        for r in gp.rows:
            out.append(
                [
                    gp.group,
                    r["topic"],
                    r["partition"],
                    r["source_offset"],
                    "-" if r["target_offset"] is None else r["target_offset"],
                    r["source_lag"],
                    "-" if r["target_lag"] is None else r["target_lag"],
                    r["check"],
                ]
            )
        if not gp.rows:
            out.append([gp.group, "-", "-", "-", "-", "-", "-", "no offsets on mirrored topics"])
    return out


def translate_groups(
    ctx: StepContext,
    include: Sequence[str],
    exclude: Sequence[str],
    previous: JsonRecord | None = None,
) -> JsonRecord:
    """Plan, check, journal, then apply each group that passed; the step's forward action.

    Args:
        previous: the record of an earlier attempt: its groups keep the target
            offsets and ``existed_before`` recorded then (the first attempt saw
            the target before kmigrate changed it).

    Returns the step record (module docstring).

    Raises:
        StepFailed: a group was refused (after the others were applied and the
            record checkpointed); the message names each refused group and why.
        kmigrate.errors.ClusterError: a cluster could not be read or refused a write.
    """
    plans = plan_groups(ctx.source, ctx.target, ctx.state_dir, (include, exclude), ctx.ui.warn)
    keep_earlier(plans, previous)
    ctx.ui.table(rows_for_table(plans), TABLE_HEADERS)
    if not plans:
        ctx.ui.line("no consumer group matches the selection")

    def state() -> JsonRecord:
        return {"groups": [gp.as_record() for gp in plans]}

    if ctx.effects.before_writes(lambda: _describe_groups(ctx, plans)):
        return state()
    ready = [gp for gp in plans if gp.status != REFUSED_GROUP]
    refuse_moved(ctx.source, ready)
    for gp in ready:
        if not gp.rows:
            gp.status = NOTHING
    ready = [gp for gp in ready if gp.status not in (REFUSED_GROUP, NOTHING)]
    ctx.checkpoint(state())  # previous target offsets are journaled before any change
    for gp in ready:
        offsets = {(r["topic"], r["partition"]): r["target_offset"] for r in gp.rows}
        ctx.target.alter_group_offsets(gp.group, offsets)
        gp.status = TRANSLATED
        ctx.checkpoint(state())
        ctx.ui.ok(f"group {gp.group}: {len(offsets)} offsets set on the target")
    refused = [gp for gp in plans if gp.status == REFUSED_GROUP]
    if refused:
        raise StepFailed(
            f"{len(refused)} of {len(plans)} consumer groups refused: "
            + " | ".join(f"{gp.group}: {'; '.join(gp.refusals)}" for gp in refused)
        )
    return state()


def _describe_groups(ctx: StepContext, plans: list[GroupPlan]) -> None:
    """The lines of a dry run: the groups translation would set, or refuse."""
    for gp in plans:
        if gp.status == REFUSED_GROUP:
            ctx.ui.warn(f"a real run would refuse group {gp.group}: {'; '.join(gp.refusals)}")
        else:
            ctx.ui.line(f"would set the offsets of group {gp.group} on the target")


def rollback_groups(ctx: StepContext, record: JsonRecord) -> list[str]:
    """Undo what ``record`` says was applied; one line per action (module docstring).

    Raises:
        PartialRollback: a group is active on the target, or offsets that did not
            exist before cannot be removed (named, with the command to do it).
    """
    lines: list[str] = []
    problems: list[str] = []
    for g in reversed(record.get("groups", [])):
        if g.get("status") not in (TRANSLATED, WOULD):  # WOULD: journaled, maybe applied
            continue
        group = g["group"]
        state = ctx.target.group_members(group)
        if state.active:
            problems.append(
                f"group {group} is active on the target (state {state.state}; members: "
                f"{', '.join(state.members) or 'not listed'}); "
                "stop its consumers and roll back again"
            )
            continue
        if not g.get("existed_before"):
            done = ctx.target.delete_group(group)
            if done == DESCRIBED:  # a dry run's target: described, not made
                lines.append(
                    f"would delete consumer group {group} on the target (created by kmigrate)"
                )
            elif done == "deleted":
                lines.append(f"deleted consumer group {group} on the target (created by kmigrate)")
            else:
                lines.append(f"consumer group {group} on the target was already gone")
            continue
        restore = {
            (r["topic"], r["partition"]): r["previous_target_offset"]
            for r in g["partitions"]
            if r["previous_target_offset"] != ABSENT
        }
        absent = [
            f"{r['topic']}:{r['partition']}"
            for r in g["partitions"]
            if r["previous_target_offset"] == ABSENT
        ]
        if restore:
            ctx.target.alter_group_offsets(group, restore)  # a dry run's target: not altered
            lines.append(
                f"{ctx.effects.past('restored', 'would restore')} {len(restore)} previous "
                f"offsets of consumer group {group} on the target"
            )
        if absent:
            problems.append(
                f"group {group}: offsets that did not exist before on {', '.join(absent)} "
                "cannot be removed through this client (no DeleteConsumerGroupOffsets, "
                "KIP-496); run "
                f"kafka-consumer-groups.sh --bootstrap-server {ctx.target.bootstrap_servers} "
                f"--delete-offsets --group {group} " + " ".join(f"--topic {a}" for a in absent)
            )
    if problems:  # a dry run's effects do not refuse: the lines say what would fail
        ctx.effects.refuse(ctx.ui, PartialRollback("; ".join(problems), lines), warn=False)
        return lines + [f"would fail: {p}" for p in problems]
    return lines or ["nothing to undo: no consumer group offsets were set"]


def preview(ctx: StepContext, include: Sequence[str], exclude: Sequence[str]) -> JsonRecord | None:
    """For ``kmigrate plan``: print the translation table; None when there is no offset map yet.

    Read-only: the same planning and checks as the step, nothing applied.

    Raises:
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    if not OffsetMap.load(ctx.state_dir).partitions():
        ctx.ui.line("available once the mirror has written its offset map")
        return None
    plans = plan_groups(ctx.source, ctx.target, ctx.state_dir, (include, exclude), ctx.ui.warn)
    ctx.ui.table(rows_for_table(plans), TABLE_HEADERS)
    for gp in plans:
        if gp.status == REFUSED_GROUP:
            ctx.ui.warn(
                f"translate-offsets would refuse group {gp.group}: {'; '.join(gp.refusals)}"
            )
    return {"groups": [gp.as_record() for gp in plans]}


@dataclass
class TranslateOffsetsRecord(StepRecord):
    """What translate-offsets journals (module docstring): one entry per consumer
    group, ``{"group", "status", "reason", "existed_before", "partitions": [...]}``."""

    groups: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> JsonRecord:
        """The journal form: ``{"groups": [...]}``."""
        return {"groups": self.groups}

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record or one without a group list."""
        if not data or not isinstance(data.get("groups"), list):
            return None
        return cls([g for g in data["groups"] if isinstance(g, dict)])

    def group_names(self) -> list[str]:
        """The groups' names, sorted."""
        return sorted(str(g.get("group")) for g in self.groups)

    def summary(self) -> str:
        """``3 groups: 2 translated, 1 refused``."""
        by: dict[str, int] = {}
        for g in self.groups:
            by[str(g.get("status"))] = by.get(str(g.get("status")), 0) + 1
        return f"{len(self.groups)} groups: " + ", ".join(f"{n} {s}" for s, n in by.items())


class TranslateOffsets(Step):
    """Consumer groups' committed offsets, translated through the offset map."""

    action = "translate-offsets"
    record_type = TranslateOffsetsRecord
    rollback_summary = "restores previous target offsets; deletes groups kmigrate created"

    def describe(self) -> str:
        return f"translate-offsets ({', '.join(self.spec.groups.include)})"

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        return translate_groups(ctx, self.spec.groups.include, self.spec.groups.exclude, previous)

    def rollback(self, ctx: StepContext, record: JsonRecord) -> list[str]:
        return rollback_groups(ctx, record)

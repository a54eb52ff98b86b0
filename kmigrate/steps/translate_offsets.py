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

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kmigrate.clusters.port import Record
from kmigrate.errors import PartialRollback, StepFailed
from kmigrate.offsets.map import OffsetMap
from kmigrate.offsets.translate import END, REFUSED, translate_offset
from kmigrate.steps.base import Record as StepRecord
from kmigrate.steps.base import Step, StepContext
from kmigrate.steps.verify import same_record
from kmigrate.topic_configs import log_append_time_topics

ABSENT = "absent"
TRANSLATED, REFUSED_GROUP, WOULD = "translated", "refused", "would translate"
#: A selected group with no committed offset on a partition the mirror copied.
NOTHING = "nothing to translate"
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


def select_groups(
    names: Sequence[str], include: Sequence[str], exclude: Sequence[str]
) -> list[str]:
    """Group ids matching an ``include`` glob and no ``exclude`` glob, sorted.

    kmigrate's own reader groups (``kmigrate-*``) are never selected.
    """
    return sorted(
        g
        for g in set(names)
        if not g.startswith("kmigrate-")
        and any(fnmatch.fnmatchcase(g, p) for p in include)
        and not any(fnmatch.fnmatchcase(g, p) for p in exclude)
    )


@dataclass
class GroupPlan:
    """One group's translation: its partitions' rows and whether it may be applied."""

    group: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    existed_before: bool = False
    status: str = WOULD

    def as_record(self) -> dict[str, Any]:
        """The group's journal entry (module docstring)."""
        return {
            "group": self.group,
            "status": self.status,
            "reason": "; ".join(self.refusals) or None,
            "existed_before": self.existed_before,
            "partitions": self.rows,
        }


def plan_groups(
    ctx: StepContext, include: Sequence[str], exclude: Sequence[str]
) -> list[GroupPlan]:
    """Translate and check every selected group; read-only on both clusters.

    Raises:
        StepFailed: there is no offset map in ``ctx.state_dir`` (the mirror has not run).
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    omap = OffsetMap.load(ctx.state_dir)
    mapped = set(omap.partitions())
    if not mapped:
        raise StepFailed(
            f"no offset map in {ctx.state_dir}: run the mirror (it writes "
            "offset-map.json) before translating consumer group offsets"
        )
    groups = select_groups(ctx.source.group_ids(), include, exclude)
    committed = {g: ctx.source.group_offsets_of(g) for g in groups}
    parts = sorted({tp for offsets in committed.values() for tp in offsets if tp in mapped})
    source_ends = (
        {tp: end for tp, (_low, end) in ctx.source.watermark_offsets(parts, read_end=True).items()}
        if parts
        else {}
    )
    # A committed offset below the log start offset points at deleted records: its
    # next record is the log start's (where auto.offset.reset=earliest resumes).
    source_starts = {tp: low for tp, (low, _high) in ctx.source.watermark_offsets(parts).items()}
    target_ends = (
        {tp: end for tp, (_low, end) in ctx.target.watermark_offsets(parts, read_end=True).items()}
        if parts
        else {}
    )
    target_groups = set(ctx.target.group_ids())
    plans: list[GroupPlan] = []
    for group in groups:
        gp = GroupPlan(group)
        previous = ctx.target.group_offsets_of(group)
        gp.existed_before = group in target_groups or bool(previous)
        unmapped = sorted(f"{t}[{p}]" for t, p in committed[group] if (t, p) not in mapped)
        if unmapped:
            ctx.ui.warn(
                f"group {group}: offsets on partitions the mirror did not copy are left "
                f"alone: {', '.join(unmapped[:5])}" + (" …" if len(unmapped) > 5 else "")
            )
        for (topic, partition), offset in sorted(committed[group].items()):
            if (topic, partition) not in mapped:
                continue
            part = omap.get(topic, partition)
            assert part is not None
            src_end = source_ends[(topic, partition)]
            tr = translate_offset(
                part.runs,
                offset,
                source_position=part.source_position,
                target_position=part.target_position,
                source_end=src_end,
            )
            row: dict[str, Any] = {
                "topic": topic,
                "partition": partition,
                "source_offset": offset,
                "target_offset": tr.target_offset,
                "kind": tr.kind,
                "source_lag": src_end - offset,
                "target_lag": (
                    target_ends[(topic, partition)] - tr.target_offset
                    if tr.target_offset is not None
                    else None
                ),
                "check": "pending" if tr.kind != REFUSED else f"refused: {tr.reason}",
                "previous_target_offset": previous.get((topic, partition), ABSENT),
                "source_read_from": max(offset, source_starts.get((topic, partition), 0)),
            }
            if offset < row["source_read_from"]:
                ctx.ui.warn(
                    f"group {group}: {topic}[{partition}] committed offset {offset} is below "
                    f"the source's log start offset {row['source_read_from']} (its records "
                    "were deleted): translated to the first copied record after it; on the "
                    "source its consumers would resume by their auto.offset.reset"
                )
            if tr.kind == REFUSED:
                gp.refusals.append(f"{topic}[{partition}] at source offset {offset}: {tr.reason}")
            gp.rows.append(row)
        plans.append(gp)
    _check_next_records(ctx, plans)
    for gp in plans:
        state = ctx.target.group_members(gp.group)
        if state.active:
            who = ", ".join(state.members) or "the broker lists none"
            gp.refusals.append(
                f"the group is active on the target (state {state.state}; members: {who}); "
                "stop its consumers on the target first"
            )
        if gp.refusals:
            gp.status = REFUSED_GROUP
    return plans


def _check_next_records(ctx: StepContext, plans: list[GroupPlan]) -> None:
    """Fill each row's ``check``: the next record on both sides is the same one."""
    rows = [r for gp in plans for r in gp.rows if r["target_offset"] is not None]
    # A target topic that stamps its own time (LogAppendTime) cannot match timestamps.
    stamped = set(log_append_time_topics(ctx.target, {r["topic"] for r in rows}))
    src_starts = {(r["topic"], r["partition"], r["source_read_from"]) for r in rows}
    tgt_starts = {(r["topic"], r["partition"], r["target_offset"]) for r in rows}
    # One read per distinct start offset and side (groups often share positions).
    src: dict[tuple[str, int, int], Record | None] = {}
    tgt: dict[tuple[str, int, int], Record | None] = {}
    for wanted, side, out in ((src_starts, ctx.source, src), (tgt_starts, ctx.target, tgt)):
        pending = sorted(wanted)
        while pending:  # one consumer per round, one start per partition in a round
            seen: set[tuple[str, int]] = set()
            batch = []
            for start in pending:
                if (start[0], start[1]) not in seen:
                    seen.add((start[0], start[1]))
                    batch.append(start)
            got = side.first_records(batch)
            for t, p, o in batch:
                out[(t, p, o)] = got[(t, p)]
            pending = [s for s in pending if s not in out]
    for gp in plans:
        for r in gp.rows:
            if r["target_offset"] is None:
                continue
            a = src[(r["topic"], r["partition"], r["source_read_from"])]
            b = tgt[(r["topic"], r["partition"], r["target_offset"])]
            where = (
                f"{r['topic']}[{r['partition']}] source offset {r['source_offset']} -> "
                f"target offset {r['target_offset']}"
            )
            if a is None and b is None:
                r["check"] = "ok (both at end)"
                continue
            if a is None or b is None:
                problem = (
                    "the source is at its end but the target holds a record there"
                    if a is None
                    else "the target is at its end but the source has a next record"
                )
            elif b.offset != r["target_offset"] and r["kind"] != END:
                problem = f"the target has no record at that offset (next is {b.offset})"
            elif not same_record(a, b, r["topic"] not in stamped):
                problem = (
                    f"the next records differ (source offset {a.offset}, target offset {b.offset})"
                )
            else:
                r["check"] = "ok"
                continue
            r["check"] = f"FAILED: {problem}"
            gp.refusals.append(f"next-record check failed at {where}: {problem}")


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
    previous: StepRecord | None = None,
) -> StepRecord:
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
    plans = plan_groups(ctx, include, exclude)
    earlier = {g["group"]: g for g in (previous or {}).get("groups", [])}
    for gp in plans:
        before = earlier.get(gp.group)
        if before is None:
            continue
        gp.existed_before = bool(before["existed_before"])
        kept = {(r["topic"], r["partition"]): r for r in before["partitions"]}
        for r in gp.rows:
            old = kept.get((r["topic"], r["partition"]))
            if old is not None:
                r["previous_target_offset"] = old["previous_target_offset"]
    ctx.ui.table(rows_for_table(plans), TABLE_HEADERS)
    if not plans:
        ctx.ui.line("no consumer group matches the selection")

    def state() -> StepRecord:
        return {"groups": [gp.as_record() for gp in plans]}

    if ctx.dry_run:
        for gp in plans:
            if gp.status == REFUSED_GROUP:
                ctx.ui.warn(f"a real run would refuse group {gp.group}: {'; '.join(gp.refusals)}")
            else:
                ctx.ui.line(f"would set the offsets of group {gp.group} on the target")
        return state()
    ready = [gp for gp in plans if gp.status != REFUSED_GROUP]
    # Source offsets that moved since they were read: consumers still run on the source.
    for gp in ready:
        now = ctx.source.group_offsets_of(gp.group)
        moved = []
        for r in gp.rows:
            after = now.get((r["topic"], r["partition"]))
            if after != r["source_offset"]:
                moved.append(f"{r['topic']}[{r['partition']}] {r['source_offset']} -> {after}")
        if moved:
            gp.status = REFUSED_GROUP
            gp.refusals.append(
                "its committed offsets on the source moved while translating ("
                + ", ".join(moved[:5])
                + "); stop its consumers on the source first"
            )
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


def rollback_groups(ctx: StepContext, record: StepRecord) -> list[str]:
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
            if ctx.dry_run:
                lines.append(
                    f"would delete consumer group {group} on the target (created by kmigrate)"
                )
            elif ctx.target.delete_group(group) == "deleted":
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
            if not ctx.dry_run:
                ctx.target.alter_group_offsets(group, restore)
            lines.append(
                f"{'would restore' if ctx.dry_run else 'restored'} {len(restore)} previous "
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
    if problems and not ctx.dry_run:
        raise PartialRollback("; ".join(problems), lines)
    return (
        lines + [f"would fail: {p}" for p in problems]
        if problems
        else lines or ["nothing to undo: no consumer group offsets were set"]
    )


def preview(ctx: StepContext, include: Sequence[str], exclude: Sequence[str]) -> StepRecord | None:
    """For ``kmigrate plan``: print the translation table; None when there is no offset map yet.

    Read-only: the same planning and checks as the step, nothing applied.

    Raises:
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    if not OffsetMap.load(ctx.state_dir).partitions():
        ctx.ui.line("available once the mirror has written its offset map")
        return None
    plans = plan_groups(ctx, include, exclude)
    ctx.ui.table(rows_for_table(plans), TABLE_HEADERS)
    for gp in plans:
        if gp.status == REFUSED_GROUP:
            ctx.ui.warn(
                f"translate-offsets would refuse group {gp.group}: {'; '.join(gp.refusals)}"
            )
    return {"groups": [gp.as_record() for gp in plans]}


class TranslateOffsets(Step):
    """Consumer groups' committed offsets, translated through the offset map."""

    action = "translate-offsets"
    rollback_summary = "restores previous target offsets; deletes groups kmigrate created"

    def describe(self) -> str:
        return f"translate-offsets ({', '.join(self.spec.groups.include)})"

    def run(self, ctx: StepContext, previous: StepRecord) -> StepRecord:
        return translate_groups(ctx, self.spec.groups.include, self.spec.groups.exclude, previous)

    def rollback(self, ctx: StepContext, record: StepRecord) -> list[str]:
        return rollback_groups(ctx, record)

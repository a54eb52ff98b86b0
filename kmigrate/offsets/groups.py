"""Consumer groups' committed offsets, translated through the offset map and checked.

:func:`plan_groups` reads each selected group's committed offsets on the
source, maps each through the mirror's offset map
(:func:`kmigrate.offsets.translate.translate_offset`) and checks that the
next record on the target (from the translated offset) is the one a consumer
would read next on the source; the ``translate-offsets`` step
(:mod:`kmigrate.steps.translate_offsets`) journals and applies the result.
Read-only on both clusters.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmigrate.clusters.port import Cluster, Record
from kmigrate.errors import StepFailed
from kmigrate.offsets.map import OffsetMap
from kmigrate.offsets.translate import END, REFUSED, translate_offset
from kmigrate.topic_configs import log_append_time_topics

ABSENT = "absent"
TRANSLATED, REFUSED_GROUP, WOULD = "translated", "refused", "would translate"
#: A selected group with no committed offset on a partition the mirror copied.
NOTHING = "nothing to translate"


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
    source: Cluster,
    target: Cluster,
    state_dir: Path,
    groups: tuple[Sequence[str], Sequence[str]],
    warn: Callable[[str], None],
) -> list[GroupPlan]:
    """Translate and check every selected group; read-only on both clusters.

    Args:
        state_dir: where the mirror's offset map is (``offset-map.json``).
        groups: the ``(include, exclude)`` globs of :func:`select_groups`.
        warn: called with each warning for the operator (offsets left alone,
            committed offsets below the source's log start offset).

    Raises:
        StepFailed: there is no offset map in ``state_dir`` (the mirror has not run).
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    omap = OffsetMap.load(state_dir)
    mapped = set(omap.partitions())
    if not mapped:
        raise StepFailed(
            f"no offset map in {state_dir}: run the mirror (it writes "
            "offset-map.json) before translating consumer group offsets"
        )
    names = select_groups(source.group_ids(), *groups)
    committed = {g: source.group_offsets_of(g) for g in names}
    parts = sorted({tp for offsets in committed.values() for tp in offsets if tp in mapped})
    # A committed offset below the log start offset points at deleted records: its
    # next record is the log start's (where auto.offset.reset=earliest resumes).
    # The two clusters are read side by side (each read waits on its broker).
    with ThreadPoolExecutor(2, thread_name_prefix="kmigrate-translate") as pool:
        on_target = pool.submit(_log_ends, target, parts)
        src_marks = source.watermark_offsets(parts, read_end=True) if parts else {}
        ends = _Ends(
            {tp: end for tp, (_low, end) in src_marks.items()},
            {tp: low for tp, (low, _end) in src_marks.items()},
            on_target.result(),
        )
    target_groups = set(target.group_ids())
    plans: list[GroupPlan] = []
    for group in names:
        gp = GroupPlan(group)
        previous = target.group_offsets_of(group)
        gp.existed_before = group in target_groups or bool(previous)
        unmapped = sorted(f"{t}[{p}]" for t, p in committed[group] if (t, p) not in mapped)
        if unmapped:
            warn(
                f"group {group}: offsets on partitions the mirror did not copy are left "
                f"alone: {', '.join(unmapped[:5])}" + (" …" if len(unmapped) > 5 else "")
            )
        for (topic, partition), offset in sorted(committed[group].items()):
            if (topic, partition) in mapped:
                _plan_row(gp, omap, (topic, partition), offset, ends, previous, warn)
        plans.append(gp)
    _check_next_records(source, target, plans)
    for gp in plans:
        state = target.group_members(gp.group)
        if state.active:
            who = ", ".join(state.members) or "the broker lists none"
            gp.refusals.append(
                f"the group is active on the target (state {state.state}; members: {who}); "
                "stop its consumers on the target first"
            )
        if gp.refusals:
            gp.status = REFUSED_GROUP
    return plans


@dataclass(frozen=True)
class _Ends:
    """Per ``(topic, partition)``: the source's log end and log start offsets,
    the target's log end offset."""

    source_ends: dict[tuple[str, int], int]
    source_starts: dict[tuple[str, int], int]
    target_ends: dict[tuple[str, int], int]


def _plan_row(
    gp: GroupPlan,
    omap: OffsetMap,
    tp: tuple[str, int],
    offset: int,
    ends: _Ends,
    previous: dict[tuple[str, int], int],
    warn: Callable[[str], None],
) -> None:
    """Translate one committed ``offset`` of ``gp``'s group on ``tp`` into a row
    of ``gp`` (a refusal too when the map cannot answer exactly)."""
    group = gp.group
    topic, partition = tp
    part = omap.get(topic, partition)
    assert part is not None
    src_end = ends.source_ends[(topic, partition)]
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
            ends.target_ends[(topic, partition)] - tr.target_offset
            if tr.target_offset is not None
            else None
        ),
        "check": "pending" if tr.kind != REFUSED else f"refused: {tr.reason}",
        "previous_target_offset": previous.get((topic, partition), ABSENT),
        "source_read_from": max(offset, ends.source_starts.get((topic, partition), 0)),
    }
    if offset < row["source_read_from"]:
        warn(
            f"group {group}: {topic}[{partition}] committed offset {offset} is below "
            f"the source's log start offset {row['source_read_from']} (its records "
            "were deleted): translated to the first copied record after it; on the "
            "source its consumers would resume by their auto.offset.reset"
        )
    if tr.kind == REFUSED:
        gp.refusals.append(f"{topic}[{partition}] at source offset {offset}: {tr.reason}")
    gp.rows.append(row)


def _check_next_records(source: Cluster, target: Cluster, plans: list[GroupPlan]) -> None:
    """Fill each row's ``check``: the next record on both sides is the same one."""
    from kmigrate.verify.compare import same_record  # verify imports the offsets package

    rows = [r for gp in plans for r in gp.rows if r["target_offset"] is not None]
    # A target topic that stamps its own time (LogAppendTime) cannot match timestamps.
    stamped = set(log_append_time_topics(target, {r["topic"] for r in rows}))
    src_starts = {(r["topic"], r["partition"], r["source_read_from"]) for r in rows}
    tgt_starts = {(r["topic"], r["partition"], r["target_offset"]) for r in rows}
    # One read per distinct start offset and side (groups often share positions);
    # the two sides side by side.
    with ThreadPoolExecutor(2, thread_name_prefix="kmigrate-translate") as pool:
        on_target = pool.submit(_next_records, target, tgt_starts)
        src = _next_records(source, src_starts)
        tgt = on_target.result()
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


def _next_records(
    side: Cluster, wanted: set[tuple[str, int, int]]
) -> dict[tuple[str, int, int], Record | None]:
    """The record a consumer positioned at each ``(topic, partition, offset)`` of
    ``wanted`` reads next on ``side`` (None at the partition's end).

    Raises:
        kmigrate.errors.ClusterError: the cluster could not be read.
    """
    out: dict[tuple[str, int, int], Record | None] = {}
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
    return out


def _log_ends(cluster: Cluster, parts: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """``{(topic, partition): the offset the next record gets}``, read to each end."""
    if not parts:
        return {}
    return {tp: end for tp, (_low, end) in cluster.watermark_offsets(parts, read_end=True).items()}


def keep_earlier(plans: list[GroupPlan], previous: dict[str, Any] | None) -> None:
    """Carry an earlier attempt's ``existed_before`` and previous target offsets
    (``previous``: that attempt's step record) into ``plans``: the first attempt
    saw the target before kmigrate changed it."""
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


def refuse_moved(source: Cluster, plans: list[GroupPlan]) -> None:
    """Refuse each group of ``plans`` whose committed offsets on the source moved
    since they were read (its consumers still run on the source), naming up to
    five moved partitions.

    Raises:
        kmigrate.errors.ClusterError: the source could not be read.
    """
    for gp in plans:
        now = source.group_offsets_of(gp.group)
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

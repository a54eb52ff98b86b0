"""``mirror``: copy the source's records to the target, exactly once, resumably.

Each record keeps its partition number, key, value (null stays null, empty
stays empty), headers (order, duplicate names, null values) and timestamp.
The step selects partitions, checks both clusters, prepares the persistent
offset map (:mod:`kmigrate.offsets.map`, ``<state_dir>/offset-map.json``) and
hands the copy to a copy engine (:mod:`kmigrate.engines`); it records the
outcome as a :class:`MirrorRecord`.

``mode: snapshot`` copies what each partition holds when the read reaches its
end; ``mode: follow`` keeps copying new records until caught up (lag 0 held for
``settle_s``), until stopped (SIGINT / SIGTERM: a successful end of the step,
journaled "stopped by operator", resumable, exit 0), or for ``max_duration``
seconds.

Resume (after Ctrl-C, a failure or ``kill -9``): the map lists only records the
target acknowledged; records that reached the target after its last save are
found by reading the target's tail and comparing it with the source by digest
(:mod:`kmigrate.offsets.resume`), never by counting, so records another writer
put there (``append: true``) are not taken for copies.  If the target holds
less than the map says was copied (a restarted, empty broker), the step stops
with exit 1 naming the lost range.  If the source's log start offset passes a
copy position (retention won the race), it stops with exit 1 naming the lost
source range; it never skips records silently.
"""

from __future__ import annotations

from typing import Any

from kmigrate.engines.base import CopyEngine, CopyJob, CopyResult, FollowSpec
from kmigrate.engines.copying import engine_for, run_copy
from kmigrate.errors import RecordsLost, StoppedByOperator
from kmigrate.offsets.checks import (
    begin_positions,
    lost_range,
    retention_warnings,
    source_lost_error,
)
from kmigrate.offsets.map import OffsetMap
from kmigrate.selection import select_topics
from kmigrate.steps.base import JsonRecord, Step, StepContext
from kmigrate.steps.mirror_mm2 import mirror_mm2, rollback_mm2
from kmigrate.steps.mirror_record import (
    STOPPED_BY_OPERATOR,
    MirrorRecord,
    PartitionCopy,
    end_of,
)
from kmigrate.steps.mirror_target import check_target, partitions_of, refuse_occupied
from kmigrate.steps.provision_topics import ProvisionRecord
from kmigrate.verify.beside import BesideOutcome, verify_beside

__all__ = [
    "STOPPED_BY_OPERATOR",
    "Mirror",
    "MirrorRecord",
    "PartitionCopy",
    "end_of",
    "lag_summary",
    "mirror",
    "partitions_of",
    "show_copy",
]


def mirror(
    ctx: StepContext,
    topics: list[str],
    *,
    append: bool = False,
    follow: FollowSpec | None = None,
    workers: int | None = None,
    verify: bool = False,
) -> MirrorRecord:
    """Copy the topics' records from ``ctx.source`` to ``ctx.target``, resuming from
    the offset map in ``ctx.state_dir``.

    Args:
        append: copy although a target partition already holds records that
            no earlier attempt wrote (otherwise refused: a second copy after the
            first would pass a range-based verify unnoticed).
        follow: snapshot (default) or follow, and when to stop.
        workers: processes the copy (snapshot or follow) is sharded over (default: the
            number of CPUs; see :mod:`kmigrate.engines.workers`).
        verify: run a following verify beside the copy until it ends
            (:func:`kmigrate.verify.beside.verify_beside`); what it saw goes
            in the record's ``verify``.

    Returns the step record.

    Raises:
        StepFailed: a target topic is missing or has fewer partitions, a target
            partition already holds records (without ``append``), or the target
            refused records.
        RecordsLost: the target lost records the map says were copied, or the
            source's log start offset passed a copy position (journaled).
        kmigrate.errors.ClusterError: a cluster could not be read.

    A following copy stopped by SIGINT / SIGTERM returns normally, its
    record's ``ended`` saying so (see :attr:`MirrorRecord.end`).
    """
    spec = follow or FollowSpec()
    omap = OffsetMap.load(ctx.state_dir)
    record = MirrorRecord(spec.mode, None, str(omap.path))
    parts = partitions_of(ctx.source, topics)
    engine = engine_for(ctx.source, ctx.target, workers)
    # Producer ids and worker processes start during the lookups (not in a dry run).
    engine.prepare(parts, ctx.target, spec.mode == "follow")
    present, target_ends = check_target(ctx, record, omap, parts)
    source_marks = ctx.source.watermark_offsets(parts)
    target_lows = ctx.target.watermark_offsets(present) if present else {}
    start = begin_positions(
        ctx.source,
        ctx.target,
        omap,
        parts,
        (source_marks, target_ends, target_lows),
        record.target_stamps_time,
    )
    record.lost.extend(start.lost)
    record.foreign_records += start.foreign_records
    if start.lost:
        ctx.checkpoint(record.to_json())
        raise source_lost_error(start.lost)
    if start.occupied:
        refuse_occupied(ctx, start.occupied, append)
    estimate = _resume_points(ctx, record, omap, parts, source_marks)
    if ctx.effects.before_writes(
        lambda: ctx.ui.line(
            f"would copy about {estimate:,} records from {len(parts)} partitions "
            f"of {len(topics)} topics"
            + (" and keep following new records" if spec.mode == "follow" else "")
            + (f", keeping {record.resumed_records:,} already copied" if record.resumed else "")
        )
    ):
        return record
    beside = None
    try:
        with verify_beside(ctx.source, ctx.target, topics, ctx.state_dir, verify) as beside:
            _copy(ctx, record, engine, (omap, parts, target_ends, spec), estimate, beside)
    finally:
        if beside is not None:  # the verify stopped with the copy (or its failure): its last round
            record.verify = beside.outcome.as_json()
            ctx.checkpoint(record.to_json())
    return record


def _resume_points(
    ctx: StepContext,
    record: MirrorRecord,
    omap: OffsetMap,
    parts: list[tuple[str, int]],
    source_marks: dict[tuple[str, int], tuple[int, int]],
) -> int:
    """Record what earlier attempts copied (``resumed_records``, ``partitions``)
    and warn where retention may pass a copy position; returns the records left
    to copy (from each position to the source's high watermark)."""
    maps = {tp: omap.get(*tp) for tp in parts}
    record.resumed_records = sum(m.records for m in maps.values() if m is not None)
    positions = {tp: m.source_position for tp, m in maps.items() if m is not None}
    record.retention_warnings = retention_warnings(ctx.source, positions, source_marks)
    for warning in record.retention_warnings:
        ctx.ui.warn(warning)
    record.partitions = [PartitionCopy.of(m) for m in maps.values() if m is not None]
    return sum(max(source_marks[tp][1] - positions[tp], 0) for tp in parts)


def _copy(
    ctx: StepContext,
    record: MirrorRecord,
    engine: CopyEngine,
    where: tuple[OffsetMap, list[tuple[str, int]], dict[tuple[str, int], int], FollowSpec],
    estimate: int,
    beside: Any = None,
) -> MirrorRecord:
    """Save the begun map, then copy with ``engine`` (``where``: the map, the
    partitions, the target's log ends, the follow spec), journaling each
    checkpoint (``estimate``: records to copy, from offsets); returns the record.

    Raises:
        RecordsLost: the source's log start offset passed a copy position (journaled).
        StepFailed: as :func:`kmigrate.engines.copying.run_copy`.
    """
    omap, parts, target_ends, spec = where
    omap.save()
    ctx.checkpoint(record.to_json())
    if record.resumed:
        ctx.ui.line(
            f"resuming: {record.resumed_records:,} records are already on the target and are kept"
        )
    if record.foreign_records:
        ctx.ui.line(
            f"{record.foreign_records:,} records on the target's tail are not copies "
            "(another writer); left alone"
        )
    maps = {tp: omap.get(*tp) for tp in parts}

    def on_checkpoint(result: CopyResult) -> None:
        record.partitions = [
            PartitionCopy.of(m, result.per_partition.get(tp))
            for tp, m in maps.items()
            if m is not None
        ]
        record.lag = result.lag_json()
        if beside is not None:
            record.verify = beside.latest().as_json()
        ctx.checkpoint(record.to_json())

    # From offsets, not counts (transaction markers and compaction take offsets;
    # a following copy gets new records): labelled an estimate.
    with ctx.ui.progress(estimate, "mirror", estimate=True) as bar:
        job = CopyJob(
            source=ctx.source,
            target=ctx.target,
            offset_map=omap,
            partitions=parts,
            target_next=dict(target_ends),
            follow=spec,
            progress=bar,
            on_checkpoint=on_checkpoint,
        )
        try:
            result = run_copy(engine, job)
        except RecordsLost as exc:
            record.lost.append(lost_range(exc.side, exc.topic, exc.partition, exc.start, exc.end))
            ctx.checkpoint(record.to_json())
            raise
    record.ended = result.ended
    on_checkpoint(result)
    return record


PARTITION_HEADERS = [
    "topic",
    "partition",
    "source range",
    "target range",
    "records copied",
    "runs",
]


def _partition_rows(parts: list[PartitionCopy]) -> list[list[Any]]:
    return [
        [
            p.topic,
            p.partition,
            f"[{p.source_start}, {p.source_end})",
            f"[{p.target_start}, {p.target_end})",
            p.records,
            p.runs,
        ]
        for p in parts
    ]


def lag_summary(lag: dict[str, dict[str, float]], shown: int = 3) -> str:
    """``lag: 1,200 records over 3 of 400 topics, at most 0.4 s (orders 900 records,
    0.4 s; ...)``: a total, not one entry per topic; the ``shown`` topics most
    behind are named."""
    behind = {t: v for t, v in lag.items() if int(v.get("records", 0)) > 0}
    worst = max((float(v.get("seconds", 0)) for v in lag.values()), default=0.0)
    if not behind:
        return f"lag: 0 records on all {len(lag):,} topics"
    total = sum(int(v["records"]) for v in behind.values())
    top = sorted(behind.items(), key=lambda kv: -int(kv[1]["records"]))[:shown]
    named = "; ".join(f"{t} {int(v['records']):,} records, {v['seconds']:.1f} s" for t, v in top)
    more = f"; {len(behind) - shown:,} more" if len(behind) > shown else ""
    return (
        f"lag: {total:,} records over {len(behind):,} of {len(lag):,} topics, "
        f"at most {worst:.1f} s ({named}{more})"
    )


def show_copy(ui: Any, record: MirrorRecord) -> None:
    """Print what the mirror copied: with ``ui.details`` every partition; else one
    row per topic, then every partition of a topic that lags or lost records."""
    lost = {(x["topic"], x["partition"]) for x in record.lost}
    if ui.details:
        ui.table(_partition_rows(record.partitions), PARTITION_HEADERS)
    else:
        by_topic: dict[str, list[PartitionCopy]] = {}
        for p in record.partitions:
            by_topic.setdefault(p.topic, []).append(p)
        rows = []
        for topic, parts in by_topic.items():
            lag = record.lag.get(topic, {})
            rows.append(
                [
                    topic,
                    len(parts),
                    f"{sum(p.records for p in parts):,}",
                    f"{sum(p.copied_now for p in parts):,}",
                    f"{int(lag.get('records', 0)):,}" if lag else "-",
                ]
            )
        ui.table(rows, ["topic", "partitions", "records copied", "this run", "lag (records)"])
        lagging = {t for t, v in record.lag.items() if int(v.get("records", 0)) > 0}
        odd = [p for p in record.partitions if p.topic in lagging or (p.topic, p.partition) in lost]
        if odd:
            ui.line(f"partitions of topics that lag or lost records ({len(odd):,}):")
            ui.table(_partition_rows(odd), PARTITION_HEADERS)
        ui.line(f"(one row per topic; --details for all {len(record.partitions):,} partitions)")
    if record.lag:
        ui.line(lag_summary(record.lag))
    if record.verify is not None:
        seen = BesideOutcome(**record.verify)
        (ui.warn if seen.difference else ui.line)(seen.text())


class Mirror(Step):
    """Copy the selected topics' records, resuming from the offset map."""

    action = "mirror"
    record_type = MirrorRecord
    rollback_summary = (
        "forgets its offset map for the topics kmigrate created (the copies go with them); "
        "with engine mirrormaker2 also resets its connectors' stored source offsets "
        "(KIP-875), deletes the connectors and the MM2 internal topics it created on the target"
    )

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        """Copy, print the table and how the copy ended; returns the record.

        Raises:
            StoppedByOperator: the operator stopped a following copy (SIGINT /
                SIGTERM): a successful end, carrying the record (exit 0).
            StepFailed / RecordsLost / ClusterError: as :func:`mirror`.
        """
        topics = select_topics(ctx.source.topics(), ctx.include, ctx.exclude)
        spec = self.spec
        follow = FollowSpec(
            mode=spec.mode,
            until=spec.until,
            settle_s=spec.settle_s,
            max_duration_s=spec.max_duration,
        )
        if spec.engine == "mirrormaker2":
            record = mirror_mm2(ctx, topics, spec.connect, follow, previous, append=spec.append)
        else:
            record = mirror(
                ctx,
                topics,
                append=spec.append,
                follow=follow,
                workers=spec.workers,
                verify=spec.verify == "follow",
            )
        show_copy(ctx.ui, record)
        if record.ended:
            ctx.ui.line(f"mirror ended: {record.ended}")
        if record.end == STOPPED_BY_OPERATOR:
            again = (
                "run it again"
                if ctx.step_id == "standalone"
                else f"run its phase again with --rerun {ctx.step_id}"
            )
            raise StoppedByOperator(
                f"mirror {record.ended}: the copy is clean and its offset map saved; "
                f"to copy what came since, {again}",
                record.to_json(),
            )
        return record.to_json()

    def rollback(self, ctx: StepContext, record: JsonRecord) -> list[str]:
        provisioned = ctx.journal_lookup("provision-topics")
        created = set(provisioned.created) if isinstance(provisioned, ProvisionRecord) else set()
        mirrored = MirrorRecord.from_json(record)
        lines = []
        if mirrored is not None and mirrored.mm2 is not None:
            lines += rollback_mm2(ctx, getattr(self.spec, "connect", None), mirrored.mm2)
        parts = mirrored.partitions if mirrored else []
        forget = [p for p in parts if p.topic in created]
        for p in parts:
            if p.topic not in created and p.records:
                lines.append(
                    f"keep {p.records} copied records in pre-existing target topic "
                    f"{p.topic}[{p.partition}] offsets {p.target_start}.."
                    f"{p.target_end} (kmigrate deletes no records it did not "
                    "create a topic for)"
                )
        if forget and mirrored is not None:
            topics = sorted({p.topic for p in forget})

            def forget_copies() -> None:
                omap = OffsetMap.load(ctx.state_dir)
                for p in forget:
                    omap.forget(p.topic, p.partition)
                omap.save()

            ctx.effects.write_state(forget_copies)
            lines.append(
                f"{ctx.effects.past('forgot', 'would forget')} the offset map of "
                f"{len(forget)} partitions of {len(topics)} topics kmigrate created "
                "(their copies go with the topics)"
            )
        return lines or [
            "nothing to undo: the copied records go with the topics kmigrate created "
            "(to copy again, roll back their provisioning too)"
        ]

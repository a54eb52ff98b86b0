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

import signal
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.engines.base import CopyEngine, CopyJob, CopyResult, FollowSpec
from kmigrate.engines.native import NativeEngine
from kmigrate.engines.workers import WorkerEngine, default_workers, shardable
from kmigrate.errors import (
    ClusterError,
    OffsetOutOfRange,
    RecordsLost,
    StepFailed,
    StoppedByOperator,
)
from kmigrate.offsets.map import OffsetMap, PartitionMap
from kmigrate.offsets.resume import reconcile_tail
from kmigrate.selection import select_topics
from kmigrate.steps.base import Record as StepRecord
from kmigrate.steps.base import Step, StepContext
from kmigrate.topic_configs import LOG_APPEND_TIME, TIMESTAMP_TYPE_KEY, log_append_time_topics

#: Warn when the oldest record not yet copied has used this share of its
#: topic's retention.ms (or the partition this share of retention.bytes).
RETENTION_WARN_RATIO = 0.8


@dataclass
class PartitionCopy:
    """One partition in the mirror's record: offsets copied so far (over all
    attempts, from the offset map) and what this attempt copied.

    ``source_start``/``source_end``: source offsets read ``[start, end)``;
    ``target_start``/``target_end``: the target's log end when the copy began and
    the next target offset after the last copy; ``records``: copies in the map;
    ``runs``: runs in the map; ``copied_now``/``bytes``: this attempt.
    """

    topic: str
    partition: int
    source_start: int
    source_end: int
    target_start: int
    target_end: int
    records: int
    runs: int
    copied_now: int = 0
    bytes: int = 0

    @classmethod
    def of(cls, part: PartitionMap, stats: list[int] | None = None) -> PartitionCopy:
        """From the partition's map (and ``[records, bytes]`` of this attempt)."""
        return cls(
            part.topic,
            part.partition,
            part.source_start,
            part.source_position,
            part.target_start,
            part.target_position,
            part.records,
            len(part.runs),
            *(stats or [0, 0]),
        )


@dataclass
class MirrorRecord:
    """What the mirror step journals; other steps read it through :meth:`from_json`.

    Attributes:
        mode: ``snapshot`` or ``follow``.
        ended: why the copy stopped (``snapshot complete``, ``caught up (…)``,
            ``max_duration reached (…)``, ``stopped by operator (SIGTERM)``), or
            None while running.
        offset_map: path of the offset map file.
        resumed_records: copies kept from earlier attempts.
        foreign_records: records found on the target's tail that are not copies.
        partitions: one :class:`PartitionCopy` each.
        lag: last lag per topic, ``{topic: {"records": n, "seconds": s}}``.
        lost: ranges found lost, ``[{"side", "topic", "partition", "start", "end"}]``.
        retention_warnings: the retention warnings given before copying.
        target_stamps_time: target topics with ``message.timestamp.type=
            LogAppendTime``: the target stamps their records with its own time.
    """

    mode: str
    ended: str | None
    offset_map: str
    resumed_records: int = 0
    foreign_records: int = 0
    partitions: list[PartitionCopy] = field(default_factory=list)
    lag: dict[str, dict[str, float]] = field(default_factory=dict)
    lost: list[dict[str, Any]] = field(default_factory=list)
    retention_warnings: list[str] = field(default_factory=list)
    target_stamps_time: list[str] = field(default_factory=list)

    @property
    def end(self) -> str:
        """How the copy ended, in a few words: ``snapshot complete``, ``caught
        up``, ``stopped by operator``, ``max_duration reached`` or ``running``
        (not ended: still running, or it failed; the journal's status says)."""
        return end_of(self.ended)

    @property
    def resumed(self) -> bool:
        """Whether an earlier attempt's copies were kept."""
        return self.resumed_records > 0

    def to_json(self) -> StepRecord:
        """The journal form (plain JSON)."""
        data = asdict(self)
        data["resumed"] = self.resumed
        return data

    @classmethod
    def from_json(cls, data: StepRecord | None) -> MirrorRecord | None:
        """Rebuild from the journal; None for no record or one from before the offset map."""
        if not data or "offset_map" not in data or not isinstance(data["offset_map"], str):
            return None
        return cls(
            mode=str(data.get("mode", "snapshot")),
            ended=data.get("ended"),
            offset_map=data["offset_map"],
            resumed_records=int(data.get("resumed_records", 0)),
            foreign_records=int(data.get("foreign_records", 0)),
            partitions=[PartitionCopy(**p) for p in data.get("partitions", [])],
            lag=dict(data.get("lag", {})),
            lost=list(data.get("lost", [])),
            retention_warnings=list(data.get("retention_warnings", [])),
            target_stamps_time=list(data.get("target_stamps_time", [])),
        )

    def summary(self) -> str:
        """``6 partitions, 1,200 records in 6 runs; follow: caught up; lag orders 0``."""
        records = sum(p.records for p in self.partitions)
        runs = sum(p.runs for p in self.partitions)
        text = f"{len(self.partitions)} partitions, {records:,} records in {runs:,} runs"
        if self.mode == "follow":
            text += f"; follow: {self.ended or 'running'}"
        if self.lag:
            behind = sum(int(v.get("records", 0)) for v in self.lag.values())
            worst = max(float(v.get("seconds", 0)) for v in self.lag.values())
            text += f"; lag {behind:,} records, {worst:.1f} s"
        if self.lost:
            text += f"; LOST {len(self.lost)} ranges"
        return text


STOPPED_BY_OPERATOR = "stopped by operator"
#: The ``ended`` texts' beginnings (:func:`kmigrate.engines.base.follow_ended`)
#: and the few words each is shown as.
_ENDS = (
    ("snapshot complete", "snapshot complete"),
    ("caught up", "caught up"),
    (STOPPED_BY_OPERATOR, STOPPED_BY_OPERATOR),
    ("stopped", STOPPED_BY_OPERATOR),  # a worker engine told to stop without a reason
    ("max_duration", "max_duration reached"),
)


def end_of(ended: str | None) -> str:
    """How a copy ended, in a few words (see :attr:`MirrorRecord.end`)."""
    for prefix, words in _ENDS:
        if ended and ended.startswith(prefix):
            return words
    return "running"


def partitions_of(source: Cluster, topics: Iterable[str]) -> list[tuple[str, int]]:
    """Every ``(topic, partition)`` of the given source topics, sorted."""
    metas = source.topics()
    return sorted((t, p) for t in topics if t in metas for p in range(metas[t].partitions))


def _list(items: list[str]) -> str:
    more = f" and {len(items) - 10} more" if len(items) > 10 else ""
    return ", ".join(items[:10]) + more


def retention_warnings(
    source: Cluster,
    positions: dict[tuple[str, int], int],
    marks: dict[tuple[str, int], tuple[int, int]],
    now_ms: float | None = None,
) -> list[str]:
    """Partitions whose oldest record not yet copied is close to its retention limit.

    For ``retention.ms``: the age of the record at the copy position (now minus
    its timestamp) against the limit.  For ``retention.bytes``: an estimate of
    the partition's size (records in the log times the size of that record)
    against the limit.  "Close" is :data:`RETENTION_WARN_RATIO` of the limit.
    The limits come from DescribeConfigs (Kafka docs, topic configs
    ``retention.ms`` / ``retention.bytes``; -1 means none).

    Raises:
        kmigrate.errors.ClusterError: the source could not be read.
    """
    topics = sorted({t for t, _ in positions})
    configs = source.topic_configs(topics)
    limits: dict[str, tuple[int, int]] = {}
    for topic in topics:
        cfg = configs.get(topic, {})

        def num(key: str, cfg: Any = cfg) -> int:
            value = cfg.get(key)
            try:
                return int(value.value) if value is not None and value.value is not None else -1
            except ValueError:
                return -1

        limits[topic] = (num("retention.ms"), num("retention.bytes"))
    wanted = [(t, p, o) for (t, p), o in positions.items() if max(limits[t]) > 0]
    if not wanted:
        return []
    firsts = {tp: r for tp, r in source.first_records(wanted).items() if r is not None}
    now = time.time() * 1000 if now_ms is None else now_ms
    out = []
    for (topic, partition), record in sorted(firsts.items()):
        ms, nbytes = limits[topic]
        if ms > 0:
            age = now - record.timestamp_ms
            if age >= RETENTION_WARN_RATIO * ms:
                out.append(
                    f"{topic}[{partition}]: the oldest record not yet copied (offset "
                    f"{record.offset}) is {age / 1000:,.0f} s old, {age / ms:.0%} of "
                    f"retention.ms {ms} ({ms / 1000:,.0f} s): retention may delete it "
                    "before it is copied"
                )
        if nbytes > 0:
            low, high = marks[(topic, partition)]
            estimate = (high - low) * max(record.size, 1)
            if estimate >= RETENTION_WARN_RATIO * nbytes:
                out.append(
                    f"{topic}[{partition}]: about {estimate:,} bytes in the log, "
                    f"{estimate / nbytes:.0%} of retention.bytes {nbytes}: retention may "
                    f"delete the oldest records (from offset {record.offset}) before they "
                    "are copied"
                )
    return out


@contextmanager
def _stop_on_signals(job: CopyJob) -> Iterator[None]:
    """In the main thread, turn SIGINT and SIGTERM into a clean stop of the copy."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        job.stop_reason.append(f"stopped by operator ({signal.Signals(signum).name})")
        job.stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _lost_target(part: PartitionMap, end: int) -> dict[str, Any]:
    first = part.runs[0].target_start if part.runs else part.target_position
    return {
        "side": "target",
        "topic": part.topic,
        "partition": part.partition,
        "start": max(end, first),
        "end": part.target_position,
    }


def mirror(
    ctx: StepContext,
    topics: list[str],
    *,
    append: bool = False,
    follow: FollowSpec | None = None,
    workers: int | None = None,
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
    engine: CopyEngine = (
        WorkerEngine(workers or default_workers())
        if shardable(ctx.source, ctx.target)
        else NativeEngine()
    )
    if not ctx.dry_run:
        # The copy's producers get their producer ids (and worker processes
        # start) while the lookups below run.
        engine.prepare(parts, ctx.target, spec.mode == "follow")
    target_topics = ctx.target.topics()

    def on_target(tp: tuple[str, int]) -> bool:
        meta = target_topics.get(tp[0])
        return meta is not None and tp[1] < meta.partitions

    present = [tp for tp in parts if on_target(tp)]
    record.target_stamps_time = log_append_time_topics(ctx.target, {t for t, _ in present})
    if record.target_stamps_time:
        ctx.ui.warn(
            f"target topics {_list(record.target_stamps_time)} have {TIMESTAMP_TYPE_KEY}="
            f"{LOG_APPEND_TIME}: the target stamps each copied record with its own time on "
            "append, so their copies keep key, value, headers and order but not the "
            "source's timestamps (expected; verify compares them without timestamps)"
        )
    target_ends = (
        {
            tp: end
            for tp, (_low, end) in ctx.target.watermark_offsets(present, read_end=True).items()
        }
        if present
        else {}
    )
    # Target data lost: the map says copied, the target no longer holds it.
    for tp in parts:
        part = omap.get(*tp)
        if part is not None and part.records and target_ends.get(tp, 0) < part.target_position:
            record.lost.append(_lost_target(part, target_ends.get(tp, 0)))
    if record.lost:
        ctx.checkpoint(record.to_json())
        first = record.lost[0]
        raise RecordsLost(
            "the target no longer holds records the offset map says were copied: "
            + _list(
                [
                    f"{d['topic']}[{d['partition']}] target offsets [{d['start']}, {d['end']})"
                    for d in record.lost
                ]
            )
            + " (was the target restarted empty, or the topic deleted?). Nothing was "
            "written; roll back the mirror and its provisioning and copy again",
            "target",
            first["topic"],
            first["partition"],
            first["start"],
            first["end"],
        )
    missing = sorted({t for t, _ in parts if t not in target_topics})
    if missing and not ctx.dry_run:
        raise StepFailed(
            f"topics missing on the target: {', '.join(missing)}; {ctx.missing_topics_advice()}"
        )
    narrow = sorted({t for t, p in parts if t in target_topics and not on_target((t, p))})
    if narrow:
        raise StepFailed(
            f"target topics have fewer partitions than the source: {', '.join(narrow)}; "
            "records could not keep their partition"
        )
    source_marks = ctx.source.watermark_offsets(parts)
    target_lows = ctx.target.watermark_offsets(present) if present else {}
    occupied: list[str] = []
    lost_source: list[str] = []
    for tp in parts:
        low, _high = source_marks[tp]
        end = target_ends.get(tp, 0)
        part = omap.get(*tp)
        if part is None:
            omap.begin(tp[0], tp[1], low, end)
            if end > target_lows.get(tp, (0, 0))[0]:
                occupied.append(f"{tp[0]}[{tp[1]}] ({end} offsets)")
            continue
        if low > part.source_position:
            lost_source.append(f"{tp[0]}[{tp[1]}] source offsets [{part.source_position}, {low})")
            record.lost.append(
                {
                    "side": "source",
                    "topic": tp[0],
                    "partition": tp[1],
                    "start": part.source_position,
                    "end": low,
                }
            )
        elif end > part.target_position:
            match = reconcile_tail(
                ctx.source, ctx.target, part, end, tp[0] not in record.target_stamps_time
            )
            record.foreign_records += match.foreign
    if lost_source:
        ctx.checkpoint(record.to_json())
        first = record.lost[0]
        raise RecordsLost(
            "source records were deleted before they were copied (the log start offset "
            "passed the mirror's position, e.g. by retention): "
            + _list(lost_source)
            + "; they cannot be copied any more",
            "source",
            first["topic"],
            first["partition"],
            first["start"],
            first["end"],
        )
    if occupied and not append:
        refusal = (
            "target partitions already hold records: "
            + _list(occupied)
            + "; a second copy would duplicate them. Roll back the provisioning that "
            "created these topics and provision again, or set 'append: true' on the "
            "mirror step (--append) if another writer put them there on purpose"
        )
        if not ctx.dry_run:
            raise StepFailed(refusal)
        ctx.ui.warn(f"a real run would be refused: {refusal}")
    elif occupied:
        ctx.ui.warn(
            f"appending after records already on the target in {len(occupied)} "
            "partitions (append: true)"
        )
    maps = {tp: omap.get(*tp) for tp in parts}
    record.resumed_records = sum(m.records for m in maps.values() if m is not None)
    positions = {tp: m.source_position for tp, m in maps.items() if m is not None}
    record.retention_warnings = retention_warnings(ctx.source, positions, source_marks)
    for warning in record.retention_warnings:
        ctx.ui.warn(warning)
    estimate = sum(max(source_marks[tp][1] - positions[tp], 0) for tp in parts)

    def snapshot(stats: dict[tuple[str, int], list[int]] | None = None) -> None:
        record.partitions = [
            PartitionCopy.of(m, (stats or {}).get(tp)) for tp, m in maps.items() if m is not None
        ]

    snapshot()
    if ctx.dry_run:
        ctx.ui.line(
            f"would copy about {estimate:,} records from {len(parts)} partitions "
            f"of {len(topics)} topics"
            + (" and keep following new records" if spec.mode == "follow" else "")
            + (f", keeping {record.resumed_records:,} already copied" if record.resumed else "")
        )
        return record
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

    def on_checkpoint(result: CopyResult) -> None:
        snapshot(result.per_partition)
        record.lag = result.lag_json()
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
            if spec.mode == "follow":
                with _stop_on_signals(job):
                    result = engine.copy(job)
            else:
                result = engine.copy(job)
        except RecordsLost as exc:
            record.lost.append(
                {
                    "side": exc.side,
                    "topic": exc.topic,
                    "partition": exc.partition,
                    "start": exc.start,
                    "end": exc.end,
                }
            )
            ctx.checkpoint(record.to_json())
            raise
        except OffsetOutOfRange:
            raise
        except ClusterError as exc:
            # A cluster failed mid-copy (e.g. a fatal producer error after the
            # target restarted): the offset map holds only acknowledged copies.
            raise StepFailed(f"mirror failed: {exc} (re-run to resume)") from None
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


class Mirror(Step):
    """Copy the selected topics' records, resuming from the offset map."""

    action = "mirror"
    rollback_summary = (
        "forgets its offset map for the topics kmigrate created (the copies go with them)"
    )

    def run(self, ctx: StepContext, previous: StepRecord) -> StepRecord:
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
        record = mirror(ctx, topics, append=spec.append, follow=follow, workers=spec.workers)
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

    def rollback(self, ctx: StepContext, record: StepRecord) -> list[str]:
        created = set((ctx.journal_lookup("provision-topics") or {}).get("created", []))
        mirrored = MirrorRecord.from_json(record)
        parts = mirrored.partitions if mirrored else []
        lines = []
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
            if not ctx.dry_run:
                omap = OffsetMap.load(ctx.state_dir)
                for p in forget:
                    omap.forget(p.topic, p.partition)
                omap.save()
            lines.append(
                f"{'would forget' if ctx.dry_run else 'forgot'} the offset map of "
                f"{len(forget)} partitions of {len(topics)} topics kmigrate created "
                "(their copies go with the topics)"
            )
        return lines or [
            "nothing to undo: the copied records go with the topics kmigrate created "
            "(to copy again, roll back their provisioning too)"
        ]

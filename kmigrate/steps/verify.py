"""``verify``: prove the target holds exactly what the source held, per partition.

For each partition both sides are read (records are counted by reading them,
never from watermarks) and paired in order: the n-th source record of the
range with the n-th target record.  Each side gets an ordered digest:

    SHA-256 over, for every record in offset order:
        field(key) field(value) u32(len(headers)) {field(name) field(value)}* i64(timestamp ms)
    where field(None) = b"\\xff" and field(b) = b"\\x00" + u64(len(b)) + b

so null and empty stay distinct, and header order and duplicates count.  The
first pair that differs (or the first record one side lacks) is named by its
source and target offsets.

With an offset map (the plan's ``mirror`` step keeps one in ``state_dir``),
source and target records are aligned through it, not the n-th with the n-th:
each source record in ``[source_start, source_position)`` is paired with the
target record at the offset the map gives it, so partitions whose offsets
differ (transaction markers, a log start above 0, records another writer put
on the target with ``append: true``) compare right.  Target records the map
does not list are another writer's: they are counted
(``foreign_target_records``), not compared.  Without a map, whole partitions
are compared from their log start offsets.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import struct
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from kmigrate.adapters.kafka import (
    OFFSET_BEGINNING,
    PartitionEnd,
    Record,
)

# The cluster port's Protocol, under the name this module's signatures use.
from kmigrate.clusters.port import Cluster as KafkaCluster
from kmigrate.errors import StepFailed, VerificationFailed
from kmigrate.journal import atomic_write, now_iso
from kmigrate.offsets.map import OffsetMap, PartitionMap
from kmigrate.selection import select_topics
from kmigrate.steps.base import Record as StepRecord
from kmigrate.steps.base import Step, StepContext

_NULL = b"\xff"


def _field(h: Any, data: bytes | None) -> None:
    if data is None:
        h.update(_NULL)
    else:
        h.update(b"\x00" + struct.pack(">Q", len(data)))
        h.update(data)


def digest_record(h: Any, record: Record) -> None:
    """Feed one record's canonical encoding (module docstring) into hash ``h``."""
    _field(h, record.key)
    _field(h, record.value)
    h.update(struct.pack(">I", len(record.headers)))
    for name, value in record.headers:
        _field(h, name.encode("utf-8"))
        _field(h, value)
    h.update(struct.pack(">q", record.timestamp_ms))


def _same(a: Record, b: Record) -> bool:
    return (a.key, a.value, a.headers, a.timestamp_ms) == (
        b.key,
        b.value,
        b.headers,
        b.timestamp_ms,
    )


def _what_differs(a: Record, b: Record) -> str:
    parts = [
        name
        for name, x, y in (
            ("key", a.key, b.key),
            ("value", a.value, b.value),
            ("headers", a.headers, b.headers),
            ("timestamp", a.timestamp_ms, b.timestamp_ms),
        )
        if x != y
    ]
    return ", ".join(parts) + " differ" if len(parts) > 1 else f"{parts[0]} differs"


@dataclass
class SideSummary:
    """One side of one partition: record count, first/last offset, digest (hex)."""

    records: int = 0
    first_offset: int | None = None
    last_offset: int | None = None
    digest: str = ""


@dataclass
class PartitionRange:
    """What to compare: ``start`` offsets and optional exclusive ``end`` offsets."""

    topic: str
    partition: int
    source_start: int = OFFSET_BEGINNING
    source_end: int | None = None
    target_start: int = OFFSET_BEGINNING
    target_end: int | None = None
    #: Align through this map (source offset -> target offset) when set.
    offset_map: PartitionMap | None = field(default=None, repr=False)


@dataclass
class PartitionResult:
    """The verdict for one partition.

    ``first_difference``: ``{"source_offset", "target_offset", "reason"}`` of
    the first pair that differs, or None when the partitions match.
    """

    topic: str
    partition: int
    source: SideSummary
    target: SideSummary
    match: bool
    first_difference: dict[str, Any] | None = None
    #: Target records in the range that the offset map does not list (another writer's).
    foreign_target_records: int = 0


def _records(
    cluster: KafkaCluster, topic: str, partition: int, start: int, end: int | None
) -> Iterator[Record]:
    stops = {(topic, partition): end} if end is not None else None
    for item in cluster.read([(topic, partition, start)], stop_offsets=stops):
        if not isinstance(item, PartitionEnd):
            yield item


def compare_partition(
    source: KafkaCluster,
    target: KafkaCluster,
    rng: PartitionRange,
    target_has_partition: bool = True,
) -> PartitionResult:
    """Read both sides of one partition and compare them record by record.


    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    hashes = (hashlib.sha256(), hashlib.sha256())
    sides = (SideSummary(), SideSummary())
    first: dict[str, Any] | None = None
    src = _records(source, rng.topic, rng.partition, rng.source_start, rng.source_end)
    tgt: Iterator[Record] = (
        _records(target, rng.topic, rng.partition, rng.target_start, rng.target_end)
        if target_has_partition
        else iter(())
    )
    for a, b in zip_longest(src, tgt):
        for i, rec in enumerate((a, b)):
            if rec is not None:
                side = sides[i]
                side.records += 1
                side.last_offset = rec.offset
                if side.first_offset is None:
                    side.first_offset = rec.offset
                digest_record(hashes[i], rec)
        if first is None:
            if b is None:
                first = {
                    "source_offset": a.offset,
                    "target_offset": None,
                    "reason": "missing on target",
                }
            elif a is None:
                first = {
                    "source_offset": None,
                    "target_offset": b.offset,
                    "reason": "extra record on target",
                }
            elif not _same(a, b):
                first = {
                    "source_offset": a.offset,
                    "target_offset": b.offset,
                    "reason": _what_differs(a, b),
                }
    for side, h in zip(sides, hashes, strict=True):
        side.digest = h.hexdigest()
    if not target_has_partition:
        first = {
            "source_offset": sides[0].first_offset,
            "target_offset": None,
            "reason": "partition missing on target",
        }
    return PartitionResult(rng.topic, rng.partition, sides[0], sides[1], first is None, first)


def ranges_for(
    source: KafkaCluster,
    topics: list[str],
    mirrored: StepRecord | None,
    offset_map: OffsetMap | None = None,
) -> list[PartitionRange]:
    """The ranges to compare: through the offset map when it has the partition,
    else from the mirror's record, else whole partitions."""
    metas = source.topics()
    parts = [(t, p) for t in topics if t in metas for p in range(metas[t].partitions)]
    if offset_map is not None and offset_map.partitions():
        out = []
        for t, p in parts:
            m = offset_map.get(t, p)
            if m is None:
                out.append(PartitionRange(t, p))
            else:
                out.append(
                    PartitionRange(
                        t,
                        p,
                        m.source_start,
                        m.source_position,
                        m.target_start,
                        m.target_position,
                        m,
                    )
                )
        return out
    if mirrored and mirrored.get("partitions"):
        return [
            PartitionRange(
                p["topic"],
                p["partition"],
                p["source_start"],
                p["source_end"],
                p["target_start"],
                p["target_end"],
            )
            for p in mirrored["partitions"]
            if p["topic"] in topics
        ]
    return [PartitionRange(t, p) for t, p in parts]


def compare_aligned(
    source: KafkaCluster, target: KafkaCluster, rng: PartitionRange, target_has_partition: bool
) -> PartitionResult:
    """Compare one partition through its offset map (``rng.offset_map`` must be set).

    Each source record is paired with the target record at the offset the map
    gives it; target records the map does not list are counted as foreign.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    m = rng.offset_map
    assert m is not None
    hashes = (hashlib.sha256(), hashlib.sha256())
    sides = (SideSummary(), SideSummary())
    first: dict[str, Any] | None = None
    foreign = 0

    def count(i: int, rec: Record) -> None:
        side = sides[i]
        side.records += 1
        side.last_offset = rec.offset
        if side.first_offset is None:
            side.first_offset = rec.offset
        digest_record(hashes[i], rec)

    def note(source_offset: int | None, target_offset: int | None, reason: str) -> None:
        nonlocal first
        if first is None:
            first = {
                "source_offset": source_offset,
                "target_offset": target_offset,
                "reason": reason,
            }

    src = _records(source, rng.topic, rng.partition, rng.source_start, rng.source_end)
    tgt: Iterator[Record] = (
        _records(target, rng.topic, rng.partition, rng.target_start, rng.target_end)
        if target_has_partition
        else iter(())
    )
    b = next(tgt, None)

    def skip_until(offset: float) -> Record | None:
        nonlocal b, foreign
        while b is not None and b.offset < offset:
            copied_from = m.to_source(b.offset)
            if copied_from is None:
                foreign += 1
            else:
                count(1, b)
                note(copied_from, b.offset, "extra record on target (its source record is gone)")
            b = next(tgt, None)
        return b

    for a in src:
        count(0, a)
        want = m.to_target(a.offset)
        if want is None:
            note(a.offset, None, "missing on target (not in the offset map)")
            continue
        found = skip_until(want)
        if found is None or found.offset != want:
            note(a.offset, want, "missing on target")
            continue
        count(1, found)
        if not _same(a, found):
            note(a.offset, found.offset, _what_differs(a, found))
        b = next(tgt, None)
    skip_until(float("inf"))
    for side, h in zip(sides, hashes, strict=True):
        side.digest = h.hexdigest()
    if not target_has_partition:
        first = {
            "source_offset": sides[0].first_offset,
            "target_offset": None,
            "reason": "partition missing on target",
        }
    return PartitionResult(
        rng.topic, rng.partition, sides[0], sides[1], first is None, first, foreign
    )


_FIELD = struct.Struct(">BQ").pack  # b"\x00" + u64(len(field))
_NO_HEADERS_TS = struct.Struct(">Iq").pack  # u32(0 headers) + i64(timestamp)
_U32 = struct.Struct(">I").pack
_I64 = struct.Struct(">q").pack


class _Side:
    """One partition of one side while it is read (slotted: touched per record)."""

    __slots__ = ("done", "first", "keep", "last", "records", "stop", "update", "hash")

    def __init__(self, stop: float, keep: list[tuple[int, int]] | None) -> None:
        self.hash = hashlib.sha256()
        self.update = self.hash.update
        self.stop = stop
        self.keep = keep
        self.done = False
        self.records = 0
        self.first: int | None = None
        self.last: int | None = None


def _kept(keep: list[tuple[int, int]], offset: int) -> bool:
    """Whether ``offset`` lies in one of the ascending ``[start, end)`` ranges;
    ranges wholly below it are dropped (offsets come in ascending order)."""
    while keep and keep[0][1] <= offset:
        keep.pop(0)
    return bool(keep) and keep[0][0] <= offset


def summarize_side(
    cluster: KafkaCluster,
    starts: list[tuple[str, int, int]],
    stops: dict[tuple[str, int], int],
    keep: dict[tuple[str, int], PartitionMap] | None = None,
) -> dict[tuple[str, int], SideSummary]:
    """Count, first/last offset and ordered digest of many partitions in one read.

    One consumer reads every partition at once, so a side costs about one
    plain consume of its records.  The fast path: raw messages, one SHA-256
    object per partition fed field by field in the canonical encoding of
    :func:`digest_record` (the same bytes, so the same digest), no
    :class:`Record` per record.  ``keep``: per partition, the offset map
    whose target offsets count (only the target offsets it lists); others
    are skipped.

    Raises:
        kmigrate.errors.ClusterError: the side could not be read.
    """
    inf = float("inf")
    state: dict[tuple[str, int], _Side] = {}
    for t, p, _ in starts:
        m = (keep or {}).get((t, p))
        ranges = [(r.target_start, r.target_end) for r in m.runs] if m is not None else None
        state[(t, p)] = _Side(stops.get((t, p), inf), ranges)
    null = _NULL
    field_ = _FIELD
    tail = _NO_HEADERS_TS
    with cluster.raw_reader(starts) as reader:
        for t, p, o in starts:
            side = state[(t, p)]
            if o >= 0 and o >= side.stop:
                side.done = True
                reader.finish(t, p, o)
        while reader.pending:
            msgs = reader.consume()
            ct: str | None = None
            cp = -1
            st: _Side | None = None  # the partition of the message before
            msg: Any  # a raw message: its getters are typed Optional, never None here
            for msg in msgs:
                if msg.error() is not None:
                    reader.event(msg)
                    continue
                t = msg.topic()
                p = msg.partition()
                if p != cp or t != ct:
                    ct, cp = t, p
                    st = state[(t, p)]
                assert st is not None
                if st.done:
                    continue
                o = msg.offset()
                if o >= st.stop:
                    st.done = True
                    reader.finish(t, p, int(st.stop))
                    continue
                if st.keep is not None and not _kept(st.keep, o):
                    continue
                update = st.update
                k = msg.key()
                update(null if k is None else field_(0, len(k)) + k)
                v = msg.value()
                update(null if v is None else field_(0, len(v)) + v)
                h = msg.headers()
                if h:
                    update(_U32(len(h)))
                    for name, value in h:
                        raw = name.encode("utf-8")
                        update(field_(0, len(raw)) + raw)
                        update(null if value is None else field_(0, len(value)) + value)
                    update(_I64(msg.timestamp()[1]))
                else:
                    update(tail(0, msg.timestamp()[1]))
                st.records += 1
                if st.first is None:
                    st.first = o
                st.last = o
    return {
        tp: SideSummary(st.records, st.first, st.last, st.hash.hexdigest())
        for tp, st in state.items()
    }


def summarize_both(
    source: KafkaCluster, target: KafkaCluster, ranges: list[PartitionRange], on_target: set[int]
) -> tuple[dict[tuple[str, int], SideSummary], dict[tuple[str, int], SideSummary]]:
    """Summarize both sides of ``ranges`` at the same time (a thread each:
    librdkafka fetches and hands over batches without the GIL, so the reads
    overlap).  ``on_target``: indexes into ``ranges`` of the partitions the
    target has.  Returns ``(source summaries, target summaries)``.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    there = [r for i, r in enumerate(ranges) if i in on_target]
    with ThreadPoolExecutor(2, thread_name_prefix="kmigrate-verify") as pool:
        source_job = pool.submit(
            summarize_side,
            source,
            [(r.topic, r.partition, r.source_start) for r in ranges],
            {(r.topic, r.partition): r.source_end for r in ranges if r.source_end is not None},
        )
        target_job = pool.submit(
            summarize_side,
            target,
            [(r.topic, r.partition, r.target_start) for r in there],
            {(r.topic, r.partition): r.target_end for r in there if r.target_end is not None},
            {(r.topic, r.partition): r.offset_map for r in there if r.offset_map is not None},
        )
        return source_job.result(), target_job.result()


def _summarize_shard(
    cluster: dict[str, Any],
    starts: list[tuple[str, int, int]],
    stops: dict[tuple[str, int], int],
    keep: dict[tuple[str, int], dict[str, Any]] | None,
) -> dict[tuple[str, int], SideSummary]:
    """A verify worker process: :func:`summarize_side` of one side of one shard."""
    maps = {tp: PartitionMap.from_json(m) for tp, m in keep.items()} if keep else None
    from kmigrate.engines.workers import open_cluster

    return summarize_side(open_cluster(cluster), starts, stops, maps)


def verify(
    source: KafkaCluster,
    target: KafkaCluster,
    ranges: list[PartitionRange],
    progress: Any = None,
    workers: int | None = None,
) -> list[PartitionResult]:
    """Compare every range; one :class:`PartitionResult` each, in order.

    First each side is summarized in one read of all its partitions (count,
    offsets, digest), the two sides at the same time: with ``workers`` > 1
    (default: the number of CPUs) in processes of their own, the partitions
    dealt over ``workers // 2`` shards and each side of a shard read by one
    process (plain :class:`KafkaCluster` objects only, see
    :func:`kmigrate.engines.workers.shardable`); with one worker in two
    threads of this process.  Partitions whose counts or
    digests differ are then read again pairwise (:func:`compare_partition`)
    to name the first differing offsets.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    from kmigrate.engines.workers import (
        cluster_spec,
        default_workers,
        die_with_parent,
        lean_spawn,
        shardable,
        shards,
    )

    target_meta = target.topics()

    def present(r: PartitionRange) -> bool:
        meta = target_meta.get(r.topic)
        return meta is not None and r.partition < meta.partitions

    on_target = {i for i, r in enumerate(ranges) if present(r)}
    n = workers or default_workers()
    source_sums: dict[tuple[str, int], SideSummary] = {}
    target_sums: dict[tuple[str, int], SideSummary] = {}
    if n > 1 and ranges and shardable(source, target):
        # One process per side of each shard: each reads with its own consumer
        # and hashes on its own core (no GIL shared between the two sides).
        groups = shards(list(range(len(ranges))), max(1, n // 2))
        mp = multiprocessing.get_context("spawn")
        with (
            lean_spawn(),
            ProcessPoolExecutor(
                min(n, 2 * len(groups)),
                mp_context=mp,
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            ) as pool,
        ):
            jobs = []
            for group in groups:
                rs = [ranges[i] for i in group]
                there = [ranges[i] for i in group if i in on_target]
                jobs.append(
                    (
                        source_sums,
                        pool.submit(
                            _summarize_shard,
                            cluster_spec(source),
                            [(r.topic, r.partition, r.source_start) for r in rs],
                            {
                                (r.topic, r.partition): r.source_end
                                for r in rs
                                if r.source_end is not None
                            },
                            None,
                        ),
                    )
                )
                jobs.append(
                    (
                        target_sums,
                        pool.submit(
                            _summarize_shard,
                            cluster_spec(target),
                            [(r.topic, r.partition, r.target_start) for r in there],
                            {
                                (r.topic, r.partition): r.target_end
                                for r in there
                                if r.target_end is not None
                            },
                            {
                                (r.topic, r.partition): r.offset_map.as_json()
                                for r in there
                                if r.offset_map is not None
                            },
                        ),
                    )
                )
            for into, job in jobs:
                into.update(job.result())
    else:
        source_sums, target_sums = summarize_both(source, target, ranges, on_target)
    results = []
    for r in ranges:
        tp = (r.topic, r.partition)
        mine, theirs = source_sums[tp], target_sums.get(tp)
        if theirs is not None and (mine.records, mine.digest) == (theirs.records, theirs.digest):
            result = PartitionResult(r.topic, r.partition, mine, theirs, True)
            if r.offset_map is not None and r.target_end is not None:
                result.foreign_target_records = (r.target_end - r.target_start) - theirs.records
        elif r.offset_map is not None:
            result = compare_aligned(source, target, r, theirs is not None)
        else:
            result = compare_partition(source, target, r, theirs is not None)
        if progress is not None:
            progress.advance(result.source.records + result.target.records, 0)
        results.append(result)
    return results


def table_rows(results: list[PartitionResult]) -> list[list[Any]]:
    """Rows for the verification table."""

    def span(s: SideSummary) -> str:
        return "-" if s.first_offset is None else f"{s.first_offset}..{s.last_offset}"

    rows = []
    for r in results:
        if r.match:
            verdict = "OK"
        else:
            d = r.first_difference or {}
            verdict = (
                f"MISMATCH at source offset {d.get('source_offset')}, target offset "
                f"{d.get('target_offset')}: {d.get('reason')}"
            )
        rows.append(
            [
                r.topic,
                r.partition,
                r.source.records,
                span(r.source),
                r.target.records,
                span(r.target),
                r.source.digest[:12],
                r.target.digest[:12],
                verdict,
            ]
        )
    return rows


TABLE_HEADERS = [
    "topic",
    "partition",
    "source records",
    "source offsets",
    "target records",
    "target offsets",
    "source digest",
    "target digest",
    "verdict",
]


def report(
    results: list[PartitionResult], source: KafkaCluster, target: KafkaCluster
) -> dict[str, Any]:
    """The machine-readable evidence: per-partition facts and a summary."""
    bad = [r for r in results if not r.match]
    return {
        "generated_at": now_iso(),
        "source": source.bootstrap_servers,
        "target": target.bootstrap_servers,
        "digest": "sha256 over key, value, headers, timestamp per record, in offset order",
        "summary": {
            "partitions": len(results),
            "matched": len(results) - len(bad),
            "mismatched": len(bad),
            "source_records": sum(r.source.records for r in results),
            "target_records": sum(r.target.records for r in results),
        },
        "partitions": [asdict(r) for r in results],
    }


def run_verify(
    ctx: StepContext,
    topics: list[str],
    mirrored: StepRecord | None,
    report_path: Path | None,
    offset_map: OffsetMap | None = None,
    workers: int | None = None,
) -> StepRecord:
    """Verify, print the table, write the report; the step's whole forward action.

    ``workers``: processes the partitions are sharded over (see :func:`verify`).

    Raises:
        VerificationFailed: any partition differs (after the report is written).
    """
    ranges = ranges_for(ctx.source, topics, mirrored, offset_map)
    if ctx.dry_run:
        ctx.ui.line(
            f"would verify {len(ranges)} partitions of {len(topics)} topics"
            + (f" and write {report_path}" if report_path else "")
        )
        return {"partitions": len(ranges)}
    with ctx.ui.progress(0, "verify") as bar:
        results = verify(ctx.source, ctx.target, ranges, bar, workers)
    ctx.ui.table(table_rows(results), TABLE_HEADERS)
    data = report(results, ctx.source, ctx.target)
    if report_path is not None:
        atomic_write(report_path, _dumps(data))
        ctx.ui.line(f"report: {report_path}")
    summary = data["summary"]
    record: StepRecord = {"report": str(report_path) if report_path else None, **summary}
    if summary["mismatched"]:
        ctx.checkpoint(record)
        first = next(r for r in results if not r.match)
        d = first.first_difference or {}
        raise VerificationFailed(
            f"{summary['mismatched']} of {summary['partitions']} partitions differ; first: "
            f"{first.topic}[{first.partition}] at source offset {d.get('source_offset')}, "
            f"target offset {d.get('target_offset')} ({d.get('reason')})"
        )
    ctx.ui.ok(
        f"all {summary['partitions']} partitions match ({summary['source_records']:,} records)"
    )
    return record


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


class Verify(Step):
    """Per-partition counts, offsets and ordered digests; exit 1 on any difference."""

    action = "verify"
    rollback_summary = "nothing to undo (read-only)"

    def run(self, ctx: StepContext, previous: StepRecord) -> StepRecord:
        from kmigrate.steps.mirror import MirrorRecord  # mirror imports this module

        topics = select_topics(ctx.source.topics(), ctx.include, ctx.exclude)
        raw = ctx.journal_lookup("mirror")
        mirrored = MirrorRecord.from_json(raw)
        # The mirror keeps its map in the plan's state_dir (the record names the file).
        offset_map = OffsetMap.load(ctx.state_dir) if mirrored else None
        if offset_map is not None:
            names = {t for t, _ in offset_map.partitions()}
            copied = select_topics(names, ctx.include, ctx.exclude)
            missing = sorted(set(copied) - set(topics))
            if missing:
                # Skipped, they would leave "all N partitions match" over fewer topics.
                raise StepFailed(
                    f"the source lists no topic {', '.join(missing)}, which the mirror "
                    "copied: was it deleted, or is a source broker still starting? "
                    "Nothing was verified; run verify again once the source lists it"
                )
        record = run_verify(
            ctx, topics, raw, ctx.state_dir / self.spec.report, offset_map, self.spec.workers
        )
        if not ctx.dry_run:
            cross_check(ctx, ctx.state_dir / self.spec.report, record)
        return record


def cross_check(ctx: StepContext, report_path: Path, record: StepRecord) -> None:
    """After a match, the target type's own check of what verify read (Event Hubs:
    partition ids and event counts by sequence numbers); added to ``record``.

    Raises:
        VerificationFailed: the service's own API disagrees.
    """
    data = json.loads(report_path.read_text())
    counts = {(p["topic"], p["partition"]): p["target"]["records"] for p in data["partitions"]}
    found = ctx.target_plane.cross_check(ctx.target, counts)
    if not found.rows and not found.problems:
        return
    ctx.ui.table([list(r) for r in found.rows], [f"{ctx.target_plane.cluster_type}", "found"])
    record["cross_check"] = {"rows": dict(found.rows), "problems": found.problems}
    if found.problems:
        ctx.checkpoint(record)
        raise VerificationFailed("; ".join(found.problems))

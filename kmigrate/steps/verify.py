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

Each side is read once for all its partitions (:func:`summarize_side`); every
:data:`CHECKPOINT_EVERY` records the partition's running digest is kept.  The
first difference of a partition whose digests differ lies after the last
checkpoint both sides share and within the next :data:`CHECKPOINT_EVERY`
records, so one short read of every differing partition from there names it
(:func:`locate_differences`): verify's time does not grow with the number of
partitions that differ.

A target topic with ``message.timestamp.type=LogAppendTime`` stamps each
record with the target's own time on append (Kafka docs, topic configs;
KIP-32): no copy can keep the source's timestamps there.  Its partitions are
compared without timestamps (the digest leaves out the i64), and the output
and the report say so (``timestamps_not_compared``).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from kmigrate.adapters.kafka import OFFSET_BEGINNING

# The cluster port's Protocol, under the name this module's signatures use.
from kmigrate.clusters.port import Cluster as KafkaCluster
from kmigrate.clusters.port import PartitionEnd, Record
from kmigrate.errors import StepFailed, VerificationFailed
from kmigrate.journal import atomic_write, now_iso
from kmigrate.offsets.map import OffsetMap, PartitionMap
from kmigrate.selection import select_topics
from kmigrate.steps.base import Record as StepRecord
from kmigrate.steps.base import Step, StepContext
from kmigrate.topic_configs import LOG_APPEND_TIME, TIMESTAMP_TYPE_KEY, log_append_time_topics

_NULL = b"\xff"


def _field(h: Any, data: bytes | None) -> None:
    if data is None:
        h.update(_NULL)
    else:
        h.update(b"\x00" + struct.pack(">Q", len(data)))
        h.update(data)


def digest_record(h: Any, record: Record, timestamps: bool = True) -> None:
    """Feed one record's canonical encoding (module docstring) into hash ``h``;
    without the timestamp when ``timestamps`` is False (a LogAppendTime target)."""
    _field(h, record.key)
    _field(h, record.value)
    h.update(struct.pack(">I", len(record.headers)))
    for name, value in record.headers:
        _field(h, name.encode("utf-8"))
        _field(h, value)
    if timestamps:
        h.update(struct.pack(">q", record.timestamp_ms))


def same_record(a: Record, b: Record, timestamps: bool = True) -> bool:
    """Whether two records hold the same key, value, headers and (when
    ``timestamps``) timestamp."""
    return (a.key, a.value, a.headers) == (b.key, b.value, b.headers) and (
        not timestamps or a.timestamp_ms == b.timestamp_ms
    )


def _what_differs(a: Record, b: Record, timestamps: bool = True) -> str:
    return _fields_differ(
        (a.key, a.value, a.headers, a.timestamp_ms if timestamps else 0),
        (b.key, b.value, b.headers, b.timestamp_ms if timestamps else 0),
    )


def _fields_differ(a: tuple[Any, ...], b: tuple[Any, ...]) -> str:
    """``value differs`` / ``key, timestamp differ`` from two (key, value, headers,
    timestamp) tuples (the values themselves or fingerprints of them)."""
    names = ("key", "value", "headers", "timestamp")
    parts = [name for name, x, y in zip(names, a, b, strict=True) if x != y]
    return ", ".join(parts) + " differ" if len(parts) > 1 else f"{parts[0]} differs"


@dataclass
class SideSummary:
    """One side of one partition: record count, first/last offset, digest (hex)."""

    records: int = 0
    first_offset: int | None = None
    last_offset: int | None = None
    digest: str = ""


#: Records between two checkpoints of a side's running digest (a power of two).
CHECKPOINT_EVERY = 1024


@dataclass
class Checkpoint:
    """The running digest of one side after ``records`` records, the last of
    them at ``offset``: where two sides first part, the first difference lies
    in the next :data:`CHECKPOINT_EVERY` records."""

    records: int
    offset: int
    digest: bytes


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
    #: Compare timestamps (False: the target topic is LogAppendTime).
    timestamps: bool = True


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
    #: False when the target topic stamps its own time (LogAppendTime): the
    #: digests and the comparison leave timestamps out.
    timestamps_compared: bool = True


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
                digest_record(hashes[i], rec, rng.timestamps)
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
            elif not same_record(a, b, rng.timestamps):
                first = {
                    "source_offset": a.offset,
                    "target_offset": b.offset,
                    "reason": _what_differs(a, b, rng.timestamps),
                }
    for side, h in zip(sides, hashes, strict=True):
        side.digest = h.hexdigest()
    if not target_has_partition:
        first = {
            "source_offset": sides[0].first_offset,
            "target_offset": None,
            "reason": "partition missing on target",
        }
    return PartitionResult(
        rng.topic, rng.partition, sides[0], sides[1], first is None, first, 0, rng.timestamps
    )


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
        digest_record(hashes[i], rec, rng.timestamps)

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
        if not same_record(a, found, rng.timestamps):
            note(a.offset, found.offset, _what_differs(a, found, rng.timestamps))
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
        rng.topic, rng.partition, sides[0], sides[1], first is None, first, foreign, rng.timestamps
    )


_FIELD = struct.Struct(">BQ").pack  # b"\x00" + u64(len(field))
_NO_HEADERS_TS = struct.Struct(">Iq").pack  # u32(0 headers) + i64(timestamp)
_NO_HEADERS = struct.pack(">I", 0)  # u32(0 headers), no timestamp
_U32 = struct.Struct(">I").pack
_I64 = struct.Struct(">q").pack


class _Side:
    """One partition of one side while it is read (slotted: touched per record)."""

    __slots__ = (
        "done",
        "first",
        "hash",
        "keep",
        "last",
        "marks",
        "records",
        "skipped",
        "stop",
        "ts",
        "update",
    )

    def __init__(self, stop: float, keep: list[tuple[int, int]] | None, ts: bool = True) -> None:
        self.hash = hashlib.sha256()
        self.ts = ts
        self.update = self.hash.update
        self.stop = stop
        self.keep = keep
        self.done = False
        self.records = 0
        self.first: int | None = None
        self.last: int | None = None
        self.marks: list[Checkpoint] = []
        self.skipped = 0  # records read that ``keep`` does not list


def _kept(keep: list[tuple[int, int]], offset: int) -> bool:
    """Whether ``offset`` lies in one of the ascending ``[start, end)`` ranges;
    ranges wholly below it are dropped (offsets come in ascending order)."""
    while keep and keep[0][1] <= offset:
        keep.pop(0)
    return bool(keep) and keep[0][0] <= offset


#: What a side's read gives per partition: its summary, its checkpoints and the
#: records read that the offset map does not list (another writer's).
Summaries = dict[tuple[str, int], tuple[SideSummary, list[Checkpoint], int]]


def _keep_ranges(m: PartitionMap | None) -> list[tuple[int, int]] | None:
    return [(r.target_start, r.target_end) for r in m.runs] if m is not None else None


def summarize_side(
    cluster: KafkaCluster,
    starts: list[tuple[str, int, int]],
    stops: dict[tuple[str, int], int],
    keep: dict[tuple[str, int], PartitionMap] | None = None,
    tick: Any = None,
    untimed: set[tuple[str, int]] | frozenset[tuple[str, int]] = frozenset(),
) -> Summaries:
    """Count, first/last offset and ordered digest of many partitions in one read.

    One consumer reads every partition at once, so a side costs about one
    plain consume of its records.  The fast path: raw messages, one SHA-256
    object per partition fed field by field in the canonical encoding of
    :func:`digest_record` (the same bytes, so the same digest), no
    :class:`Record` per record.  ``keep``: per partition, the offset map
    whose target offsets count (only the target offsets it lists); others
    are skipped.  Every :data:`CHECKPOINT_EVERY` records of a partition the
    running digest is kept as a :class:`Checkpoint` (and ``tick(n)`` is
    called with the records counted since the last call, for a progress
    bar), so two sides that differ can be told where, without reading the
    partition again from its start (:func:`locate_differences`).  ``untimed``:
    partitions digested without timestamps (a LogAppendTime target).

    Raises:
        kmigrate.errors.ClusterError: the side could not be read.
    """
    inf = float("inf")
    state: dict[tuple[str, int], _Side] = {}
    for t, p, _ in starts:
        state[(t, p)] = _Side(
            stops.get((t, p), inf), _keep_ranges((keep or {}).get((t, p))), (t, p) not in untimed
        )
    null = _NULL
    field_ = _FIELD
    tail = _NO_HEADERS_TS
    mask = CHECKPOINT_EVERY - 1
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
                    st.skipped += 1
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
                    if st.ts:
                        update(_I64(msg.timestamp()[1]))
                elif st.ts:
                    update(tail(0, msg.timestamp()[1]))
                else:
                    update(_NO_HEADERS)
                st.records += 1
                if st.first is None:
                    st.first = o
                st.last = o
                if not st.records & mask:
                    st.marks.append(Checkpoint(st.records, o, st.hash.copy().digest()))
                    if tick is not None:
                        tick(CHECKPOINT_EVERY)
    if tick is not None:
        tick(sum(st.records & mask for st in state.values()))
    return {
        tp: (SideSummary(st.records, st.first, st.last, st.hash.hexdigest()), st.marks, st.skipped)
        for tp, st in state.items()
    }


def summarize_both(
    source: KafkaCluster,
    target: KafkaCluster,
    ranges: list[PartitionRange],
    on_target: set[int],
    tick: Any = None,
) -> tuple[Summaries, Summaries]:
    """Summarize both sides of ``ranges`` at the same time (a thread each:
    librdkafka fetches and hands over batches without the GIL, so the reads
    overlap).  ``on_target``: indexes into ``ranges`` of the partitions the
    target has.  ``tick(n)``: called from the source's thread as it counts
    records.  Returns ``(source summaries, target summaries)``.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    there = [r for i, r in enumerate(ranges) if i in on_target]
    untimed = {(r.topic, r.partition) for r in ranges if not r.timestamps}
    with ThreadPoolExecutor(2, thread_name_prefix="kmigrate-verify") as pool:
        source_job = pool.submit(
            summarize_side,
            source,
            [(r.topic, r.partition, r.source_start) for r in ranges],
            {(r.topic, r.partition): r.source_end for r in ranges if r.source_end is not None},
            None,
            tick,
            untimed,
        )
        target_job = pool.submit(
            summarize_side,
            target,
            [(r.topic, r.partition, r.target_start) for r in there],
            {(r.topic, r.partition): r.target_end for r in there if r.target_end is not None},
            {(r.topic, r.partition): r.offset_map for r in there if r.offset_map is not None},
            None,
            untimed,
        )
        return source_job.result(), target_job.result()


#: In a verify worker process: the parent's shared count of source records read.
_COUNTER: Any = None


def _verify_worker_init(parent_pid: int, counter: Any) -> None:
    """A verify worker's initializer: die with the parent; keep the shared counter."""
    from kmigrate.engines.workers import die_with_parent

    global _COUNTER
    _COUNTER = counter
    die_with_parent(parent_pid)


def _count(n: int) -> None:
    with _COUNTER.get_lock():
        _COUNTER.value += n


def _summarize_shard(
    cluster: dict[str, Any],
    starts: list[tuple[str, int, int]],
    stops: dict[tuple[str, int], int],
    keep: dict[tuple[str, int], dict[str, Any]] | None,
    counts: bool = False,
    untimed: list[tuple[str, int]] | None = None,
) -> Summaries:
    """A verify worker process: :func:`summarize_side` of one side of one shard
    (``counts``: add the records read to the parent's progress counter;
    ``untimed``: partitions digested without timestamps)."""
    maps = {tp: PartitionMap.from_json(m) for tp, m in keep.items()} if keep else None
    from kmigrate.engines.workers import open_cluster

    tick = _count if counts and _COUNTER is not None else None
    gone = {(t, p) for t, p in untimed or []}
    return summarize_side(open_cluster(cluster), starts, stops, maps, tick, gone)


def _fingerprint(msg: Any, ts: bool = True) -> tuple[int, tuple[int, int, int, int]]:
    """``(offset, (key, value, headers, timestamp))`` of a raw message, each field
    as Python's hash (compared only within this process); timestamp 0 when not
    ``ts`` (a LogAppendTime target)."""
    h = msg.headers()
    return msg.offset(), (
        hash(msg.key()),
        hash(msg.value()),
        hash(tuple(h) if h else ()),
        msg.timestamp()[1] if ts else 0,
    )


def fingerprint_side(
    cluster: KafkaCluster,
    starts: list[tuple[str, int, int]],
    stops: dict[tuple[str, int], int],
    keep: dict[tuple[str, int], PartitionMap] | None = None,
    limit: int = CHECKPOINT_EVERY,
    untimed: set[tuple[str, int]] | frozenset[tuple[str, int]] = frozenset(),
) -> dict[tuple[str, int], list[tuple[int, tuple[int, int, int, int]]]]:
    """Fingerprints of at most ``limit`` records (those ``keep`` lists, as in
    :func:`summarize_side`) of many partitions from given offsets, in one read.

    Raises:
        kmigrate.errors.ClusterError: the side could not be read.
    """
    inf = float("inf")
    out: dict[tuple[str, int], list[tuple[int, tuple[int, int, int, int]]]] = {
        (t, p): [] for t, p, _ in starts
    }
    ranges = {(t, p): _keep_ranges((keep or {}).get((t, p))) for t, p, _ in starts}
    done: set[tuple[str, int]] = set()
    with cluster.raw_reader(starts) as reader:
        for t, p, o in starts:
            if o >= 0 and o >= stops.get((t, p), inf):
                done.add((t, p))
                reader.finish(t, p, o)
        while reader.pending:
            msg: Any  # a raw message: its getters are typed Optional, never None here
            for msg in reader.consume():
                if msg.error() is not None:
                    reader.event(msg)
                    continue
                tp: tuple[str, int] = (msg.topic(), msg.partition())
                if tp in done:
                    continue
                o = msg.offset()
                kept = ranges[tp]
                if o >= stops.get(tp, inf) or len(out[tp]) >= limit:
                    done.add(tp)
                    reader.finish(*tp, o)
                    continue
                if kept is not None and not _kept(kept, o):
                    continue
                out[tp].append(_fingerprint(msg, tp not in untimed))
    return out


def _first_difference(
    rng: PartitionRange,
    src: list[tuple[int, tuple[int, int, int, int]]],
    tgt: list[tuple[int, tuple[int, int, int, int]]],
) -> dict[str, Any] | None:
    """The first differing pair of two fingerprint lists read from the same
    point (the same rules as :func:`compare_partition` and, through the
    offset map, :func:`compare_aligned`)."""
    m = rng.offset_map

    def diff(s: int | None, t: int | None, reason: str) -> dict[str, Any]:
        return {"source_offset": s, "target_offset": t, "reason": reason}

    for a, b in zip_longest(src, tgt):
        if m is None:
            if b is None:
                return diff(a[0], None, "missing on target")
            if a is None:
                return diff(None, b[0], "extra record on target")
        else:
            if a is None:
                return diff(
                    m.to_source(b[0]), b[0], "extra record on target (its source record is gone)"
                )
            want = m.to_target(a[0])
            if want is None:
                return diff(a[0], None, "missing on target (not in the offset map)")
            if b is None or b[0] > want:
                return diff(a[0], want, "missing on target")
            if b[0] < want:
                return diff(
                    m.to_source(b[0]), b[0], "extra record on target (its source record is gone)"
                )
        if a[1] != b[1]:
            return diff(a[0], b[0], _fields_differ(a[1], b[1]))
    return None


def _resume_point(
    rng: PartitionRange, mine: list[Checkpoint], theirs: list[Checkpoint]
) -> tuple[int, int]:
    """Source and target offsets to read from: just after the last checkpoint
    both sides share (the range's starts when they share none)."""
    source_from, target_from = rng.source_start, rng.target_start
    for a, b in zip(mine, theirs, strict=False):
        if a.digest != b.digest:
            break
        source_from, target_from = a.offset + 1, b.offset + 1
    return source_from, target_from


def locate_differences(
    source: KafkaCluster,
    target: KafkaCluster,
    todo: list[tuple[PartitionRange, list[Checkpoint], list[Checkpoint]]],
) -> list[dict[str, Any] | None]:
    """The first difference of each partition in ``todo`` (ranges whose sides
    differ, with each side's checkpoints), all partitions in one short read
    per side: each side is read from the last checkpoint both share, at most
    :data:`CHECKPOINT_EVERY` records per partition, so the time does not grow
    with the number of differing partitions.  None where no difference shows
    in that window (the caller then compares the partition whole).

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    points = [_resume_point(r, mine, theirs) for r, mine, theirs in todo]
    untimed = {(r.topic, r.partition) for r, _, _ in todo if not r.timestamps}
    with ThreadPoolExecutor(2, thread_name_prefix="kmigrate-locate") as pool:
        source_job = pool.submit(
            fingerprint_side,
            source,
            [(r.topic, r.partition, s) for (r, _, _), (s, _) in zip(todo, points, strict=True)],
            {(r.topic, r.partition): r.source_end for r, _, _ in todo if r.source_end is not None},
            None,
            CHECKPOINT_EVERY,
            untimed,
        )
        target_job = pool.submit(
            fingerprint_side,
            target,
            [(r.topic, r.partition, t) for (r, _, _), (_, t) in zip(todo, points, strict=True)],
            {(r.topic, r.partition): r.target_end for r, _, _ in todo if r.target_end is not None},
            {(r.topic, r.partition): r.offset_map for r, _, _ in todo if r.offset_map is not None},
            CHECKPOINT_EVERY,
            untimed,
        )
        src, tgt = source_job.result(), target_job.result()
    return [
        _first_difference(r, src[(r.topic, r.partition)], tgt[(r.topic, r.partition)])
        for r, _, _ in todo
    ]


def verify(
    source: KafkaCluster,
    target: KafkaCluster,
    ranges: list[PartitionRange],
    progress: Any = None,
    workers: int | None = None,
) -> list[PartitionResult]:
    """Compare every range; one :class:`PartitionResult` each, in order.

    First each side is summarized in one read of all its partitions (count,
    offsets, digest, a checkpoint of the running digest every
    :data:`CHECKPOINT_EVERY` records), the two sides at the same time: with
    ``workers`` > 1 (default: the number of CPUs) in processes of their own,
    the partitions dealt over ``workers // 2`` shards and each side of a
    shard read by one process (plain :class:`KafkaCluster` objects only, see
    :func:`kmigrate.engines.workers.shardable`); with one worker in two
    threads of this process.  ``progress`` advances by the source records
    read while the sides are read.  For partitions whose counts or digests
    differ, the first differing offsets are then found from the checkpoints
    in one short read of all of them (:func:`locate_differences`).

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    from kmigrate.engines.workers import (
        cluster_spec,
        default_workers,
        lean_spawn,
        shardable,
        shards,
    )

    target_meta = target.topics()

    def present(r: PartitionRange) -> bool:
        meta = target_meta.get(r.topic)
        return meta is not None and r.partition < meta.partitions

    on_target = {i for i, r in enumerate(ranges) if present(r)}
    stamped = set(log_append_time_topics(target, {ranges[i].topic for i in on_target}))
    for r in ranges:
        if r.topic in stamped:
            r.timestamps = False
    untimed = sorted((r.topic, r.partition) for r in ranges if not r.timestamps)
    n = workers or default_workers()
    source_sums: Summaries = {}
    target_sums: Summaries = {}
    shown = 0

    def follow_jobs(jobs: list[Any], read: Any) -> None:
        """Wait for ``jobs``, moving the bar to ``read()`` records about 5 times a second."""
        nonlocal shown
        pending = set(jobs)
        while pending:
            _done, pending = wait(pending, timeout=0.2)
            now = read()
            if progress is not None and now > shown:
                progress.advance(now - shown, 0)
                progress.show(progress.note)
                shown = now

    if n > 1 and ranges and shardable(source, target):
        # One process per side of each shard: each reads with its own consumer
        # and hashes on its own core (no GIL shared between the two sides).
        groups = shards(list(range(len(ranges))), max(1, n // 2))
        mp = multiprocessing.get_context("spawn")
        counter = mp.Value("q", 0)
        with (
            lean_spawn(),
            ProcessPoolExecutor(
                min(n, 2 * len(groups)),
                mp_context=mp,
                initializer=_verify_worker_init,
                initargs=(os.getpid(), counter),
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
                            True,
                            untimed,
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
                            False,
                            untimed,
                        ),
                    )
                )
            follow_jobs([job for _, job in jobs], lambda: counter.value)
            for into, job in jobs:
                into.update(job.result())
    else:
        read = [0]

        def tick(k: int) -> None:
            read[0] += k

        with ThreadPoolExecutor(1, thread_name_prefix="kmigrate-verify-main") as runner:
            both = runner.submit(summarize_both, source, target, ranges, on_target, tick)
            follow_jobs([both], lambda: read[0])
            source_sums, target_sums = both.result()
    results: list[PartitionResult] = []
    todo: list[tuple[int, PartitionRange, list[Checkpoint], list[Checkpoint]]] = []
    for r in ranges:
        tp = (r.topic, r.partition)
        mine, mine_marks, _ = source_sums[tp]
        theirs, theirs_marks, foreign = target_sums.get(tp, (None, [], 0))
        if theirs is None:
            first: dict[str, Any] | None = {
                "source_offset": mine.first_offset,
                "target_offset": None,
                "reason": "partition missing on target",
            }
            results.append(PartitionResult(r.topic, r.partition, mine, SideSummary(), False, first))
            results[-1].target.digest = hashlib.sha256().hexdigest()
            results[-1].timestamps_compared = r.timestamps
            continue
        same = (mine.records, mine.digest) == (theirs.records, theirs.digest)
        results.append(PartitionResult(r.topic, r.partition, mine, theirs, same, None, foreign))
        results[-1].timestamps_compared = r.timestamps
        if not same:
            todo.append((len(results) - 1, r, mine_marks, theirs_marks))
    if todo:
        found = locate_differences(source, target, [(r, a, b) for _, r, a, b in todo])
        for (i, r, _, _), first in zip(todo, found, strict=True):
            if first is None:  # not in the window: compare the partition whole
                whole = (compare_aligned if r.offset_map is not None else compare_partition)(
                    source, target, r, True
                )
                first = whole.first_difference or {
                    "source_offset": None,
                    "target_offset": None,
                    "reason": "digests differ",
                }
            results[i].first_difference = first
    return results


#: Why a partition's timestamps are not compared (output and report).
LOG_APPEND_TIME_NOTE = (
    f"the target topic has {TIMESTAMP_TYPE_KEY}={LOG_APPEND_TIME}, so the target stamps "
    "each record with its own time on append (expected; Kafka topic configs, KIP-32); "
    "key, value, headers, order and counts are compared, timestamps are not"
)


def table_rows(results: list[PartitionResult]) -> list[list[Any]]:
    """Rows for the verification table."""

    def span(s: SideSummary) -> str:
        return "-" if s.first_offset is None else f"{s.first_offset}..{s.last_offset}"

    rows = []
    for r in results:
        if r.match:
            verdict = "OK" if r.timestamps_compared else "OK (timestamps not compared)"
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


def topic_rows(results: list[PartitionResult]) -> list[list[Any]]:
    """One row per topic: partitions, how many match and differ, records per side."""
    by_topic: dict[str, list[PartitionResult]] = {}
    for r in results:
        by_topic.setdefault(r.topic, []).append(r)
    rows = []
    for topic, parts in by_topic.items():
        bad = sum(1 for r in parts if not r.match)
        rows.append(
            [
                topic,
                len(parts),
                len(parts) - bad,
                bad,
                f"{sum(r.source.records for r in parts):,}",
                f"{sum(r.target.records for r in parts):,}",
                "OK" if not bad else "DIFFERS",
            ]
        )
    return rows


TOPIC_HEADERS = [
    "topic",
    "partitions",
    "match",
    "differ",
    "source records",
    "target records",
    "verdict",
]


def show_results(ui: Any, results: list[PartitionResult]) -> None:
    """Print the verification: with ``ui.details`` every partition; else one row
    per topic, then every partition that differs (all of them, never a sample)."""
    if ui.details:
        ui.table(table_rows(results), TABLE_HEADERS)
        return
    ui.table(topic_rows(results), TOPIC_HEADERS)
    bad = [r for r in results if not r.match]
    if bad:
        ui.line(f"partitions that differ ({len(bad):,}):")
        ui.table(table_rows(bad), TABLE_HEADERS)
    ui.line(f"(one row per topic; --details for all {len(results):,} partitions)")


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
    untimed = sorted({r.topic for r in results if not r.timestamps_compared})
    return {
        "generated_at": now_iso(),
        "source": source.bootstrap_servers,
        "target": target.bootstrap_servers,
        "digest": "sha256 over key, value, headers, timestamp per record, in offset order",
        # Topics compared without timestamps, and why.
        "timestamps_not_compared": {topic: LOG_APPEND_TIME_NOTE for topic in untimed},
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
    total, estimated = _source_total(ctx.source, ranges)
    with ctx.ui.progress(total, "verify", estimate=estimated) as bar:
        if estimated:
            refine_total(ctx.source, ranges, bar, total)
        results = verify(ctx.source, ctx.target, ranges, bar, workers)
    show_results(ctx.ui, results)
    untimed = sorted({r.topic for r in results if not r.timestamps_compared})
    if untimed:
        ctx.ui.line(f"timestamps not compared on {', '.join(untimed)}: {LOG_APPEND_TIME_NOTE}")
    data = report(results, ctx.source, ctx.target)
    if report_path is not None:
        atomic_write(report_path, _dumps(data))
        ctx.ui.line(f"report: {report_path}")
    summary = data["summary"]
    record: StepRecord = {"report": str(report_path) if report_path else None, **summary}
    if untimed:
        record["timestamps_not_compared"] = untimed
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
        f"all {summary['partitions']:,} partitions match ({summary['source_records']:,} records)"
    )
    return record


def _source_total(source: KafkaCluster, ranges: list[PartitionRange]) -> tuple[int, bool]:
    """Records verify will read on the source (what its bar counts) and whether
    that is an estimate: exact from the mirror's ranges, else from the log start
    offsets and high watermarks (ListOffsets: one quick request per partition;
    an estimate, as transaction markers and compacted records take offsets too,
    and some brokers' high watermark lags, see :func:`refine_total`).

    Raises:
        kmigrate.errors.ClusterError: the source could not be asked.
    """
    open_ = [(r.topic, r.partition) for r in ranges if r.source_end is None or r.source_start < 0]
    marks = source.watermark_offsets(open_) if open_ else {}
    return _total(ranges, marks, {}), bool(open_)


def _total(
    ranges: list[PartitionRange],
    marks: dict[tuple[str, int], tuple[int, int]],
    ends: dict[tuple[str, int], int],
) -> int:
    total = 0
    for r in ranges:
        low, high = marks.get((r.topic, r.partition), (0, 0))
        start = r.source_start if r.source_start >= 0 else low
        end = r.source_end if r.source_end is not None else ends.get((r.topic, r.partition), high)
        total += max(end - start, 0)
    return total


#: Below this many records (the ListOffsets estimate), :func:`refine_total` reads
#: the log ends for the bar: there a lagging high watermark (a batch per
#: partition) is a large share of the total, and verify is short.  Above it the
#: read would only compete with verify for the CPU (about 20 % of verify's rate
#: on 300,000 records, ``bench/mirror_bench.py``) for a share too small to see.
REFINE_BELOW = 100_000


def refine_total(
    source: KafkaCluster, ranges: list[PartitionRange], bar: Any, estimate: int
) -> threading.Thread | None:
    """Set the bar's total from the log ends read to the end (right where a
    broker's ListOffsets lags, as Tansu's does), in a thread of its own so that
    verify does not wait for it; a failure leaves the first estimate.  Only
    when the ``estimate`` is below :data:`REFINE_BELOW`; None when not started.
    The thread is not a daemon: the process ends after its consumer closed."""
    open_ = [(r.topic, r.partition) for r in ranges if r.source_end is None or r.source_start < 0]

    def work() -> None:
        try:
            marks = source.watermark_offsets(open_)
            ends = source.watermark_offsets(open_, read_end=True)
            bar.set_total(_total(ranges, marks, {tp: end for tp, (_low, end) in ends.items()}))
        except Exception:  # noqa: BLE001 - only the bar's total is lost
            return

    if not open_ or estimate >= REFINE_BELOW:
        return None
    thread = threading.Thread(target=work, name="kmigrate-verify-total")
    thread.start()
    return thread


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

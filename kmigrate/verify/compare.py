"""The ordered comparison of one partition: the n-th source record with the n-th
target record, or aligned through the mirror's offset map.

For each partition both sides are read (records are counted by reading them,
never from watermarks) and paired in order: the n-th source record of the
range with the n-th target record (:func:`compare_partition`).  Each side
gets an ordered digest (the encoding of :mod:`kmigrate.verify.digest`).  The
first pair that differs (or the first record one side lacks) is named by its
source and target offsets.

With an offset map (the plan's ``mirror`` step keeps one in ``state_dir``),
source and target records are aligned through it, not the n-th with the n-th
(:func:`compare_aligned`): each source record in ``[source_start,
source_position)`` is paired with the target record at the offset the map
gives it, so partitions whose offsets differ (transaction markers, a log start
above 0, records another writer put on the target with ``append: true``)
compare right.  Target records the map does not list are another writer's:
they are counted (``foreign_target_records``), not compared.  Without a map,
whole partitions are compared from their log start offsets
(:func:`ranges_for`).

These record-by-record comparisons read each partition on its own; verify's
main path reads each side once for all partitions
(:mod:`kmigrate.verify.summaries`) and uses them only where a difference lies
outside what :mod:`kmigrate.verify.locate` finds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any, Protocol

from kmigrate.adapters.kafka import OFFSET_BEGINNING
from kmigrate.clusters.port import Cluster, PartitionEnd, Record
from kmigrate.offsets.map import OffsetMap, PartitionMap
from kmigrate.verify.digest import BLOCK_RECORDS, ChainedDigest


def same_record(a: Record, b: Record, timestamps: bool = True) -> bool:
    """Whether two records hold the same key, value, headers and (when
    ``timestamps``) timestamp."""
    return (a.key, a.value, a.headers) == (b.key, b.value, b.headers) and (
        not timestamps or a.timestamp_ms == b.timestamp_ms
    )


def _what_differs(a: Record, b: Record, timestamps: bool = True) -> str:
    return fields_differ(
        (a.key, a.value, a.headers, a.timestamp_ms if timestamps else 0),
        (b.key, b.value, b.headers, b.timestamp_ms if timestamps else 0),
    )


def fields_differ(a: tuple[Any, ...], b: tuple[Any, ...]) -> str:
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


#: Records between two checkpoints of a side's running digest: a block of the
#: chained digest (:data:`kmigrate.verify.digest.BLOCK_RECORDS`).
CHECKPOINT_EVERY = BLOCK_RECORDS


@dataclass
class Checkpoint:
    """The running digest of one side after ``records`` records, the last of
    them at ``offset``: where two sides first part, the first difference lies
    in the next :data:`CHECKPOINT_EVERY` records.  ``last``: the SHA-256 of
    the record at ``offset`` alone (:func:`kmigrate.verify.digest.record_digest`),
    empty when not taken."""

    records: int
    offset: int
    digest: bytes
    last: bytes = b""


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


def missing_partition(source_offset: int | None) -> dict[str, Any]:
    """The first difference of a partition the target does not have."""
    return {
        "source_offset": source_offset,
        "target_offset": None,
        "reason": "partition missing on target",
    }


def _result(
    rng: PartitionRange,
    sides: tuple[SideSummary, SideSummary],
    hashes: tuple[Any, Any],
    first: dict[str, Any] | None,
    foreign: int,
    target_has_partition: bool,
) -> PartitionResult:
    """Close both sides' digests into a result; a partition the target lacks is
    named as such, whatever was found before."""
    for side, h in zip(sides, hashes, strict=True):
        side.digest = h.hexdigest()
    if not target_has_partition:
        first = missing_partition(sides[0].first_offset)
    return PartitionResult(
        rng.topic, rng.partition, sides[0], sides[1], first is None, first, foreign, rng.timestamps
    )


def _count(side: SideSummary, h: ChainedDigest, rec: Record, timestamps: bool) -> None:
    """Count one record into its side's summary and running digest ``h``."""
    side.records += 1
    side.last_offset = rec.offset
    if side.first_offset is None:
        side.first_offset = rec.offset
    h.add(rec, timestamps)


def _records(
    cluster: Cluster, topic: str, partition: int, start: int, end: int | None
) -> Iterator[Record]:
    stops = {(topic, partition): end} if end is not None else None
    for item in cluster.read([(topic, partition, start)], stop_offsets=stops):
        if not isinstance(item, PartitionEnd):
            yield item


def compare_partition(
    source: Cluster,
    target: Cluster,
    rng: PartitionRange,
    target_has_partition: bool = True,
) -> PartitionResult:
    """Read both sides of one partition and compare them record by record.


    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    hashes = (ChainedDigest(), ChainedDigest())
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
                _count(sides[i], hashes[i], rec, rng.timestamps)
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
    return _result(rng, sides, hashes, first, 0, target_has_partition)


class CopiedRange(Protocol):
    """What :func:`ranges_for` reads of a partition the mirror copied (its
    record's :class:`kmigrate.steps.mirror.PartitionCopy`): offsets ``[start, end)``."""

    topic: str
    partition: int
    source_start: int
    source_end: int
    target_start: int
    target_end: int


def ranges_for(
    source: Cluster,
    topics: list[str],
    copied: Sequence[CopiedRange] | None,
    offset_map: OffsetMap | None = None,
) -> list[PartitionRange]:
    """The ranges to compare: through the offset map when it has the partition,
    else from the partitions the mirror's record lists (``copied``), else whole
    partitions.

    Raises:
        kmigrate.errors.ClusterError: the source could not be asked for its topics.
    """
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
    if copied:
        return [
            PartitionRange(
                p.topic,
                p.partition,
                p.source_start,
                p.source_end,
                p.target_start,
                p.target_end,
            )
            for p in copied
            if p.topic in topics
        ]
    return [PartitionRange(t, p) for t, p in parts]


def compare_aligned(
    source: Cluster, target: Cluster, rng: PartitionRange, target_has_partition: bool
) -> PartitionResult:
    """Compare one partition through its offset map (``rng.offset_map`` must be set).

    Each source record is paired with the target record at the offset the map
    gives it; target records the map does not list are counted as foreign.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    m = rng.offset_map
    assert m is not None
    hashes = (ChainedDigest(), ChainedDigest())
    sides = (SideSummary(), SideSummary())
    first: dict[str, Any] | None = None
    foreign = 0

    def count(i: int, rec: Record) -> None:
        _count(sides[i], hashes[i], rec, rng.timestamps)

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
    return _result(rng, sides, hashes, first, foreign, target_has_partition)

"""Build the offset map of a copy another engine made (MirrorMaker 2): read both
clusters, align (:mod:`kmigrate.offsets.align`), name lost ranges
(:mod:`kmigrate.offsets.gaps`).

The MM2 engine calls :func:`build_offset_map` at the end of a run; then
``translate-offsets`` and ``verify`` read the map as they read the native
engine's.  Each side is read once, from its log start offset to its log end
offset read at the start (read to the end: right where ListOffsets lags),
through the raw reader, with the digest of :mod:`kmigrate.verify.digest`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.offsets.align import Item, PartitionAlignment, align_partition
from kmigrate.offsets.gaps import SourceMark, lost_ranges
from kmigrate.offsets.map import OffsetMap
from kmigrate.topic_configs import log_append_time_topics
from kmigrate.verify.digest import fields_digest


@dataclass
class AlignReport:
    """What :func:`build_offset_map` found, per partition and in total.

    Attributes:
        partitions: one :class:`~kmigrate.offsets.align.PartitionAlignment` each.
        lost: ``{"topic", "partition", "first", "last", "reason"}`` source
            ranges deleted before they were copied (offsets inclusive).
        seconds: wall time of the reads and the alignment.
        offset_syncs: MM2's offset syncs checked against the map, set by the
            caller (:func:`kmigrate.engines.mirrormaker2.offset_syncs.check_offset_syncs`).
    """

    partitions: list[PartitionAlignment] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    offset_syncs: dict[str, Any] | None = None

    @property
    def records(self) -> int:
        """Source and target records read."""
        return sum(p.source_records + p.target_records for p in self.partitions)

    @property
    def records_per_s(self) -> float:
        """Records read (both sides) per second of wall time."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def problems(self) -> list[str]:
        """One line per partition with duplicates, missing or unmatched records,
        and per lost range; empty when the copy is exact."""
        out = []
        for p in self.partitions:
            name = f"{p.topic}[{p.partition}]"
            if p.duplicates:
                first = p.duplicates[0]
                out.append(
                    f"{name}: {p.duplicate_records:,} records copied twice (first: source "
                    f"offsets {first.source_start}..{first.source_end - 1} again at target "
                    f"offsets {first.target_start}..{first.target_end - 1}); the offset map "
                    "keeps the first copies"
                )
            for first_, end in p.missing:
                out.append(f"{name}: source offsets {first_}..{end - 1} are not on the target")
            if p.unmatched:
                a, b = p.unmatched[0]
                out.append(
                    f"{name}: {p.unmatched_records:,} target records are no source record's "
                    f"copy (first: target offsets {a}..{b - 1})"
                )
        for d in self.lost:
            out.append(
                f"{d['topic']}[{d['partition']}]: source offsets {d['first']}..{d['last']} "
                f"lost: {d['reason']}"
            )
        for d in (self.offset_syncs or {}).get("disagreements", []):
            out.append(
                f"{d['topic']}[{d['partition']}]: MM2's offset sync {d['upstream']} -> "
                f"{d['downstream']} disagrees with the exact map: {d['reason']}"
            )
        return out

    def as_json(self) -> dict[str, Any]:
        """For the mirror's record (key ``alignment``) and the evidence report."""
        return {
            "problems": self.problems(),
            "offset_syncs": self.offset_syncs,
            "seconds": round(self.seconds, 3),
            "records_per_s": round(self.records_per_s),
            "partitions": [
                {
                    "topic": p.topic,
                    "partition": p.partition,
                    "copies": p.copies,
                    "duplicates": [
                        [r.source_start, r.target_start, r.length] for r in p.duplicates
                    ],
                    "missing": [list(r) for r in p.missing],
                    "unmatched": [list(r) for r in p.unmatched],
                    "pending": p.pending,
                }
                for p in self.partitions
            ],
            "lost": self.lost,
        }


def observe_source(
    source: Cluster, partitions: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], SourceMark]:
    """What the mirror step records of each source partition, at its start and
    while it follows (for :func:`build_offset_map`'s ``marks``): the log start
    offset, the end (read to the end: right where ListOffsets lags) and the
    topic id (KIP-516).  Reads only.

    Raises:
        kmigrate.errors.ClusterError: the source could not be asked.
    """
    parts = list(partitions)
    now_ms = int(time.time() * 1000)
    ids = source.topic_ids(sorted({t for t, _ in parts}))
    ends = source.watermark_offsets(parts, read_end=True)
    return {tp: SourceMark(now_ms, low, high, ids.get(tp[0])) for tp, (low, high) in ends.items()}


def digests(
    cluster: Cluster, topic: str, partition: int, start: int, stop: int, timestamps: bool
) -> Iterator[Item]:
    """``(offset, digest)`` of one partition's records in ``[start, stop)``, read raw.

    Raises:
        kmigrate.errors.ClusterError: the read failed (a start the log no
            longer holds: :class:`kmigrate.errors.OffsetOutOfRange`).
    """
    if start >= stop:
        return
    digest = fields_digest
    with cluster.raw_reader([(topic, partition, start)]) as reader:
        while reader.pending:
            msg: Any  # a raw message: its getters are typed Optional, never None here
            batch = []
            for msg in reader.consume():
                if msg.error() is not None:
                    reader.event(msg)
                    continue
                if not reader.pending:  # finished by an end-of-partition event
                    break
                o = msg.offset()
                if o >= stop:  # written after the end was read
                    reader.finish(topic, partition, stop)
                    break
                ts = msg.timestamp()[1] if timestamps else None
                batch.append((o, digest(msg.key(), msg.value(), msg.headers(), ts)))
                if o + 1 >= stop:
                    reader.finish(topic, partition, stop)
                    break
            yield from batch


def build_offset_map(
    source: Cluster,
    target: Cluster,
    partitions: Sequence[tuple[str, int]],
    offset_map: OffsetMap,
    workers: int | None = None,
    marks: Mapping[tuple[str, int], Sequence[SourceMark]] | None = None,
    untimed: Collection[str] | None = None,
) -> AlignReport:
    """Rebuild ``offset_map``'s partitions by aligning the two clusters, then save it.

    Args:
        partitions: ``(topic, partition)`` pairs copied (same names on both sides:
            MM2 runs with ``IdentityReplicationPolicy``).
        offset_map: the plan's map; each partition is replaced (runs,
            duplicates, lost ranges) and the file written (atomically).
        workers: partitions aligned at the same time (threads: the reads overlap,
            the digests share one core; default 2).
        marks: per partition what the mirror step saw of the source (log start,
            high watermark, topic id) at its start and while following, for the
            lost ranges (:func:`kmigrate.offsets.gaps.lost_ranges`); without
            them no lost range is named (nothing says where the copy began).
        untimed: target topics compared without timestamps (LogAppendTime);
            asked of the target when None.

    Raises:
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    started = time.monotonic()
    parts = list(partitions)
    topics = sorted({t for t, _ in parts})
    if untimed is None:
        untimed = set(log_append_time_topics(target, topics))
    ids = source.topic_ids(topics) if marks else {}
    now_ms = int(time.time() * 1000)
    source_marks = source.watermark_offsets(parts, read_end=True)
    target_marks = target.watermark_offsets(parts, read_end=True)

    def one(tp: tuple[str, int]) -> tuple[PartitionAlignment, list[dict[str, Any]]]:
        (s_low, s_end), (t_low, t_end) = source_marks[tp], target_marks[tp]
        timed = tp[0] not in untimed
        offset_map.forget(*tp)
        part = offset_map.begin(tp[0], tp[1], s_low, t_low)
        found = align_partition(
            part,
            digests(source, tp[0], tp[1], s_low, s_end, timed),
            digests(target, tp[0], tp[1], t_low, t_end, timed),
            source_end=s_end,
            target_end=t_end,
        )
        lost: list[dict[str, Any]] = []
        seen = (marks or {}).get(tp)
        if seen:
            now = SourceMark(now_ms, s_low, s_end, ids.get(tp[0]))
            first = part.runs[0].source_start if part.runs else None
            lost = lost_ranges(seen, now, first, found.unmatched_before_first)
            part.lost = lost
        return found, [{"topic": tp[0], "partition": tp[1], **d} for d in lost]

    report = AlignReport()
    with ThreadPoolExecutor(max(1, workers or 2), thread_name_prefix="kmigrate-align") as pool:
        for found, lost in pool.map(one, parts):
            report.partitions.append(found)
            report.lost.extend(lost)
    offset_map.save()
    report.seconds = time.monotonic() - started
    return report

"""Build the offset map of a copy another engine made (MirrorMaker 2): read both
clusters, align (:mod:`kmigrate.offsets.align`), name lost ranges
(:mod:`kmigrate.offsets.gaps`).

The MM2 engine calls :func:`build_offset_map` at the end of a run; then
``translate-offsets`` and ``verify`` read the map as they read the native
engine's.  Each side is read once, from its log start offset to its log end
offset read at the start (read to the end: right where ListOffsets lags),
through the raw reader (one consumer per side for a whole group of
partitions, as verify reads), with the digest of :mod:`kmigrate.verify.digest`;
the records of each partition go to its
:class:`~kmigrate.offsets.align.PartitionAligner` as they arrive.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.offsets.align import PartitionAligner, PartitionAlignment
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


#: How long one side's ``consume()`` waits for a batch (s): short, as the two
#: sides are read in turn by one thread and the other may have records ready.
CONSUME_WAIT_S = 0.005
#: Records read ahead on one side and not yet placed, per group of partitions,
#: above which that side waits for the other (records; about 120 bytes each).
BUFFER_LIMIT = 300_000


@dataclass
class _Group:
    """The partitions aligned through one consumer per side."""

    aligners: dict[tuple[str, int], PartitionAligner]
    stops: dict[str, dict[tuple[str, int], int]]  # side -> partition -> end offset
    untimed: Collection[str]
    buffered: dict[str, int] = field(default_factory=lambda: {"source": 0, "target": 0})

    def feed(self, side: str, reader: Any, msgs: list[Any]) -> set[tuple[str, int]]:
        """Digest one batch of raw messages of ``side`` into the aligners; returns
        the partitions fed.

        Raises:
            kmigrate.errors.ClusterError: a fetch error (via ``reader.event``).
        """
        touched: set[tuple[str, int]] = set()
        stops = self.stops[side]
        msg: Any  # a raw message: its getters are typed Optional, never None here
        for msg in msgs:
            if msg.error() is not None:
                end = reader.event(msg)
                if end is not None:
                    self._done(side, (end.topic, end.partition))
                    touched.add((end.topic, end.partition))
                continue
            tp = (msg.topic(), msg.partition())
            if tp not in reader.pending:
                continue
            o = msg.offset()
            stop = stops[tp]
            if o >= stop:  # written after the end was read
                reader.finish(*tp, stop)
                self._done(side, tp)
                touched.add(tp)
                continue
            ts = None if tp[0] in self.untimed else msg.timestamp()[1]
            item = (o, fields_digest(msg.key(), msg.value(), msg.headers(), ts))
            aligner = self.aligners[tp]
            if side == "source":
                aligner.add_source(item)
            else:
                aligner.add_target(item)
            self.buffered[side] += 1
            touched.add(tp)
            if o + 1 >= stop:
                reader.finish(*tp, stop)
                self._done(side, tp)
        return touched

    def _done(self, side: str, tp: tuple[str, int]) -> None:
        if side == "source":
            self.aligners[tp].source_done()
        else:
            self.aligners[tp].target_done()

    def advance(self, touched: set[tuple[str, int]]) -> None:
        """Place what the batch made placeable (the buffered counts move with it)."""
        for tp in touched:
            aligner = self.aligners[tp]
            before_s, before_t = aligner.src.read, aligner.waiting
            aligner.advance()
            self.buffered["source"] -= aligner.src.read - before_s
            self.buffered["target"] -= before_t - aligner.waiting


def _align_group(source: Cluster, target: Cluster, group: _Group) -> None:
    """Read both sides of a group's partitions, one consumer each, and align them.

    Each side's consumer is read a batch at a time in turn; a side that is
    :data:`BUFFER_LIMIT` records ahead waits, so memory stays bounded (the
    source never waits while target records wait for it, or once the target is
    read to its end).

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    starts = {
        side: [(t, p, start) for (t, p), (start, _stop) in group_starts.items()]
        for side, group_starts in _starts(group).items()
    }
    with source.raw_reader(starts["source"]) as src, target.raw_reader(starts["target"]) as tgt:
        readers = {"source": src, "target": tgt}
        for side, reader in readers.items():
            for t, p, start in starts[side]:
                if start >= group.stops[side][(t, p)]:
                    reader.finish(t, p, start)
                    group._done(side, (t, p))
        while src.pending or tgt.pending:
            touched: set[tuple[str, int]] = set()
            if src.pending and (
                group.buffered["source"] < BUFFER_LIMIT
                or group.buffered["target"] > 0  # target records wait for source ones
                or not tgt.pending
            ):
                touched |= group.feed("source", src, src.consume(CONSUME_WAIT_S))
            if tgt.pending and group.buffered["target"] < BUFFER_LIMIT:
                touched |= group.feed("target", tgt, tgt.consume(CONSUME_WAIT_S))
            group.advance(touched)


def _starts(group: _Group) -> dict[str, dict[tuple[str, int], tuple[int, int]]]:
    """Per side, each partition's (start, stop): the map's starts and the ends read."""
    out: dict[str, dict[tuple[str, int], tuple[int, int]]] = {"source": {}, "target": {}}
    for tp, aligner in group.aligners.items():
        out["source"][tp] = (aligner.part.source_start, group.stops["source"][tp])
        out["target"][tp] = (aligner.part.target_start, group.stops["target"][tp])
    return out


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
        workers: groups of partitions aligned at the same time, each read through
            one consumer per side (threads: the reads overlap, the digests share
            one core; default 2).
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

    n = max(1, min(workers or 2, len(parts)))
    groups = [
        _Group(
            {},
            {
                "source": {tp: source_marks[tp][1] for tp in parts[i::n]},
                "target": {tp: target_marks[tp][1] for tp in parts[i::n]},
            },
            untimed,
        )
        for i in range(n)
    ]
    for i, tp in enumerate(parts):
        offset_map.forget(*tp)
        part = offset_map.begin(tp[0], tp[1], source_marks[tp][0], target_marks[tp][0])
        groups[i % n].aligners[tp] = PartitionAligner(part)
    with ThreadPoolExecutor(n, thread_name_prefix="kmigrate-align") as pool:
        for job in [pool.submit(_align_group, source, target, g) for g in groups]:
            job.result()
    report = AlignReport()
    for i, tp in enumerate(parts):
        aligner = groups[i % n].aligners[tp]
        found = aligner.finish(source_marks[tp][1], target_marks[tp][1])
        report.partitions.append(found)
        seen = (marks or {}).get(tp)
        if seen:
            part = aligner.part
            now = SourceMark(now_ms, source_marks[tp][0], source_marks[tp][1], ids.get(tp[0]))
            first = part.runs[0].source_start if part.runs else None
            part.lost = lost_ranges(seen, now, first, found.unmatched_before_first)
            report.lost += [{"topic": tp[0], "partition": tp[1], **d} for d in part.lost]
    offset_map.save()
    report.seconds = time.monotonic() - started
    return report

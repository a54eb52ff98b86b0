"""The first-difference search: where two sides of a partition whose digests
differ first part, from the side summaries' checkpoints.

The first difference lies after the last checkpoint both sides share and
within the next :data:`~kmigrate.verify.compare.CHECKPOINT_EVERY` records, so
one short read of every differing partition from there names it
(:func:`locate_differences`): verify's time does not grow with the number of
partitions that differ.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import zip_longest
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.offsets.map import PartitionMap
from kmigrate.verify.compare import CHECKPOINT_EVERY, Checkpoint, PartitionRange, fields_differ
from kmigrate.verify.summaries import in_ranges, keep_ranges


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
    cluster: Cluster,
    starts: list[tuple[str, int, int]],
    stops: dict[tuple[str, int], int],
    keep: dict[tuple[str, int], PartitionMap] | None = None,
    limit: int = CHECKPOINT_EVERY,
    untimed: set[tuple[str, int]] | frozenset[tuple[str, int]] = frozenset(),
) -> dict[tuple[str, int], list[tuple[int, tuple[int, int, int, int]]]]:
    """Fingerprints of at most ``limit`` records (those ``keep`` lists, as in
    :func:`kmigrate.verify.summaries.summarize_side`) of many partitions from
    given offsets, in one read.

    Raises:
        kmigrate.errors.ClusterError: the side could not be read.
    """
    inf = float("inf")
    out: dict[tuple[str, int], list[tuple[int, tuple[int, int, int, int]]]] = {
        (t, p): [] for t, p, _ in starts
    }
    ranges = {(t, p): keep_ranges((keep or {}).get((t, p))) for t, p, _ in starts}
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
                if kept is not None and not in_ranges(kept, o):
                    continue
                out[tp].append(_fingerprint(msg, tp not in untimed))
    return out


def _first_difference(
    rng: PartitionRange,
    src: list[tuple[int, tuple[int, int, int, int]]],
    tgt: list[tuple[int, tuple[int, int, int, int]]],
) -> dict[str, Any] | None:
    """The first differing pair of two fingerprint lists read from the same
    point (the same rules as :func:`kmigrate.verify.compare.compare_partition`
    and, through the offset map, :func:`kmigrate.verify.compare.compare_aligned`)."""
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
            return diff(a[0], b[0], fields_differ(a[1], b[1]))
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
    source: Cluster,
    target: Cluster,
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

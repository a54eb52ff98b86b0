"""The ordered verification of many partitions: prove the target holds exactly
what the source held, per partition, in one read of each side.

First each side is summarized in one read of all its partitions (count,
offsets, ordered digest, a checkpoint every
:data:`~kmigrate.verify.compare.CHECKPOINT_EVERY` records;
:mod:`kmigrate.verify.summaries`), both sides at the same time, in worker
processes (:mod:`kmigrate.verify.pool`) or two threads.  Partitions whose
counts or digests differ then have their first difference named from the
checkpoints (:mod:`kmigrate.verify.locate`), or by a whole record-by-record
comparison (:mod:`kmigrate.verify.compare`) when it lies outside that window.

A target topic with ``message.timestamp.type=LogAppendTime`` stamps each
record with the target's own time on append (Kafka docs, topic configs;
KIP-32): no copy can keep the source's timestamps there.  Its partitions are
compared without timestamps (the digest leaves out the i64), and the output
and the report say so (``timestamps_not_compared``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.topic_configs import log_append_time_topics
from kmigrate.verify.compare import (
    Checkpoint,
    PartitionRange,
    PartitionResult,
    SideSummary,
    compare_aligned,
    compare_partition,
    missing_partition,
)
from kmigrate.verify.locate import locate_differences
from kmigrate.verify.pool import summarize_in_processes
from kmigrate.verify.summaries import Resume, Summaries, summarize_both

#: A partition whose sides differ: its index in the results, its range and each side's checkpoints.
Differing = tuple[int, PartitionRange, list[Checkpoint], list[Checkpoint]]


def verify(
    source: Cluster,
    target: Cluster,
    ranges: list[PartitionRange],
    progress: Any = None,
    workers: int | None = None,
    resume: Resume | None = None,
    marks: dict[tuple[str, int], tuple[list[Checkpoint], list[Checkpoint]]] | None = None,
) -> list[PartitionResult]:
    """Compare every range; one :class:`PartitionResult` each, in order.

    First each side is summarized in one read of all its partitions (count,
    offsets, digest, a checkpoint of the running digest every
    :data:`~kmigrate.verify.compare.CHECKPOINT_EVERY` records), the two sides
    at the same time: with ``workers`` > 1 (default: the number of CPUs) in
    processes of their own (:func:`kmigrate.verify.pool.summarize_in_processes`:
    plain :class:`kmigrate.adapters.kafka.KafkaCluster` objects only, see
    :func:`kmigrate.engines.pool.shardable`); with one worker in two
    threads of this process.  ``progress`` advances by the source records
    read while the sides are read.  For partitions whose counts or digests
    differ, the first differing offsets are then found from the checkpoints
    in one short read of all of them
    (:func:`kmigrate.verify.locate.locate_differences`).  ``resume``: ranges
    that go on from proven blocks (their counts and digests include those
    records, see :mod:`kmigrate.verify.proof`); ``marks``: filled with each
    partition's checkpoints on both sides, when given.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    from kmigrate.engines.pool import default_workers, shardable

    there = on_target(target, ranges)
    n = workers or default_workers()
    follow_jobs = BarFollower(progress)
    if n > 1 and ranges and shardable(source, target):
        source_sums, target_sums = summarize_in_processes(
            source, target, ranges, there, n, follow_jobs, resume
        )
    else:
        source_sums, target_sums = _summarize_in_threads(
            source, target, ranges, there, follow_jobs, resume
        )
    if marks is not None:
        for tp, (_, theirs, _) in source_sums.items():
            marks[tp] = (theirs, target_sums.get(tp, (None, [], 0))[1])
    results, todo = _results(ranges, source_sums, target_sums)
    if todo:
        _name_first_differences(source, target, results, todo)
    return results


def on_target(target: Cluster, ranges: list[PartitionRange]) -> set[int]:
    """Indexes into ``ranges`` of the partitions the target has; ranges of
    LogAppendTime target topics are set to compare no timestamps.

    Raises:
        kmigrate.errors.ClusterError: the target could not be asked.
    """
    target_meta = target.topics()

    def present(r: PartitionRange) -> bool:
        meta = target_meta.get(r.topic)
        return meta is not None and r.partition < meta.partitions

    present_at = {i for i, r in enumerate(ranges) if present(r)}
    stamped = set(log_append_time_topics(target, {ranges[i].topic for i in present_at}))
    for r in ranges:
        if r.topic in stamped:
            r.timestamps = False
    return present_at


class BarFollower:
    """Waits for jobs while moving a progress bar (or nothing, for None) to
    the records read so far."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.shown = 0

    def __call__(self, jobs: list[Any], read: Callable[[], int]) -> None:
        """Wait for ``jobs``, moving the bar to ``read()`` records about 5 times a second."""
        progress = self.progress
        pending = set(jobs)
        while pending:
            _done, pending = wait(pending, timeout=0.2)
            now = read()
            if progress is not None and now > self.shown:
                progress.advance(now - self.shown, 0)
                progress.show(progress.note)
                self.shown = now


def _summarize_in_threads(
    source: Cluster,
    target: Cluster,
    ranges: list[PartitionRange],
    on_target: set[int],
    follow_jobs: BarFollower,
    resume: Resume | None = None,
) -> tuple[Summaries, Summaries]:
    """Both sides summarized in threads of this process (one worker)."""
    read = [0]

    def tick(k: int) -> None:
        read[0] += k

    with ThreadPoolExecutor(1, thread_name_prefix="kmigrate-verify-main") as runner:
        both = runner.submit(summarize_both, source, target, ranges, on_target, tick, resume)
        follow_jobs([both], lambda: read[0])
        return both.result()


def _results(
    ranges: list[PartitionRange], source_sums: Summaries, target_sums: Summaries
) -> tuple[list[PartitionResult], list[Differing]]:
    """One result per range from the two sides' summaries, and the partitions
    whose sides differ (their first difference still to be named)."""
    results: list[PartitionResult] = []
    todo: list[Differing] = []
    for r in ranges:
        tp = (r.topic, r.partition)
        mine, mine_marks, _ = source_sums[tp]
        theirs, theirs_marks, foreign = target_sums.get(tp, (None, [], 0))
        if theirs is None:
            first: dict[str, Any] | None = missing_partition(mine.first_offset)
            results.append(PartitionResult(r.topic, r.partition, mine, SideSummary(), False, first))
            results[-1].target.digest = hashlib.sha256().hexdigest()
            results[-1].timestamps_compared = r.timestamps
            continue
        same = (mine.records, mine.digest) == (theirs.records, theirs.digest)
        results.append(PartitionResult(r.topic, r.partition, mine, theirs, same, None, foreign))
        results[-1].timestamps_compared = r.timestamps
        if not same:
            todo.append((len(results) - 1, r, mine_marks, theirs_marks))
    return results, todo


def _name_first_differences(
    source: Cluster, target: Cluster, results: list[PartitionResult], todo: list[Differing]
) -> None:
    """Set ``first_difference`` of each differing result: from the checkpoints,
    else (not in that window) by comparing the partition whole.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
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


def source_total(source: Cluster, ranges: list[PartitionRange]) -> tuple[int, bool]:
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
    source: Cluster, ranges: list[PartitionRange], bar: Any, estimate: int
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

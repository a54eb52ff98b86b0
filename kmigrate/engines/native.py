"""The native copy engine: one consumer on the source, one idempotent producer on the target.

Records go from ``consume()`` to ``produce()`` as raw messages, through
:func:`kmigrate.adapters.kafka.copy_batch`: no Python object per record.  Per
``consume()`` batch (up to :attr:`NativeEngine.batch` records) it only extends
each partition's pending runs (three-int lists) and counts.  Every ``checkpoint_s`` seconds (or
``checkpoint_records`` records) it folds into the
:class:`~kmigrate.offsets.map.OffsetMap` the head of the pending runs that the
target has confirmed (the writer counts confirmed records per partition) and
saves it atomically, without waiting for the records still in flight; at the
end it flushes the producer, so the target has acknowledged everything
written, and folds the rest.  Target
offsets are predicted from the partition's next target offset: the producer is
idempotent (KIP-98) and the only writer kmigrate runs, so records land in order
without gaps; a record written by someone else between two of ours would break
that prediction, and the resume's tail read and ``verify`` would catch it.
"""

from __future__ import annotations

import time
from typing import Any

from kmigrate.adapters.kafka import READ_BATCH, copy_batch, unsendable_timestamp
from kmigrate.clusters.port import PartitionEnd
from kmigrate.engines.base import (
    CopyJob,
    CopyResult,
    PartitionLag,
    TopicLag,
    follow_ended,
    follow_note,
    topic_lags,
)
from kmigrate.errors import OffsetOutOfRange, RecordsLost, StepFailed


class _Part:
    """Per-partition copy state (slotted: touched once per record)."""

    __slots__ = (
        "caught",
        "folded",
        "high",
        "last",
        "next_target",
        "pending",
        "position",
        "stats",
        "ts",
    )

    def __init__(self, position: int, next_target: int, stats: list[int]) -> None:
        self.folded = 0  # records of this copy folded into the map
        self.position = position
        self.next_target = next_target
        self.pending: list[list[int]] = []
        self.last: list[int] | None = None
        self.caught = False
        self.high = -1
        self.ts = 0
        self.stats = stats


class NativeEngine:
    """Today's copy loop behind the :class:`~kmigrate.engines.base.CopyEngine` protocol."""

    name = "native"
    #: Records per ``consume()`` call (see :data:`~kmigrate.adapters.kafka.READ_BATCH`).
    batch = READ_BATCH
    #: Seconds between lag ticks in follow mode.
    tick_s = 0.25

    def prepare(self, partitions: list[tuple[str, int]], target: Any, follow: bool) -> None:
        """Start the target's writer now (``Cluster.prepare_writer``: a new
        idempotent producer has no producer id for its first
        milliseconds, or 0.5 s if it must produce at once)."""
        if partitions:
            target.prepare_writer()

    def copy(self, job: CopyJob) -> CopyResult:
        """Copy records for ``job`` (see :class:`~kmigrate.engines.base.CopyEngine`).

        Raises:
            RecordsLost: the source's log start offset passed a copy position
                (the read got an out-of-range error); names the lost range.
            StepFailed: the target refused records, or a record holds a
                timestamp the writer cannot send (timestamp 0, see
                :data:`~kmigrate.adapters.kafka.UNSENDABLE_TIMESTAMP_MS`):
                raised before that record is produced, after the records
                before it are confirmed and saved in the map.
            kmigrate.errors.ClusterError: a cluster could not be read.
        """
        return _CopyLoop(self, job).run()

    @staticmethod
    def _set_lag(result: CopyResult, parts: dict[tuple[str, int], Any]) -> dict[str, TopicLag]:
        """Set ``result.partition_lag`` and ``result.lag`` from the copy state."""
        result.partition_lag = {
            tp: PartitionLag(0 if st.caught else max(st.high - st.position, 0), st.caught, st.ts)
            for tp, st in parts.items()
        }
        result.lag = topic_lags(result.partition_lag)
        return result.lag


class _CopyLoop:
    """One :meth:`NativeEngine.copy`: its state, the loop and the checkpoint."""

    def __init__(self, engine: NativeEngine, job: CopyJob) -> None:
        self.engine = engine
        self.job = job
        self.result = CopyResult()
        self.parts: dict[tuple[str, int], _Part] = {}
        for tp in job.partitions:
            position = job.offset_map.source_position(*tp)
            if position is None:
                raise StepFailed(f"{tp[0]}[{tp[1]}]: not begun in the offset map")
            stats = [0, 0]
            self.result.per_partition[tp] = stats
            self.parts[tp] = _Part(position, job.target_next[tp], stats)
        self.errors: list[str] = []
        self.writer = job.target.writer(self.errors.append, job.partitions)
        self.follow = job.follow.mode == "follow"
        self.t0 = time.monotonic()
        self.last_record_at = self.t0
        self.next_save = self.t0 + job.checkpoint_s
        self.next_tick = self.t0 + engine.tick_s
        self.since_save = 0
        self.refused: Any = None  # the first record that cannot be sent exactly

    def run(self) -> CopyResult:
        """Copy until done, save the last checkpoint; returns the result."""
        job, parts, result = self.job, self.parts, self.result
        starts = [(t, p, parts[(t, p)].position) for t, p in job.partitions]
        batch = self.engine.batch
        try:
            with job.source.raw_reader(starts, follow=self.follow, batch=batch) as reader:
                self._loop(reader)
        except OffsetOutOfRange as exc:
            # Retention won the race: keep what was copied, then name what is lost.
            self.checkpoint()
            raise self._lost(exc) from None
        except BaseException:
            # Interrupted (Ctrl-C can land between two statements of the record
            # path) or failed: let queued records land, so the target holds a
            # clean prefix, but leave the map at its last checkpoint: the
            # resume finds these copies on the target's tail.
            self.writer.drain(30.0)
            raise
        if self.errors:
            self.checkpoint()  # raises StepFailed naming the first error
        self.checkpoint()
        refused = self.refused
        if refused is not None:
            raise StepFailed(
                unsendable_timestamp(
                    refused.topic(),
                    refused.partition(),
                    refused.offset(),
                    sum(s[0] for s in result.per_partition.values()),
                )
            )
        result.records = sum(s[0] for s in result.per_partition.values())
        result.bytes = sum(s[1] for s in result.per_partition.values())
        if result.ended is None:
            result.ended = "snapshot complete"
        return result

    def _loop(self, reader: Any) -> None:
        """Read, write and checkpoint until the read is done, a stop condition
        holds or the target refused records."""
        job, follow = self.job, self.follow
        while follow or reader.pending:
            msgs = reader.consume()
            now = time.monotonic()
            if msgs:
                self._take(reader, msgs, now)
                if self.errors or self.refused is not None:
                    break
            if follow and (not msgs or now >= self.next_tick) and self._tick(reader, now):
                break
            if self.since_save and (
                self.since_save >= job.checkpoint_records or now >= self.next_save
            ):
                self.save_confirmed()
                self.since_save = 0
                self.next_save = now + job.checkpoint_s

    def _take(self, reader: Any, msgs: list[Any], now: float) -> None:
        """Write one ``consume()`` batch and extend each partition's pending runs."""
        tally, events, self.refused = copy_batch(self.writer, msgs)
        copied = nbytes = 0
        for tp, (runs, n, size, ts) in tally.items():
            st = self.parts[tp]
            last = st.last
            target = st.next_target
            for first, count in runs:
                if last is not None and last[0] + last[2] == first:
                    last[2] += count
                else:
                    last = [first, target, count]
                    st.pending.append(last)
                target += count
                st.position = first + count
            st.last = last
            st.next_target = target
            st.ts = ts
            st.caught = False
            st.stats[0] += n
            st.stats[1] += size
            copied += n
            nbytes += size
        if copied:
            self.job.progress.advance(copied, nbytes)
            self.since_save += copied
            self.last_record_at = now
        for ev in events:
            end = reader.event(ev)
            if end is not None:
                self._on_end(end)
        self.writer.poll()

    def _on_end(self, end: PartitionEnd) -> None:
        st = self.parts[(end.topic, end.partition)]
        if end.offset > st.position:
            st.position = end.offset
        st.caught = True
        if st.high < end.offset:
            st.high = end.offset

    def _tick(self, reader: Any, now: float) -> bool:
        """Following: lag, stop conditions and checkpoint, about every tick_s;
        whether the copy stops."""
        job, parts = self.job, self.parts
        self.next_tick = now + self.engine.tick_s
        for tp, high in reader.tick().highs.items():
            st = parts[tp]
            if high > st.high:
                st.high = high
        self.writer.poll()
        if self.errors:
            return True
        lag = NativeEngine._set_lag(self.result, parts)
        job.on_tick(self.result)
        job.progress.show(follow_note(job, lag, now, self.last_record_at))
        ended = follow_ended(
            job,
            self.t0,
            now,
            all(st.caught for st in parts.values()),
            self.last_record_at,
        )
        if ended is not None:
            self.result.ended = ended
            return True
        return False

    def checkpoint(self, timeout_s: float = 120.0) -> None:
        """Flush the writer (the target acknowledged everything written), fold
        the pending runs into the map, save it and journal.

        Raises:
            StepFailed: the target refused records, or did not confirm them
                within ``timeout_s`` seconds.
        """
        job, errors = self.job, self.errors
        undelivered = self.writer.flush(timeout_s)
        if errors or undelivered:
            detail = (
                errors[0]
                if errors
                else (
                    f"{job.target.label}: {undelivered:,} records not confirmed within "
                    f"{timeout_s:.0f} s, although the target kept confirming others "
                    "(a slow or overloaded target?)"
                )
            )
            raise StepFailed(f"mirror failed: {detail} (re-run to resume)")
        omap = job.offset_map
        for tp, st in self.parts.items():
            part = omap.get(*tp)
            assert part is not None
            for s, t, n in st.pending:
                part.extend(s, t, n)
                st.folded += n
            st.pending = []
            st.last = None
            part.skip_to(st.position)
        omap.save()
        NativeEngine._set_lag(self.result, self.parts)
        job.on_checkpoint(self.result)

    def save_confirmed(self) -> None:
        """The periodic checkpoint, without waiting for the target: fold into
        the map, per partition, the records the target has confirmed so far
        (:meth:`~kmigrate.adapters.kafka.RecordWriter.delivered`: the unbroken
        run of confirmed records, in order, of this copy's writer), save it and
        journal.  Records still in flight stay pending for the next checkpoint;
        the copy goes on meanwhile.  :meth:`checkpoint` (a flush, then
        everything) ends the copy.

        A flush at every checkpoint emptied the producer's pipeline once a
        second: with one partition (one process reading and writing) 12 % of a
        1,000,000-record mirror's wall time was spent in it on Tansu
        (bench/README.md, issue 17).

        Raises:
            StepFailed: the target refused records (as :meth:`checkpoint`).
        """
        self.writer.poll()
        if self.errors:
            self.checkpoint()  # raises StepFailed naming the first error
        job, writer = self.job, self.writer
        omap = job.offset_map
        for tp, st in self.parts.items():
            confirmed = writer.delivered(*tp)
            left = confirmed - st.folded
            if left <= 0:
                continue
            part = omap.get(*tp)
            assert part is not None
            pending = st.pending
            done = 0
            for run in pending:  # [source offset, target offset, records], in order
                s, t, n = run
                if n > left:  # confirmed up to inside this run: fold its head
                    part.extend(s, t, left)
                    run[0], run[1], run[2] = s + left, t + left, n - left  # (st.last may be it)
                    left = 0
                    break
                part.extend(s, t, n)
                left -= n
                done += 1
            del pending[:done]
            st.folded = confirmed - left
            if not pending:
                st.last = None
                part.skip_to(st.position)
        omap.save()
        NativeEngine._set_lag(self.result, self.parts)
        job.on_checkpoint(self.result)

    def _lost(self, exc: OffsetOutOfRange) -> RecordsLost:
        """The error naming the source range retention deleted before the copy."""
        position = self.parts[(exc.topic, exc.partition)].position
        lost = (exc.topic, exc.partition)
        low, _high = self.job.source.watermark_offsets([lost])[lost]
        return RecordsLost(
            f"source records lost before they were copied: {exc.topic}[{exc.partition}] "
            f"offsets [{position}, {low}) were deleted from the source (its log start "
            f"offset is now {low}, e.g. by retention.ms / retention.bytes) while the "
            "mirror's position was "
            f"{position}; the copy stopped there and never skips records silently",
            "source",
            exc.topic,
            exc.partition,
            position,
            max(low, position),
        )

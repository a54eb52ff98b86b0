"""The native copy engine: one consumer on the source, one idempotent producer on the target.

Records go from ``consume()`` to ``produce()`` as raw messages, through
:func:`kmigrate.adapters.kafka.copy_batch`: no Python object per record.  Per
``consume()`` batch (up to :attr:`NativeEngine.batch` records) it only extends
each partition's pending runs (three-int lists) and counts.  Every ``checkpoint_s`` seconds (or
``checkpoint_records`` records) it flushes the producer, so the target has
acknowledged everything written, then folds the pending runs into the
:class:`~kmigrate.offsets.map.OffsetMap` and saves it atomically.  Target
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

    __slots__ = ("caught", "high", "last", "next_target", "pending", "position", "stats", "ts")

    def __init__(self, position: int, next_target: int, stats: list[int]) -> None:
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
        omap = job.offset_map
        result = CopyResult()
        parts: dict[tuple[str, int], _Part] = {}
        for tp in job.partitions:
            position = omap.source_position(*tp)
            if position is None:
                raise StepFailed(f"{tp[0]}[{tp[1]}]: not begun in the offset map")
            stats = [0, 0]
            result.per_partition[tp] = stats
            parts[tp] = _Part(position, job.target_next[tp], stats)
        errors: list[str] = []
        writer = job.target.writer(errors.append, job.partitions)
        starts = [(t, p, parts[(t, p)].position) for t, p in job.partitions]
        follow = job.follow.mode == "follow"
        t0 = time.monotonic()
        last_record_at = t0
        next_save = t0 + job.checkpoint_s
        next_tick = t0 + self.tick_s
        since_save = 0
        progress = job.progress
        refused: Any = None  # the first record that cannot be sent exactly

        def checkpoint(timeout_s: float = 120.0) -> None:
            undelivered = writer.flush(timeout_s)
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
            for tp, st in parts.items():
                part = omap.get(*tp)
                assert part is not None
                for s, t, n in st.pending:
                    part.extend(s, t, n)
                st.pending = []
                st.last = None
                part.skip_to(st.position)
            omap.save()
            self._set_lag(result, parts)
            job.on_checkpoint(result)

        def on_end(end: PartitionEnd) -> None:
            st = parts[(end.topic, end.partition)]
            if end.offset > st.position:
                st.position = end.offset
            st.caught = True
            if st.high < end.offset:
                st.high = end.offset

        try:
            with job.source.raw_reader(starts, follow=follow, batch=self.batch) as reader:
                while follow or reader.pending:
                    msgs = reader.consume()
                    now = time.monotonic()
                    if msgs:
                        tally, events, refused = copy_batch(writer, msgs)
                        copied = nbytes = 0
                        for tp, (runs, n, size, ts) in tally.items():
                            st = parts[tp]
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
                            progress.advance(copied, nbytes)
                            since_save += copied
                            last_record_at = now
                        for ev in events:
                            end = reader.event(ev)
                            if end is not None:
                                on_end(end)
                        writer.poll()
                        if errors or refused is not None:
                            break
                    if follow and (not msgs or now >= next_tick):
                        # Lag, stop conditions and checkpoint, about every tick_s.
                        next_tick = now + self.tick_s
                        for tp, high in reader.tick().highs.items():
                            st = parts[tp]
                            if high > st.high:
                                st.high = high
                        writer.poll()
                        if errors:
                            break
                        lag = self._set_lag(result, parts)
                        job.on_tick(result)
                        progress.show(follow_note(job, lag, now, last_record_at))
                        ended = follow_ended(
                            job,
                            t0,
                            now,
                            all(st.caught for st in parts.values()),
                            last_record_at,
                        )
                        if ended is not None:
                            result.ended = ended
                            break
                    if since_save and (since_save >= job.checkpoint_records or now >= next_save):
                        checkpoint()
                        since_save = 0
                        next_save = now + job.checkpoint_s
        except OffsetOutOfRange as exc:
            # Retention won the race: keep what was copied, then name what is lost.
            checkpoint()
            position = parts[(exc.topic, exc.partition)].position
            lost = (exc.topic, exc.partition)
            low, _high = job.source.watermark_offsets([lost])[lost]
            raise RecordsLost(
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
            ) from None
        except BaseException:
            # Interrupted (Ctrl-C can land between two statements of the record
            # path) or failed: let queued records land, so the target holds a
            # clean prefix, but leave the map at its last checkpoint: the
            # resume finds these copies on the target's tail.
            writer.drain(30.0)
            raise
        if errors:
            checkpoint()  # raises StepFailed naming the first error
        checkpoint()
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

    @staticmethod
    def _set_lag(result: CopyResult, parts: dict[tuple[str, int], Any]) -> dict[str, TopicLag]:
        """Set ``result.partition_lag`` and ``result.lag`` from the copy state."""
        result.partition_lag = {
            tp: PartitionLag(0 if st.caught else max(st.high - st.position, 0), st.caught, st.ts)
            for tp, st in parts.items()
        }
        result.lag = topic_lags(result.partition_lag)
        return result.lag

"""``source-quiet``: did any selected source partition receive a record for ``quiet_s`` seconds?

The fence check of a cutover: producers were told to stop (or to switch to the target);
this proves they did.  The high watermark of a partition is the offset its next record
will get (Kafka's ListOffsets with ``LATEST``; KIP-79 for the request), so a partition
received records between two samples exactly when its high watermark moved.  The
check samples every selected partition's high watermark at the start, then every
``interval_s`` seconds until ``quiet_s`` seconds have passed.  A partition whose high
watermark moved is "still being written to"; its rate is the records it gained over the
seconds watched (records/s).  Transaction markers also move a high watermark: a
transactional producer that still commits counts as writing, which is what a fence wants.

The whole window is watched before a refusal, so that a rate is measured over
``quiet_s`` seconds and not over the first sample's gap.

Shapes: a partition is ``(topic, partition)``; offsets are Kafka offsets (records);
times are seconds from a monotonic clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TP = tuple[str, int]
#: Reads the high watermark of each partition: ``{(topic, partition): offset}``.
ReadEnds = Callable[[Sequence[TP]], Mapping[TP, int]]


@dataclass(frozen=True)
class Writing:
    """A partition that received records while it was watched.

    ``first`` / ``last``: its high watermark at the first and last sample (offsets);
    ``records``: ``last - first``; ``rate``: records per second over ``seconds``.
    """

    topic: str
    partition: int
    first: int
    last: int
    seconds: float

    @property
    def records(self) -> int:
        """Records (offsets) the partition gained while watched."""
        return self.last - self.first

    @property
    def rate(self) -> float:
        """Records per second over the seconds watched."""
        return self.records / self.seconds if self.seconds > 0 else float(self.records)

    def describe(self) -> str:
        """``orders[2]: 120 records in 10.0 s (12.0 records/s)``."""
        return (
            f"{self.topic}[{self.partition}]: {self.records} records in {self.seconds:.1f} s "
            f"({self.rate:.1f} records/s)"
        )

    def as_record(self) -> dict[str, Any]:
        """The journal shape (see :meth:`QuietResult.as_record`)."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "first_high_watermark": self.first,
            "last_high_watermark": self.last,
            "records": self.records,
            "records_per_s": round(self.rate, 3),
        }


@dataclass
class QuietResult:
    """What :func:`watch_quiet` saw.

    ``partitions``: how many were watched; ``seconds``: how long (s); ``samples``: how
    many times every high watermark was read; ``writing``: the partitions that moved,
    busiest first; ``quiet``: none moved.
    """

    quiet_s: float
    partitions: int
    seconds: float = 0.0
    samples: int = 0
    writing: list[Writing] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        """True when no watched partition received a record."""
        return not self.writing

    def topics(self) -> list[str]:
        """The topics still being written to, sorted."""
        return sorted({w.topic for w in self.writing})

    def refusal(self, limit: int = 10) -> str:
        """One line naming the topics and partitions still written to, with their rates."""
        rows = [w.describe() for w in self.writing[:limit]]
        more = len(self.writing) - limit
        return (
            f"the source is not quiet: {len(self.writing)} of {self.partitions} partitions "
            f"received records in the last {self.seconds:.1f} s (quiet_s {self.quiet_s:g}), "
            f"on topics {', '.join(self.topics())}: "
            + "; ".join(rows)
            + (f"; and {more} more" if more > 0 else "")
            + "; stop (or switch) their producers, then run the step again"
        )

    def as_record(self) -> dict[str, Any]:
        """The step's journal record::

        {"quiet": false, "quiet_s": 10, "partitions": 6, "watched_s": 10.02,
         "samples": 11, "writing": [{"topic": "orders", "partition": 0,
         "first_high_watermark": 120, "last_high_watermark": 240, "records": 120,
         "records_per_s": 11.98}]}
        """
        return {
            "quiet": self.quiet,
            "quiet_s": self.quiet_s,
            "partitions": self.partitions,
            "watched_s": round(self.seconds, 3),
            "samples": self.samples,
            "writing": [w.as_record() for w in self.writing],
        }


def watch_quiet(
    read_ends: ReadEnds,
    partitions: Sequence[TP],
    quiet_s: float,
    *,
    interval_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_sample: Callable[[float, int], None] | None = None,
) -> QuietResult:
    """Watch the partitions' high watermarks for ``quiet_s`` seconds.

    Args:
        read_ends: reads high watermarks (one call per sample, every partition).
        partitions: the selected source partitions.
        quiet_s: seconds the source must stay quiet (> 0).
        interval_s: seconds between samples (capped at ``quiet_s``).
        on_sample: called after each sample with (seconds watched, partitions moved so
            far), for progress output.

    Returns:
        A :class:`QuietResult`; ``quiet`` is False when any high watermark moved.

    Raises:
        ValueError: ``quiet_s`` or ``interval_s`` not positive.
        Whatever ``read_ends`` raises (the cluster port raises ClusterError).
    """
    if quiet_s <= 0 or interval_s <= 0:
        raise ValueError(f"quiet_s and interval_s must be > 0; found {quiet_s}, {interval_s}")
    parts = sorted(set(partitions))
    result = QuietResult(quiet_s=quiet_s, partitions=len(parts))
    if not parts:
        return result
    start = clock()
    first = dict(read_ends(parts))
    last = dict(first)
    result.samples = 1
    deadline = start + quiet_s
    while True:
        now = clock()
        if now >= deadline:
            break
        sleep(min(interval_s, deadline - now))
        last.update(read_ends(parts))
        result.samples += 1
        if on_sample is not None:
            moved = sum(1 for tp in parts if last.get(tp, 0) != first.get(tp, 0))
            on_sample(clock() - start, moved)
    result.seconds = clock() - start
    result.writing = sorted(
        (
            Writing(t, p, first.get((t, p), 0), last.get((t, p), 0), result.seconds)
            for t, p in parts
            if last.get((t, p), 0) > first.get((t, p), 0)
        ),
        key=lambda w: (-w.records, w.topic, w.partition),
    )
    return result

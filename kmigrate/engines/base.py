"""The copy-engine interface: what the mirror step asks of any engine.

The mirror step selects partitions, checks both clusters, prepares the offset
map (resume, tail reconciliation) and records the outcome; an engine only
copies records from the map's source positions and keeps the map current.
Today's engine is :class:`kmigrate.engines.native.NativeEngine` (one consumer,
one idempotent producer); a Kafka Connect / MirrorMaker 2 engine would
implement the same :class:`CopyEngine` protocol.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from kmigrate.clusters.port import Cluster
from kmigrate.offsets.map import OffsetMap

if TYPE_CHECKING:  # the UI (click, tabulate) is not imported by worker processes
    from kmigrate.ui import Progress

Mode = Literal["snapshot", "follow"]
Until = Literal["caught-up", "stopped"]


@dataclass(frozen=True)
class FollowSpec:
    """How long a copy runs.

    Attributes:
        mode: ``snapshot`` copies what each partition holds when the read
            reaches its end, then stops; ``follow`` keeps copying new records.
        until: in follow mode, ``caught-up`` stops once every partition has
            lag 0 and no new record arrived for ``settle_s`` seconds;
            ``stopped`` runs until the operator stops it (SIGINT / SIGTERM).
        settle_s: seconds of lag 0 on every partition before ``caught-up``.
        max_duration_s: stop after this many seconds of copying (None: no limit).
    """

    mode: Mode = "snapshot"
    until: Until = "caught-up"
    settle_s: float = 5.0
    max_duration_s: float | None = None


@dataclass
class TopicLag:
    """A topic's lag: records not yet copied (summed over partitions), and seconds
    behind (the largest, over partitions, of now minus the timestamp of the last
    copied record, for partitions that are behind; 0 when caught up)."""

    records: int
    seconds: float

    def text(self) -> str:
        """``120 records, 0.4 s``."""
        return f"{self.records:,} records, {self.seconds:.1f} s"


@dataclass(frozen=True)
class PartitionLag:
    """One partition's lag as its copy loop last saw it.

    Attributes:
        records: records not yet copied: the high watermark last seen in a
            fetch response minus the copy position (0 when caught up).
        caught: the read reached the partition's end (an end-of-partition
            event) and no record was copied since.
        ts_ms: timestamp (ms since the epoch) of the last record copied, 0
            before the first; the lag in seconds is measured from it.
    """

    records: int
    caught: bool
    ts_ms: int

    def as_tuple(self) -> tuple[int, bool, int]:
        """``(records, caught, ts_ms)``: what a worker sends its parent."""
        return (self.records, self.caught, self.ts_ms)


def topic_lags(
    partitions: Mapping[tuple[str, int], PartitionLag], now_ms: float | None = None
) -> dict[str, TopicLag]:
    """Per topic, the partitions' lags merged: records summed; seconds the
    largest, over partitions that are behind, of ``now_ms`` (default: now)
    minus the timestamp of the partition's last copied record."""
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    lag: dict[str, TopicLag] = {}
    for (topic, _p), part in partitions.items():
        behind = 0 if part.caught else max(part.records, 0)
        seconds = max((now_ms - part.ts_ms) / 1000, 0.0) if behind and part.ts_ms else 0.0
        cur = lag.get(topic)
        if cur is None:
            lag[topic] = TopicLag(behind, seconds)
        else:
            cur.records += behind
            cur.seconds = max(cur.seconds, seconds)
    return lag


def lag_line(lag: Mapping[str, TopicLag], shown: int = 3) -> str:
    """The progress note of a following copy, one short line however many topics:
    ``lag: orders 120 records, 0.4 s`` for up to ``shown`` topics, else
    ``lag: 1,200 records over 7 of 400 topics (orders 900 records, 0.4 s; ...)``."""
    if len(lag) <= shown:
        return "lag: " + ", ".join(f"{t} {v.text()}" for t, v in sorted(lag.items()))
    behind = sorted(
        ((t, v) for t, v in lag.items() if v.records > 0), key=lambda tv: -tv[1].records
    )
    if not behind:
        return f"lag: 0 records on all {len(lag):,} topics"
    total = sum(v.records for _, v in behind)
    named = "; ".join(f"{t} {v.text()}" for t, v in behind[:shown])
    return f"lag: {total:,} records over {len(behind):,} of {len(lag):,} topics ({named})"


def follow_note(
    job: CopyJob, lag: Mapping[str, TopicLag], now: float, last_record_at: float
) -> str:
    """The progress note of a following copy at a tick: the lag line, or, with
    ``until: caught-up`` while every partition has lag 0 but records still
    arrive, what the copy waits for (so the operator knows to stop the producers).

    Args:
        lag: the lag per topic just computed.
        now / last_record_at: ``time.monotonic()`` seconds: now, and when a
            record was last copied (or the start).
    """
    spec = job.follow
    quiet = now - last_record_at
    behind = any(v.records for v in lag.values())
    if spec.until == "caught-up" and not behind and quiet < spec.settle_s:
        return (
            f"lag 0; waiting for the source to stay quiet for settle_s ({spec.settle_s:g} s): "
            f"the last record came {quiet:.1f} s ago (stop the producers to end the copy)"
        )
    return lag_line(lag)


def follow_ended(
    job: CopyJob, started_at: float, now: float, all_caught: bool, last_record_at: float
) -> str | None:
    """Whether a following copy stops now, and why (the result's ``ended`` text).

    Args:
        job: the copy (its follow spec, stop flag and stop reason).
        started_at / now / last_record_at: ``time.monotonic()`` seconds: when the
            copy started, now, and when a record was last copied (or the start).
        all_caught: every partition of the copy reached its end with lag 0.

    Returns:
        The stop reason (``stopped by operator (SIGTERM)``), ``max_duration
        reached (S s)`` or ``caught up (lag 0 held for S s)``; None to go on.
    """
    spec = job.follow
    if job.stop.is_set():
        return job.stop_reason[0] if job.stop_reason else "stopped"
    if spec.max_duration_s is not None and now - started_at >= spec.max_duration_s:
        return f"max_duration reached ({spec.max_duration_s:g} s)"
    if spec.until == "caught-up" and all_caught and now - last_record_at >= spec.settle_s:
        return f"caught up (lag 0 held for {spec.settle_s:g} s)"
    return None


class StopFlag(Protocol):
    """What a copy loop asks of its stop flag (a :class:`threading.Event`, or a
    worker process's view of the stop pipe from its parent)."""

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        ...

    def set(self) -> None:
        """Ask for a stop."""
        ...


@dataclass
class CopyJob:
    """One copy: which partitions, from where, and what to call while copying.

    Attributes:
        source / target: the clusters.
        offset_map: the map; every partition to copy has been begun in it and its
            ``source_position`` is where reading starts.
        partitions: ``(topic, partition)`` to copy.
        target_next: the offset the next record written to each partition gets
            (the target's log end after resume reconciliation).
        follow: snapshot or follow, and when to stop.
        stop: set (e.g. by a signal handler) to ask for a clean stop;
            ``stop_reason[0]`` says why.
        progress: the progress bar to advance.
        on_checkpoint: called after each save of the map (the step journals).
        on_tick: in follow mode, called about every lag tick with the result
            whose ``lag`` and ``partition_lag`` were just updated (a worker
            process sends them to its parent).
        checkpoint_s / checkpoint_records: save the map at least this often.
    """

    source: Cluster
    target: Cluster
    offset_map: OffsetMap
    partitions: list[tuple[str, int]]
    target_next: dict[tuple[str, int], int]
    follow: FollowSpec
    progress: Progress
    stop: StopFlag = field(default_factory=threading.Event)
    stop_reason: list[str] = field(default_factory=list)
    on_checkpoint: Callable[[CopyResult], None] = lambda result: None
    on_tick: Callable[[CopyResult], None] = lambda result: None
    checkpoint_s: float = 1.0
    checkpoint_records: int = 100_000


@dataclass
class CopyResult:
    """What one copy did.

    Attributes:
        records / bytes: copied in this run (bytes of key, value, headers).
        per_partition: ``{(topic, partition): [records, bytes]}`` in this run.
        lag: last lag per topic.
        partition_lag: last lag per ``(topic, partition)`` (what ``lag`` merges).
        ended: why it stopped: ``snapshot complete``, ``caught up``,
            ``max_duration reached``, or the stop reason (e.g.
            ``stopped by operator (SIGTERM)``); None while running.
    """

    records: int = 0
    bytes: int = 0
    per_partition: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    lag: dict[str, TopicLag] = field(default_factory=dict)
    partition_lag: dict[tuple[str, int], PartitionLag] = field(default_factory=dict)
    ended: str | None = None

    def lag_json(self) -> dict[str, Any]:
        """``{topic: {"records": n, "seconds": s}}``."""
        return {
            t: {"records": lag.records, "seconds": round(lag.seconds, 3)}
            for t, lag in sorted(self.lag.items())
        }


class CopyEngine(Protocol):
    """Copies records for a :class:`CopyJob`, keeping the offset map current.

    Contract: the map is saved only when the target has acknowledged every
    record it lists; per-partition order is kept; nothing is written to the
    source.  Raises :class:`kmigrate.errors.RecordsLost` when the source's log
    start offset passes a copy position, :class:`kmigrate.errors.StepFailed`
    when the target refuses records, and lets ``KeyboardInterrupt`` through
    after saving what was acknowledged.
    """

    name: str

    def prepare(self, partitions: list[tuple[str, int]], target: Any, follow: bool) -> None:
        """Start what the copy of ``partitions`` to ``target`` will need (its
        producers, its processes) before the caller's lookups, so both run at
        once; :meth:`copy` takes them over."""
        ...

    def copy(self, job: CopyJob) -> CopyResult:
        """Copy until the job's mode says stop; returns what was done."""
        ...

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kmigrate.clusters.port import Cluster
from kmigrate.offsets.map import OffsetMap
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
        checkpoint_s / checkpoint_records: save the map at least this often.
    """

    source: Cluster
    target: Cluster
    offset_map: OffsetMap
    partitions: list[tuple[str, int]]
    target_next: dict[tuple[str, int], int]
    follow: FollowSpec
    progress: Progress
    stop: threading.Event = field(default_factory=threading.Event)
    stop_reason: list[str] = field(default_factory=list)
    on_checkpoint: Callable[[CopyResult], None] = lambda result: None
    checkpoint_s: float = 1.0
    checkpoint_records: int = 100_000


@dataclass
class CopyResult:
    """What one copy did.

    Attributes:
        records / bytes: copied in this run (bytes of key, value, headers).
        per_partition: ``{(topic, partition): [records, bytes]}`` in this run.
        lag: last lag per topic.
        ended: why it stopped: ``snapshot complete``, ``caught up``,
            ``max_duration reached``, or the stop reason (e.g.
            ``stopped by operator (SIGTERM)``); None while running.
    """

    records: int = 0
    bytes: int = 0
    per_partition: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    lag: dict[str, TopicLag] = field(default_factory=dict)
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

    def copy(self, job: CopyJob) -> CopyResult:
        """Copy until the job's mode says stop; returns what was done."""
        ...

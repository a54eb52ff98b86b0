"""The MirrorMaker 2 copy engine: connectors on a Connect control plane, followed by
both clusters' watermarks.

What a run does (:class:`Mm2Engine`):

1. notes, once, what each side held at the start: the target's topics (so rollback
   deletes only the MM2 internal topics this run created) and per partition the
   source's log start offset and high watermark and the target's high watermark;
   the caller journals it (:class:`Mm2State`) before any connector exists;
2. creates the connectors on the plane (:class:`~.plane.ConnectPlane`), journaling
   each reference as it is made; on a re-run the journaled connectors are found and
   followed, not created again;
3. waits until the connectors and every task are RUNNING; a FAILED one ends the run
   at once with its trace in words (:meth:`ConnectorStatus.failures`), never a hang;
4. follows the copy per partition.  MirrorSourceConnector starts a new connector at
   the source's log start (its consumer's ``auto.offset.reset=earliest``:
   ``MirrorSourceConfig``), keeps each record's partition and order, and may write
   transaction markers on the target (exactly-once, KIP-618), so offsets differ and
   are not compared directly.  A partition's lag in records is estimated from the
   watermarks relative to the start: ``(source high - source log start at start) -
   (target high - target high at start)``.  A partition is *caught up* when the
   source's newest record (snapshot mode: the newest when the run started) is among
   the target's newest :data:`TAIL` offsets, compared by key, value, headers and
   timestamp (MM2 copies all four byte for byte with ByteArrayConverter);
5. ends like the native engine (:func:`kmigrate.engines.base.follow_ended`):
   snapshot complete, caught up (lag 0 held for ``settle_s``), stopped, or
   max_duration; then deletes its connectors, so the copy stops.

The offset map (exact runs) is then built by aligning both sides by digest, which
is the offsets layer's part, not this engine's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Any

from kmigrate.clusters.port import Cluster, ConnectorFailed, ConnectorStatus, Record
from kmigrate.engines.base import FollowSpec, PartitionLag, StopFlag, follow_ended, topic_lags
from kmigrate.engines.mirrormaker2.config import SOURCE_CONNECTOR
from kmigrate.engines.mirrormaker2.plane import ConnectPlane, OffsetsPlane
from kmigrate.engines.mirrormaker2.source_offsets import create_fresh, reset_then_resume
from kmigrate.errors import ClusterError

#: Target offsets, from the high watermark back, searched in snapshot mode for the
#: source's newest record at the start (following: the newest 64).
TAIL = 1024


def is_mm2_internal(topic: str) -> bool:
    """Whether ``topic`` is one of MirrorMaker 2's internal topics on the target:
    ``mm2-offset-syncs.ALIAS.internal`` (``offset-syncs.topic.location=target``,
    KIP-716), ``ALIAS.checkpoints.internal`` and ``heartbeats`` (under
    IdentityReplicationPolicy; ``MirrorClientConfig``, KIP-382)."""
    return (
        (topic.startswith("mm2-offset-syncs.") and topic.endswith(".internal"))
        or topic.endswith(".checkpoints.internal")
        or topic == "heartbeats"
    )


def _key(tp: tuple[str, int]) -> str:
    return f"{tp[0]}:{tp[1]}"


def _tp(key: str) -> tuple[str, int]:
    topic, _, part = key.rpartition(":")
    return topic, int(part)


@dataclass
class Mm2State:
    """What the MM2 engine journals (inside the mirror step's record).

    Attributes:
        where: the plane (``Kafka Connect at http://h:8083``), never a credential.
        connectors: ``{"name", "ref"}`` of each connector this run created (``ref``:
            what the plane deletes: the name, or an MSK Connect ARN); a fresh run's
            also ``"offsets"``: ``pending`` while created STOPPED and not yet reset
            and resumed, then ``done`` (:mod:`.source_offsets`).
        configs: the connector configs as created (secrets as references).
        target_topics_before: the target's topic names before the run.
        internal_topics_created: MM2 internal topics found on the target after the
            run that were not there before (rollback deletes exactly these).
        source_start: ``{"topic:partition": [log start offset, high watermark]}``
            of the source when the run first started.
        target_start: ``{"topic:partition": high watermark}`` of the target then.
        connectors_deleted: the connectors were deleted when the copy ended.
        started_ms: when the run first started (ms since the epoch).
        source_marks: ``{"topic:partition": [[at_ms, log start, end, topic id], ...]}``:
            what was seen of the source at the start and last while following
            (for naming source ranges lost to retention or a re-created topic).
        offset_notes: each time the connectors' stored source offsets could not be
            checked or reset, and why (:mod:`.source_offsets`).
        offset_syncs_from: ``{"partition": offset}``: the end of MM2's offset-syncs
            topic on the target when the run first started (syncs before it are an
            earlier run's and are not checked against this run's map).
    """

    where: str
    connectors: list[dict[str, str]] = field(default_factory=list)
    configs: list[dict[str, str]] = field(default_factory=list)
    target_topics_before: list[str] = field(default_factory=list)
    internal_topics_created: list[str] = field(default_factory=list)
    source_start: dict[str, list[int]] = field(default_factory=dict)
    target_start: dict[str, int] = field(default_factory=dict)
    connectors_deleted: bool = False
    started_ms: int = 0
    source_marks: dict[str, list[list[Any]]] = field(default_factory=dict)
    offset_notes: list[str] = field(default_factory=list)
    offset_syncs_from: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Mm2State | None:
        """Rebuild; None for no data."""
        if not data or "where" not in data:
            return None
        return cls(
            where=str(data["where"]),
            connectors=[dict(c) for c in data.get("connectors", [])],
            configs=[dict(c) for c in data.get("configs", [])],
            target_topics_before=list(data.get("target_topics_before", [])),
            internal_topics_created=list(data.get("internal_topics_created", [])),
            source_start={k: list(v) for k, v in data.get("source_start", {}).items()},
            target_start=dict(data.get("target_start", {})),
            connectors_deleted=bool(data.get("connectors_deleted", False)),
            started_ms=int(data.get("started_ms", 0)),
            source_marks={k: [list(m) for m in v] for k, v in data.get("source_marks", {}).items()},
            offset_syncs_from={k: int(v) for k, v in data.get("offset_syncs_from", {}).items()},
            offset_notes=[str(n) for n in data.get("offset_notes", [])],
        )


@dataclass
class Mm2Result:
    """How an MM2 copy went: ``ended`` (as the native engine's), the last lag per
    partition, and records copied per partition in this run (target high watermark
    minus its start: transaction markers included, so an upper bound)."""

    ended: str | None = None
    partition_lag: dict[tuple[str, int], PartitionLag] = field(default_factory=dict)
    copied: dict[tuple[str, int], int] = field(default_factory=dict)


def _same(a: Record, b: Record) -> bool:
    return (a.key, a.value, a.headers, a.timestamp_ms) == (
        b.key,
        b.value,
        b.headers,
        b.timestamp_ms,
    )


def last_records(
    cluster: Cluster, ranges: Mapping[tuple[str, int], tuple[int, int]]
) -> dict[tuple[str, int], list[Record]]:
    """The records of each partition in ``[start, end)`` (committed ones only: the
    client reads with ``read_committed``), in order; empty ranges are skipped."""
    out: dict[tuple[str, int], list[Record]] = {tp: [] for tp in ranges}
    starts = [(t, p, lo) for (t, p), (lo, hi) in ranges.items() if hi > lo]
    if not starts:
        return out
    stops = {tp: hi for tp, (lo, hi) in ranges.items() if hi > lo}
    for item in cluster.read(starts, stop_offsets=stops, idle_timeout_s=30.0):
        if isinstance(item, Record):
            out[(item.topic, item.partition)].append(item)
    return out


class Mm2Engine:
    """Runs MirrorMaker 2 connectors on ``plane`` for one mirror step.

    Args:
        plane: where the connectors run.
        configs: the connector configs (``name`` included), secrets as references.
        poll_s: seconds between looks at the tasks and the watermarks.
        running_timeout_s: how long the connectors and tasks may take to be RUNNING.
        clock / sleep: ``time.monotonic`` and ``time.sleep`` (tests pass others).
    """

    name = "mirrormaker2"

    def __init__(
        self,
        plane: ConnectPlane,
        configs: Sequence[Mapping[str, str]],
        *,
        poll_s: float = 1.0,
        running_timeout_s: float = 180.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.plane = plane
        self.configs = [dict(c) for c in configs]
        self.poll_s = poll_s
        self.running_timeout_s = running_timeout_s
        self.clock = clock
        self.sleep = sleep

    # --- start ----------------------------------------------------------------------

    def note_start(
        self, source: Cluster, target: Cluster, parts: Sequence[tuple[str, int]]
    ) -> Mm2State:
        """What each side holds before any connector exists (see :class:`Mm2State`)."""
        marks = source.watermark_offsets(parts)
        ends = target.watermark_offsets(parts)
        return Mm2State(
            where=self.plane.where,
            configs=self.configs,
            target_topics_before=sorted(target.topics()),
            source_start={_key(tp): [lo, hi] for tp, (lo, hi) in marks.items()},
            target_start={_key(tp): hi for tp, (_lo, hi) in ends.items()},
            started_ms=int(time.time() * 1000),
        )

    def create(
        self, state: Mm2State, checkpoint: Callable[[], None], *, fresh: bool = False
    ) -> list[str]:
        """Create each connector not yet in ``state`` (journaling each reference with
        ``checkpoint`` right after); a journaled one still on the plane is kept, one
        gone (deleted by hand) is created again.  ``fresh`` (no connector journaled
        and no earlier MM2 step continued): each is created STOPPED and its stored
        source offsets reset before it runs (:func:`.source_offsets.create_fresh`); a
        journaled one found STOPPED (a run stopped before resuming it) is reset and
        resumed.  Returns lines saying what was done.

        Raises:
            ClusterError: the plane refused a config.
        """
        lines = []
        known = {c["name"]: c for c in state.connectors}
        for config in self.configs:
            name = config["name"]
            entry = known.get(name)
            if entry is not None:
                try:
                    status = self.plane.status(entry["ref"])
                except ClusterError:
                    state.connectors = [c for c in state.connectors if c["name"] != name]
                else:
                    lines.append(f"found connector {name} on {state.where} (journaled)")
                    if (
                        entry.get("offsets") == "pending"
                        and status.connector.state == "STOPPED"
                        and isinstance(self.plane, OffsetsPlane)
                    ):  # created STOPPED by a run that stopped before resuming it
                        notes = state.offset_notes
                        lines += reset_then_resume(self.plane, name, entry["ref"], notes)
                        entry["offsets"] = "done"
                        checkpoint()
                    continue

            def journal(made: str, name: str = name) -> None:
                state.connectors.append(
                    {"name": name, "ref": made, **({"offsets": "pending"} if fresh else {})}
                )
                checkpoint()

            if fresh:
                lines += create_fresh(self.plane, name, config, journal, state.offset_notes)
                state.connectors[-1]["offsets"] = "done"
                checkpoint()
                continue
            journal(self.plane.create(name, config))
            lines.append(f"created connector {name} on {state.where}")
        return lines

    def statuses(self, state: Mm2State) -> list[ConnectorStatus | None]:
        """Each connector's status, None where the plane did not answer (a worker
        rebalancing, or the status not written yet)."""
        out: list[ConnectorStatus | None] = []
        for conn in state.connectors:
            try:
                out.append(self.plane.status(conn["ref"]))
            except ClusterError:
                out.append(None)
        return out

    def check_failed(self, state: Mm2State) -> list[ConnectorStatus | None]:
        """:meth:`statuses`, raising when one is FAILED.

        Raises:
            ConnectorFailed: each FAILED connector or task, where it ran and its trace
                in words (:func:`kmigrate.clusters.port.summarise_trace`).
        """
        now = self.statuses(state)
        failed = [line for s in now if s is not None for line in s.failures()]
        if failed:
            raise ConnectorFailed(f"MirrorMaker 2 on {state.where}: " + "; ".join(failed))
        return now

    def wait_running(self, state: Mm2State, stop: StopFlag) -> float:
        """Wait until every connector and each of its tasks is RUNNING; returns the
        seconds waited.

        Raises:
            ConnectorFailed: one FAILED (at once), or not all RUNNING within
                ``running_timeout_s`` (the last states named).
        """
        began = self.clock()
        while not stop.is_set():
            now = self.check_failed(state)
            if all(self._running(s) for s in now):
                return self.clock() - began
            if self.clock() - began >= self.running_timeout_s:
                states = "; ".join(
                    f"{c['name']}: "
                    + (
                        "no status"
                        if s is None
                        else f"connector {s.connector.state}, tasks "
                        + (", ".join(f"{t.id} {t.state}" for t in s.tasks) or "none")
                    )
                    for c, s in zip(state.connectors, now, strict=True)
                )
                raise ConnectorFailed(
                    f"MirrorMaker 2 on {state.where} was not running within "
                    f"{self.running_timeout_s:g} s ({states})"
                )
            self.sleep(self.poll_s)
        return self.clock() - began

    def _running(self, status: ConnectorStatus | None) -> bool:
        """The connector and each of its tasks RUNNING; the source connector needs at
        least one task, the checkpoint connector may have none (it makes none until
        a consumer group of the selection exists: ``MirrorCheckpointConnector``)."""
        if status is None or status.connector.state != "RUNNING":
            return False
        if any(t.state != "RUNNING" for t in status.tasks):
            return False
        classes = {c["name"]: c.get("connector.class", "") for c in self.configs}
        return bool(status.tasks) or classes.get(status.name) != SOURCE_CONNECTOR

    # --- follow ---------------------------------------------------------------------

    def lags(
        self,
        state: Mm2State,
        source: Cluster,
        target: Cluster,
        goals: dict[tuple[str, int], Record | None],
        snapshot: bool,
    ) -> tuple[dict[tuple[str, int], PartitionLag], dict[tuple[str, int], int]]:
        """Per partition its lag, and what the target gained since the start.

        ``goals`` caches, in snapshot mode, the source's newest record at the start
        per partition; None once there is nothing (more) to copy.
        """
        parts = [_tp(k) for k in state.source_start]
        src = source.watermark_offsets(parts)
        tgt = target.watermark_offsets(parts)
        gained = {tp: tgt[tp][1] - state.target_start[_key(tp)] for tp in parts}
        want: dict[tuple[str, int], int] = {}
        need: dict[tuple[str, int], tuple[int, int]] = {}
        for tp in parts:
            low0, high0 = state.source_start[_key(tp)]
            end = high0 if snapshot else src[tp][1]
            want[tp] = max(end - low0, 0)
            # The source's newest record below ``end`` (the last 64 offsets hold it
            # unless they are all transaction markers).
            need[tp] = (max(src[tp][0], end - 64), end)
        # Snapshot: the goal may lie deeper in the target's tail while new records
        # follow it; following, the source's newest must be the target's newest.
        window = TAIL if snapshot else 64
        fresh = [tp for tp in parts if not (snapshot and tp in goals)]
        newest = last_records(source, {tp: need[tp] for tp in fresh})
        for tp in fresh:
            goals[tp] = newest[tp][-1] if newest[tp] else None
        tails = last_records(
            target,
            {
                tp: (max(state.target_start[_key(tp)], tgt[tp][1] - window), tgt[tp][1])
                for tp in parts
                if goals.get(tp) is not None
            },
        )
        out = {}
        for tp in parts:
            goal = goals.get(tp)
            caught = goal is None or any(_same(goal, r) for r in tails.get(tp, []))
            if caught and snapshot:
                goals[tp] = None  # reached what the source held at the start: stays so
            behind = 0 if caught else max(want[tp] - max(gained[tp], 0), 1)
            ts = tails[tp][-1].timestamp_ms if tails.get(tp) else 0
            out[tp] = PartitionLag(behind, caught, ts)
        return out, gained

    def follow(
        self,
        state: Mm2State,
        source: Cluster,
        target: Cluster,
        spec: FollowSpec,
        stop: StopFlag,
        stop_reason: list[str],
        on_tick: Callable[[Mm2Result], None] = lambda result: None,
    ) -> Mm2Result:
        """Follow the copy until ``spec`` says it ended (see the module's text);
        checks the tasks every tick.

        Raises:
            ConnectorFailed: a connector or task went FAILED meanwhile.
        """
        result = Mm2Result()
        goals: dict[tuple[str, int], Record | None] = {}
        snapshot = spec.mode == "snapshot"
        started = last_change = self.clock()
        seen: dict[tuple[str, int], int] = {}
        # follow_ended reads a job's follow spec, stop flag and stop reason only.
        job: Any = SimpleNamespace(follow=spec, stop=stop, stop_reason=stop_reason)
        while True:
            self.check_failed(state)
            result.partition_lag, result.copied = self.lags(state, source, target, goals, snapshot)
            now = self.clock()
            if result.copied != seen:
                seen, last_change = dict(result.copied), now
            on_tick(result)
            all_caught = all(p.caught for p in result.partition_lag.values())
            if snapshot:
                result.ended = (
                    "snapshot complete"
                    if all_caught
                    else follow_ended(job, started, now, False, last_change)
                )
            else:
                result.ended = follow_ended(job, started, now, all_caught, last_change)
            if result.ended:
                return result
            self.sleep(self.poll_s)

    # --- end ------------------------------------------------------------------------

    def finish(self, state: Mm2State, target: Cluster) -> list[str]:
        """Delete the connectors (the copy stops) and note the MM2 internal topics
        this run created on the target.  Returns lines saying what was done."""
        lines = delete_connectors(self.plane, state)
        note_internal_topics(state, target)
        return lines


def delete_connectors(plane: ConnectPlane, state: Mm2State) -> list[str]:
    """Delete each connector of ``state`` on ``plane`` (marking them deleted); one line
    per connector: deleted, or already gone.

    Raises:
        ClusterError: the plane did not answer or refused.
    """
    lines = []
    for conn in state.connectors:
        lines.append(
            f"deleted connector {conn['name']} on {state.where}"
            if plane.delete(conn["ref"])
            else f"connector {conn['name']} was already gone from {state.where}"
        )
    state.connectors_deleted = True
    return lines


def note_internal_topics(state: Mm2State, target: Cluster) -> None:
    """Add to ``state.internal_topics_created`` the MM2 internal topics now on the
    target that were not there before the run."""
    before = set(state.target_topics_before)
    now = {t for t in target.topics() if is_mm2_internal(t) and t not in before}
    state.internal_topics_created = sorted(now | set(state.internal_topics_created))


def topic_lag_json(partition_lag: Mapping[tuple[str, int], PartitionLag]) -> dict[str, Any]:
    """``{topic: {"records": n, "seconds": s}}`` as the mirror record keeps it."""
    return {
        t: {"records": lag.records, "seconds": round(lag.seconds, 3)}
        for t, lag in sorted(topic_lags(partition_lag).items())
    }

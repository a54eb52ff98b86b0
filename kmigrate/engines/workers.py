"""Every core: a copy, snapshot or follow, sharded over worker processes.

The partitions are dealt round-robin over ``workers`` processes of the shard
pool (:mod:`kmigrate.engines.pool`: ``spawn``, so no librdkafka thread is
inherited; each dies with its parent); each runs the
:class:`~kmigrate.engines.native.NativeEngine` on its shard with its own
consumer and its own idempotent producer, so per-partition order holds as in
one process.  A worker never writes the offset map: at each of its
checkpoints (its maps list only records the target acknowledged: the confirmed
ones at a periodic checkpoint, every one after the final flush), it sends its
partitions' maps and counts to the parent over a pipe, and the parent alone
merges them into the :class:`~kmigrate.offsets.map.OffsetMap`, saves it
atomically and journals.

Follow mode: each worker follows its shard and, about every lag tick
(:attr:`NativeEngine.tick_s`), sends its lag per partition (high watermark
minus position, whether caught up, the last copied record's timestamp; see
:class:`~kmigrate.engines.base.PartitionLag`).  The parent owns the stop
conditions, judged over all shards exactly as one process judges its own
partitions (:func:`~kmigrate.engines.base.follow_ended`): ``until:
caught-up`` (every partition of every shard caught up, and no record copied
by any worker for ``settle_s``), ``max_duration``, and the operator's SIGINT /
SIGTERM (the step's handler sets ``job.stop``).  It then tells each worker
to stop over a second pipe (closing it says the same, so a worker whose
parent is gone stops too); each stops at its next tick, flushes, sends its
final checkpoint and ``done``.  A follow worker
ignores SIGINT and SIGTERM (the parent blocks both while starting it, so
none lands before it ignores them): Ctrl-C in a terminal signals the whole
process group, and the parent, not the worker, decides how the copy stops.
The parent draws the lag line from the merged lags.

Crash safety (``kill -9``):

* a worker killed: the parent sees its pipe close without a final message
  and fails the step (exit 1) naming the worker, after stopping the others:
  a snapshot worker is interrupted (SIGINT: it lets its queued records land
  and stops, as one process does on Ctrl-C); a follow worker is told to stop
  and its final checkpoint is merged.  The map claims only
  what some worker had seen acknowledged; records a worker wrote after its
  last checkpoint sit past the map's target position and the resume
  (:func:`kmigrate.offsets.resume.reconcile_tail`) recognises them by digest.
* the parent killed: Linux kills each worker at once (``PR_SET_PDEATHSIG``),
  so no orphan keeps writing while a re-run resumes (elsewhere a worker
  stops at its next checkpoint, when sending to the closed pipe fails, and
  a follow worker at its next tick, when it sees its stop pipe closed); the
  resume again reconciles the target's tail.

With one worker or one partition the copy runs in the calling process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from kmigrate import errors
from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.engines.base import (
    CopyJob,
    CopyResult,
    FollowSpec,
    PartitionLag,
    StopFlag,
    follow_ended,
    follow_note,
    topic_lags,
)
from kmigrate.engines.native import NativeEngine
from kmigrate.engines.pool import (  # noqa: F401 - default_workers, lean_spawn: re-exported
    ShardPool,
    cluster_spec,
    default_workers,
    lean_spawn,
    open_cluster,
    shardable,
    shards,
)
from kmigrate.errors import StepFailed
from kmigrate.offsets.map import OffsetMap, PartitionMap


class _PipeProgress:
    """A worker's progress bar: the advances (one per ``consume()`` batch) are
    summed and sent to the parent at most every :attr:`every_s` seconds, and by
    :meth:`flush` before each lag, checkpoint and ``done`` message (so the
    parent's counts are whole whenever it judges the copy).  One message per
    batch cost 8-12 % of a worker's py-spy samples (bench/README.md)."""

    #: Seconds between two progress messages of one worker.
    every_s = 0.1

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._records = 0
        self._bytes = 0
        self._next = 0.0

    def advance(self, records: int, nbytes: int) -> None:
        """Count ``records`` and ``nbytes``; send them when :attr:`every_s` passed."""
        self._records += records
        self._bytes += nbytes
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            self.flush()

    def flush(self) -> None:
        """Send ``("progress", records, bytes)`` counted since the last message, if any."""
        if self._records or self._bytes:
            self._conn.send(("progress", self._records, self._bytes))
            self._records = self._bytes = 0

    def show(self, text: str) -> None:
        """Ignored: the parent draws the lag line from the workers' ``on_tick``."""


class _PipeStop:
    """A worker's stop flag: set once the parent sent ``stop`` on the worker's
    stop pipe or closed it (polled at each lag tick, never blocking)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._set = False

    def is_set(self) -> bool:
        """Whether the parent asked for a stop (or is gone)."""
        if not self._set:
            try:
                self._set = self._conn.poll()
            except OSError:
                self._set = True
        return self._set

    def set(self) -> None:
        """Stop without being told (not used by the copy loop)."""
        self._set = True


class _StopWorkers:
    """The parent's side of the workers' stop pipes: :meth:`set` tells every
    worker to stop (and closes the pipes); idempotent."""

    def __init__(self) -> None:
        self.conns: list[Connection] = []
        self._set = False

    def is_set(self) -> bool:
        """Whether the workers were told to stop."""
        return self._set

    def set(self) -> None:
        """Send ``stop`` to every worker still listening, then close the pipes."""
        if self._set:
            return
        self._set = True
        for conn in self.conns:
            with contextlib.suppress(OSError):  # that worker is gone already
                conn.send("stop")
            conn.close()


class _PipeMap(OffsetMap):
    """A worker's offset map: :meth:`save` is left to the parent (see on_checkpoint)."""

    def save(self) -> None:
        """Nothing: the worker's checkpoint sends the map to the parent instead."""


def _error_message(exc: BaseException) -> tuple[str, str, dict[str, Any]]:
    attrs = {
        k: getattr(exc, k)
        for k in ("side", "topic", "partition", "start", "end", "offset")
        if hasattr(exc, k)
    }
    return type(exc).__name__, str(exc), attrs


def _rebuild(name: str, message: str, attrs: dict[str, Any]) -> BaseException:
    """The parent's copy of a worker's error (same class for kmigrate's errors)."""
    if name == "RecordsLost":
        return errors.RecordsLost(
            message, attrs["side"], attrs["topic"], attrs["partition"], attrs["start"], attrs["end"]
        )
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, errors.KmigrateError):
        try:
            return cls(message)
        except TypeError:
            return StepFailed(message)
    return RuntimeError(f"a mirror worker failed: {name}: {message}")


def _lags_json(lags: dict[tuple[str, int], PartitionLag]) -> list[list[Any]]:
    return [[t, p, *lag.as_tuple()] for (t, p), lag in lags.items()]


def _lags_from(rows: list[list[Any]]) -> dict[tuple[str, int], PartitionLag]:
    return {(t, int(p)): PartitionLag(int(n), bool(c), int(ts)) for t, p, n, c, ts in rows}


def _warm_worker(
    target_spec: dict[str, Any],
    follow: bool,
    inbox: Connection,
    outbox: Connection,
    stop_conn: Connection,
) -> None:
    """A prestarted worker (:meth:`WorkerEngine.prestart`, started by
    :meth:`~kmigrate.engines.pool.ShardPool.start`, which made it die with its
    parent and, following, leave SIGINT / SIGTERM to it): open the target,
    start its writer, then wait for its shard's spec on ``inbox`` and copy it
    as :func:`_worker_main`; ``None`` or a closed pipe (the parent gave up
    before the copy) ends it."""
    target = open_cluster(target_spec)
    target.prepare_writer()
    try:
        spec = inbox.recv()
    except (EOFError, OSError):
        return
    finally:
        inbox.close()
    if spec is not None:
        _worker_main(spec, outbox, stop_conn, target)


def _worker_main(
    spec: dict[str, Any], conn: Connection, stop_conn: Connection, target: KafkaCluster
) -> None:
    """A worker's copy (run by :func:`_warm_worker`, which opened ``target``):
    copy its shard, send each checkpoint (and, following, its lag every tick)
    on ``conn``, then ``done``; following, it stops when the parent sends
    ``stop`` on ``stop_conn`` or closes it."""
    follow = spec["follow"]
    parts = [PartitionMap.from_json(p) for p in spec["maps"]]
    omap = _PipeMap(Path(os.devnull), {(p.topic, p.partition): p for p in parts})
    shard = [(p.topic, p.partition) for p in parts]

    progress = _PipeProgress(conn)

    def on_checkpoint(result: CopyResult) -> None:
        # Called after each save: every record in these maps is acknowledged.
        progress.flush()
        conn.send(
            (
                "checkpoint",
                [omap.get(*tp).as_json() for tp in shard],  # type: ignore[union-attr]
                {f"{t}\0{p}": v for (t, p), v in result.per_partition.items()},
                _lags_json(result.partition_lag),
            )
        )

    def on_tick(result: CopyResult) -> None:
        progress.flush()
        conn.send(("lag", _lags_json(result.partition_lag)))

    job = CopyJob(
        source=open_cluster(spec["source"]),
        target=target,
        offset_map=omap,
        partitions=shard,
        target_next={(t, p): int(n) for t, p, n in spec["target_next"]},
        # Following, the parent owns every stop condition: follow until told.
        follow=FollowSpec("follow", "stopped") if follow else FollowSpec(),
        progress=progress,  # type: ignore[arg-type]
        stop=_PipeStop(stop_conn),
        on_checkpoint=on_checkpoint,
        on_tick=on_tick,
        checkpoint_s=spec["checkpoint_s"],
        checkpoint_records=spec["checkpoint_records"],
    )
    try:
        result = NativeEngine().copy(job)
        progress.flush()
        conn.send(("done", result.ended))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        # The parent interrupts every snapshot worker (SIGINT) once one fails;
        # that must not cut this report short and spill a traceback onto the terminal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with contextlib.suppress(OSError):  # the parent is gone: nothing to tell
            conn.send(("error", *_error_message(exc), traceback.format_exc()))
    finally:
        conn.close()


@dataclass
class _Serving:
    """The parent's state while it serves its workers (:meth:`WorkerEngine._serve`)."""

    open_conns: list[Connection]
    started_at: float
    next_tick: float
    last_record_at: float
    lags: dict[tuple[str, int], PartitionLag] = field(default_factory=dict)
    failure: BaseException | None = None
    ended: str | None = None
    stop_deadline: float | None = None


class WorkerEngine:
    """A copy over worker processes, snapshot or follow (module docstring).

    Args:
        workers: processes to use; with one worker (or one partition) the copy
            runs in this process.
    """

    name = "native-workers"
    #: Seconds between the parent's lag ticks and stop checks (follow mode).
    tick_s = NativeEngine.tick_s
    #: Seconds the workers get, once told to stop, to flush and send their
    #: final checkpoint (more than a worker's flush timeout, 120 s).
    stop_timeout_s = 150.0

    def __init__(self, workers: int) -> None:
        self.workers = workers
        #: Prestarted workers: ``(spec pipe, report pipe, stop pipe, process)``.
        self._warm: list[tuple[Connection, Connection, Connection, Any]] = []

    def prestart(
        self, partitions: list[tuple[str, int]], target: object, follow: bool = False
    ) -> int:
        """Start now the worker processes a copy of ``partitions`` will use,
        so that their start overlaps the caller's lookups.

        Each opens the target and starts its writer at once (a new idempotent
        producer needs its producer id first, see
        :meth:`KafkaCluster.prepare_writer`; a process start with its imports
        about 0.15 s more), then waits for its shard from :meth:`copy`.  If no
        copy follows, they end when this engine is garbage-collected (their
        pipe closes) or with this process (``PR_SET_PDEATHSIG``).

        Returns how many processes were started (0 when the copy will run in
        this process: one shard, or a target a worker cannot open again).
        """
        n = len(shards(partitions, self.workers))
        if n <= 1 or not shardable(target) or self._warm:
            return 0
        self._start_warm(n, target, follow)
        return n

    def prepare(self, partitions: list[tuple[str, int]], target: Any, follow: bool) -> None:
        """Prestart the workers (:meth:`prestart`); when the copy will run in
        this process, start its writer instead (as :class:`NativeEngine` does)."""
        if not self.prestart(partitions, target, follow):
            NativeEngine().prepare(partitions, target, follow)

    def _start_warm(self, n: int, target: object, follow: bool) -> None:
        """Start ``n`` more worker processes that wait for their shard."""
        pool = ShardPool(self.workers)
        first = len(self._warm)
        for i in range(first, first + n):
            inbox_r, inbox_w = pool.pipe()
            out_r, out_w = pool.pipe()
            stop_r, stop_w = pool.pipe()
            proc = pool.start(
                _warm_worker,
                (cluster_spec(target), follow, inbox_r, out_w, stop_r),
                f"kmigrate-mirror-{i + 1}",
                hold_signals=follow,
            )
            inbox_r.close()
            out_w.close()
            stop_r.close()
            self._warm.append((inbox_w, out_r, stop_w, proc))

    def _release_warm(self) -> None:
        """Tell prestarted workers no copy needs them (they exit)."""
        warm, self._warm = self._warm, []
        for inbox, out, stop_w, _proc in warm:
            with contextlib.suppress(OSError):
                inbox.send(None)
            for conn in (inbox, out, stop_w):
                conn.close()

    def copy(self, job: CopyJob) -> CopyResult:
        """Copy ``job`` over the workers; see
        :class:`~kmigrate.engines.base.CopyEngine` for the contract.  Following,
        ``job.stop`` (set by the step's SIGINT / SIGTERM handler) stops every
        worker cleanly and ``ended`` gives its reason, as in one process.

        Raises:
            StepFailed: a worker died (e.g. ``kill -9``), the target refused
                records, or (following) the workers did not stop within
                :attr:`stop_timeout_s`; the map keeps what was acknowledged,
                a re-run resumes.
            kmigrate.errors.RecordsLost: a worker found source records deleted
                before they were copied.
        """
        groups = shards(job.partitions, self.workers)
        if len(groups) <= 1:
            self._release_warm()
            return NativeEngine().copy(job)
        follow = job.follow.mode == "follow"
        omap = job.offset_map
        result = CopyResult()
        for tp in job.partitions:
            result.per_partition[tp] = [0, 0]
        stop = _StopWorkers()
        procs: dict[Connection, tuple[int, Any]] = {}
        finished: set[int] = set()  # workers that sent "done"
        started_at = time.monotonic()
        try:
            for i, group in enumerate(groups):
                maps = []
                for tp in group:
                    part = omap.get(*tp)
                    if part is None:
                        raise StepFailed(f"{tp[0]}[{tp[1]}]: not begun in the offset map")
                    maps.append(part.as_json())
                spec = {
                    "source": cluster_spec(job.source),
                    "maps": maps,
                    "target_next": [(t, p, job.target_next[(t, p)]) for t, p in group],
                    "follow": follow,
                    "checkpoint_s": job.checkpoint_s,
                    "checkpoint_records": job.checkpoint_records,
                }
                if not self._warm:  # not prestarted (or fewer than the shards)
                    self._start_warm(len(groups) - i, job.target, follow)
                inbox, reader, stop_writer, proc = self._warm.pop(0)
                stop.conns.append(stop_writer)
                with contextlib.suppress(OSError):  # it died: its report pipe says so
                    inbox.send(spec)
                inbox.close()
                procs[reader] = (i + 1, proc)
            result.ended = self._serve(job, result, procs, stop, started_at, finished)
        finally:
            # Workers still copying (another failed, or this process was
            # interrupted) stop: a follow worker when told to, a snapshot
            # worker interrupted as Ctrl-C would; each lets its queued records
            # land (a clean prefix on the target, as in one process); the
            # resume finds those copies on the tail.  Closing the pipes makes
            # a worker's next report fail, so none waits on a full pipe.
            self._release_warm()
            stop.set()
            for number, proc in procs.values():
                if number in finished:
                    proc.join(10)  # done: it is only closing its clients
            running = [proc for _n, proc in procs.values() if proc.is_alive()]
            if not follow:
                for proc in running:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid or 0, signal.SIGINT)
            for conn in procs:
                conn.close()
            for proc in running:
                proc.join(40)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
        result.records = sum(s[0] for s in result.per_partition.values())
        result.bytes = sum(s[1] for s in result.per_partition.values())
        job.on_checkpoint(result)
        return result

    def _serve(
        self,
        job: CopyJob,
        result: CopyResult,
        procs: dict[Connection, tuple[int, Any]],
        stop: StopFlag,
        started_at: float,
        finished: set[int],
    ) -> str:
        """Take the workers' messages until each is done; following, judge the
        stop conditions over all shards, draw the lag line and tell the
        workers when to stop; records in ``finished`` the workers that sent
        ``done``.  Returns the copy's ``ended`` text.

        Raises:
            StepFailed / RecordsLost: as :meth:`copy`.  Snapshot: at once (the
                caller interrupts the other workers).  Follow: once the other
                workers stopped and their final checkpoints were merged.
        """
        follow = job.follow.mode == "follow"
        st = _Serving(list(procs), started_at, started_at + self.tick_s, started_at)
        while st.open_conns:
            for conn in wait(st.open_conns, self.tick_s if follow else None):
                assert isinstance(conn, Connection)
                failed = self._receive(job, result, procs, conn, st, finished)
                if failed is not None:
                    if not follow:
                        raise failed
                    st.failure = st.failure or failed
            if follow and self._follow_tick(job, result, procs, stop, st):
                break
        if st.failure is not None:
            raise st.failure
        if st.lags:
            result.partition_lag = dict(st.lags)
            result.lag = topic_lags(st.lags)
        return st.ended or ("snapshot complete" if not follow else "stopped")

    def _receive(
        self,
        job: CopyJob,
        result: CopyResult,
        procs: dict[Connection, tuple[int, Any]],
        conn: Connection,
        st: _Serving,
        finished: set[int],
    ) -> BaseException | None:
        """Take one message from a worker; returns the error it reported (or its
        death), None otherwise."""
        number, proc = procs[conn]
        try:
            msg = conn.recv()
        except EOFError:
            st.open_conns.remove(conn)
            proc.join(5)
            return StepFailed(
                f"mirror worker {number} (pid {proc.pid}) died with exit code "
                f"{proc.exitcode}; the offset map keeps what the target "
                "acknowledged; run the mirror again to resume"
            )
        kind = msg[0]
        if kind == "progress":
            job.progress.advance(msg[1], msg[2])
            if msg[1]:
                st.last_record_at = time.monotonic()
        elif kind == "lag":
            st.lags.update(_lags_from(msg[1]))
        elif kind == "checkpoint":
            st.lags.update(_lags_from(msg[3]))
            result.partition_lag = dict(st.lags)
            result.lag = topic_lags(st.lags)
            self._merge(job, result, msg[1], msg[2])
        elif kind == "done":
            finished.add(number)
            st.open_conns.remove(conn)
            conn.close()
        else:
            st.open_conns.remove(conn)
            conn.close()
            _kind, name, message, attrs, trace = msg
            exc = _rebuild(name, message, attrs)
            if isinstance(exc, RuntimeError):
                exc = RuntimeError(f"{exc}\n{trace}")
            return exc
        return None

    def _follow_tick(
        self,
        job: CopyJob,
        result: CopyResult,
        procs: dict[Connection, tuple[int, Any]],
        stop: StopFlag,
        st: _Serving,
    ) -> bool:
        """Following, after each wait: draw the lag line, judge the stop
        conditions, tell the workers to stop; whether to stop waiting for them."""
        now = time.monotonic()
        lags = st.lags
        if lags and now >= st.next_tick:
            st.next_tick = now + self.tick_s
            result.partition_lag = dict(lags)
            result.lag = topic_lags(lags)
            job.on_tick(result)
            job.progress.show(follow_note(job, result.lag, now, st.last_record_at))
        if st.failure is None and st.ended is None:
            caught = len(lags) == len(job.partitions) and all(lag.caught for lag in lags.values())
            st.ended = follow_ended(job, st.started_at, now, caught, st.last_record_at)
        if (st.failure is not None or st.ended is not None) and st.stop_deadline is None:
            stop.set()
            st.stop_deadline = now + self.stop_timeout_s
        if st.stop_deadline is not None and now > st.stop_deadline and st.open_conns:
            names = ", ".join(str(procs[c][0]) for c in st.open_conns)
            st.failure = st.failure or StepFailed(
                f"mirror workers {names} did not stop within {self.stop_timeout_s:g} s; "
                "the offset map keeps what the target acknowledged; run the mirror "
                "again to resume"
            )
            return True
        return False

    @staticmethod
    def _merge(
        job: CopyJob,
        result: CopyResult,
        maps: list[dict[str, Any]],
        stats: dict[str, list[int]],
    ) -> None:
        """Fold one worker checkpoint into the map, save it, count and journal."""
        omap = job.offset_map
        for data in maps:
            got = PartitionMap.from_json(data)
            # In place: the step holds these objects and records them.
            omap.begin(got.topic, got.partition, got.source_start, got.target_start).assign(got)
        omap.save()
        for key, (n, size) in stats.items():
            topic, partition = key.rsplit("\0", 1)
            result.per_partition[(topic, int(partition))][:] = [n, size]
        job.on_checkpoint(result)

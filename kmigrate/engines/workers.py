"""Every core: a snapshot copy sharded over worker processes.

The partitions are dealt round-robin over ``workers`` processes (``spawn``,
so no librdkafka thread is inherited); each runs the
:class:`~kmigrate.engines.native.NativeEngine` on its shard with its own
consumer and its own idempotent producer, so per-partition order holds as in
one process.  A worker never writes the offset map: at each of its
checkpoints, after its producer was flushed (the target acknowledged every
record it lists), it sends its partitions' maps and counts to the parent
over a pipe, and the parent alone merges them into the
:class:`~kmigrate.offsets.map.OffsetMap`, saves it atomically and journals.

Crash safety (``kill -9``):

* a worker killed: the parent sees its pipe close without a final message,
  interrupts the other workers (SIGINT: each lets its queued records land and
  stops, as one process does on Ctrl-C) and fails the step (exit 1).  The map claims only
  what some worker had seen acknowledged; records a worker wrote after its
  last checkpoint sit past the map's target position and the resume
  (:func:`kmigrate.offsets.resume.reconcile_tail`) recognises them by digest.
* the parent killed: Linux kills each worker at once (``PR_SET_PDEATHSIG``),
  so no orphan keeps writing while a re-run resumes (elsewhere a worker
  stops at its next checkpoint, when sending to the closed pipe fails); the
  resume again reconciles the target's tail.

Follow mode stays in one process (:mod:`kmigrate.engines.native`): its stop
signals, lag ticks and settle time are per copy, not per shard.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import traceback
import types
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TypeVar

from kmigrate import errors
from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.engines.base import CopyJob, CopyResult, FollowSpec
from kmigrate.engines.native import NativeEngine
from kmigrate.errors import StepFailed
from kmigrate.offsets.map import OffsetMap, PartitionMap

T = TypeVar("T")
#: prctl(2) option: the signal sent to this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def default_workers() -> int:
    """The number of CPUs this process may use (at least 1)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


@contextlib.contextmanager
def lean_spawn() -> Iterator[None]:
    """While worker processes are started (``spawn``), hide the ``__main__`` module.

    A ``spawn`` child first re-runs the parent's ``__main__`` script as
    ``__mp_main__`` (Python's multiprocessing docs, "Contexts and start
    methods"; ``multiprocessing.spawn.get_preparation_data``).  For the
    ``kmigrate`` console script that imports the whole CLI (click, the plan
    schema, every command): about 0.2 s of CPU per worker, measured, before it
    copies a record; under pytest it imports pytest.  Workers need only the
    module of their target function, which the child imports anyway, so the
    parent's ``__main__`` is swapped for an empty module while processes
    start (each ``Process.start`` reads it there and then).  Nothing run in a
    worker may live in ``__main__``.
    """
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def shardable(*clusters: object) -> bool:
    """Whether worker processes can open these clusters again from their settings:
    plain :class:`KafkaCluster` objects only (a subclass, e.g. a test double
    or another cluster type, copies in this process)."""
    return all(type(c) is KafkaCluster for c in clusters)


def shards(items: list[T], workers: int) -> list[list[T]]:
    """Deal ``items`` (partitions) round-robin over at most ``workers`` non-empty shards."""
    n = max(1, min(workers, len(items)))
    return [items[i::n] for i in range(n)]


class _PipeProgress:
    """A worker's progress bar: each advance (one per ``consume()`` batch) goes
    to the parent, which draws it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def advance(self, records: int, nbytes: int) -> None:
        """Send ``("progress", records, bytes)`` to the parent."""
        self._conn.send(("progress", records, nbytes))

    def show(self, text: str) -> None:
        """Ignored (follow mode does not run in workers)."""


class _PipeMap(OffsetMap):
    """A worker's offset map: :meth:`save` is left to the parent (see on_checkpoint)."""

    def save(self) -> None:
        """Nothing: the worker's checkpoint sends the map to the parent instead."""


def open_cluster(spec: dict[str, Any]) -> KafkaCluster:
    """In a worker: the cluster :func:`cluster_spec` described."""
    return KafkaCluster(spec["role"], spec["bootstrap_servers"], dict(spec["config"]))


def cluster_spec(cluster: object) -> dict[str, Any]:
    """What a worker needs to open ``cluster`` again (role, bootstrap servers,
    client settings; secrets go to the worker over its pipe, never to disk).

    Raises:
        TypeError: not a plain :class:`KafkaCluster` (see :func:`shardable`).
    """
    if type(cluster) is not KafkaCluster:
        raise TypeError(f"cannot open {type(cluster).__name__} in a worker process")
    return {
        "role": cluster.role,
        "bootstrap_servers": cluster.bootstrap_servers,
        "config": dict(cluster.config),
    }


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


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (``prctl``
    ``PR_SET_PDEATHSIG``, prctl(2)), so no orphaned worker keeps writing while
    a re-run resumes and no worker keeps the parent's output pipe open; exits
    at once if the parent is already gone.  Elsewhere a mirror worker stops at
    its next checkpoint, when sending to the closed pipe fails."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(1)


def _warm_worker(
    parent_pid: int, target_spec: dict[str, Any], inbox: Connection, outbox: Connection
) -> None:
    """A prestarted worker (:meth:`WorkerEngine.prestart`): open the target,
    start its writer, then wait for its shard's spec on ``inbox`` and copy it
    as :func:`_worker_main`; ``None`` or a closed pipe (the parent gave up
    before the copy) ends it."""
    die_with_parent(parent_pid)
    target = open_cluster(target_spec)
    target.prepare_writer()
    try:
        spec = inbox.recv()
    except (EOFError, OSError):
        return
    finally:
        inbox.close()
    if spec is not None:
        _worker_main(spec, outbox, target)


def _worker_main(
    spec: dict[str, Any], conn: Connection, target: KafkaCluster | None = None
) -> None:
    """A worker process: copy its shard, send each checkpoint, then ``done``."""
    die_with_parent(spec["parent_pid"])
    parts = [PartitionMap.from_json(p) for p in spec["maps"]]
    omap = _PipeMap(Path(os.devnull), {(p.topic, p.partition): p for p in parts})
    shard = [(p.topic, p.partition) for p in parts]

    def on_checkpoint(result: CopyResult) -> None:
        # Called right after the flush: every record in these maps is acknowledged.
        conn.send(
            (
                "checkpoint",
                [omap.get(*tp).as_json() for tp in shard],  # type: ignore[union-attr]
                {f"{t}\0{p}": v for (t, p), v in result.per_partition.items()},
            )
        )

    job = CopyJob(
        source=open_cluster(spec["source"]),
        target=target if target is not None else open_cluster(spec["target"]),
        offset_map=omap,
        partitions=shard,
        target_next={(t, p): int(n) for t, p, n in spec["target_next"]},
        follow=FollowSpec(),
        progress=_PipeProgress(conn),  # type: ignore[arg-type]
        on_checkpoint=on_checkpoint,
        checkpoint_s=spec["checkpoint_s"],
        checkpoint_records=spec["checkpoint_records"],
    )
    try:
        result = NativeEngine().copy(job)
        conn.send(("done", result.ended))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        # The parent interrupts every worker (SIGINT) once one fails; that must
        # not cut this report short and spill a traceback onto the terminal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with contextlib.suppress(OSError):  # the parent is gone: nothing to tell
            conn.send(("error", *_error_message(exc), traceback.format_exc()))
    finally:
        conn.close()


class WorkerEngine:
    """A snapshot copy over worker processes (module docstring).

    Args:
        workers: processes to use; with one worker (or one partition) the copy
            runs in this process.
    """

    name = "native-workers"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        #: Prestarted workers: ``(spec pipe, report pipe, process)``.
        self._warm: list[tuple[Connection, Connection, Any]] = []

    def prestart(self, partitions: list[tuple[str, int]], target: object) -> int:
        """Start now the worker processes a snapshot copy of ``partitions``
        will use, so that their start overlaps the caller's lookups.

        Each opens the target and starts its writer at once (a new idempotent
        producer needs about 0.5 s for its producer id, see
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
        mp = multiprocessing.get_context("spawn")
        for i in range(n):
            inbox_r, inbox_w = mp.Pipe(duplex=False)
            out_r, out_w = mp.Pipe(duplex=False)
            proc = mp.Process(
                target=_warm_worker,
                args=(os.getpid(), cluster_spec(target), inbox_r, out_w),
                name=f"kmigrate-mirror-{i + 1}",
                daemon=True,
            )
            with lean_spawn():
                proc.start()
            inbox_r.close()
            out_w.close()
            self._warm.append((inbox_w, out_r, proc))
        return n

    def _release_warm(self) -> None:
        """Tell prestarted workers no copy needs them (they exit)."""
        warm, self._warm = self._warm, []
        for inbox, out, _proc in warm:
            with contextlib.suppress(OSError):
                inbox.send(None)
            inbox.close()
            out.close()

    def copy(self, job: CopyJob) -> CopyResult:
        """Copy ``job`` (snapshot mode) over the workers; see
        :class:`~kmigrate.engines.base.CopyEngine` for the contract.

        Raises:
            StepFailed: a worker died (e.g. ``kill -9``) or the target refused
                records; the map keeps what was acknowledged, a re-run resumes.
            kmigrate.errors.RecordsLost: a worker found source records deleted
                before they were copied.
        """
        groups = shards(job.partitions, self.workers)
        if len(groups) <= 1 or job.follow.mode != "snapshot":
            self._release_warm()
            return NativeEngine().copy(job)
        omap = job.offset_map
        result = CopyResult()
        for tp in job.partitions:
            result.per_partition[tp] = [0, 0]
        mp = multiprocessing.get_context("spawn")
        procs: dict[Connection, tuple[int, Any]] = {}
        finished: set[int] = set()  # workers that sent "done"
        try:
            for i, group in enumerate(groups):
                maps = []
                for tp in group:
                    part = omap.get(*tp)
                    if part is None:
                        raise StepFailed(f"{tp[0]}[{tp[1]}]: not begun in the offset map")
                    maps.append(part.as_json())
                spec = {
                    "parent_pid": os.getpid(),
                    "source": cluster_spec(job.source),
                    "target": cluster_spec(job.target),
                    "maps": maps,
                    "target_next": [(t, p, job.target_next[(t, p)]) for t, p in group],
                    "checkpoint_s": job.checkpoint_s,
                    "checkpoint_records": job.checkpoint_records,
                }
                if self._warm:
                    inbox, reader, proc = self._warm.pop(0)
                    with contextlib.suppress(OSError):  # it died: its report pipe says so
                        inbox.send(spec)
                    inbox.close()
                    procs[reader] = (i + 1, proc)
                    continue
                reader, writer = mp.Pipe(duplex=False)
                proc = mp.Process(
                    target=_worker_main,
                    args=(spec, writer),
                    name=f"kmigrate-mirror-{i + 1}",
                    daemon=True,
                )
                with lean_spawn():
                    proc.start()
                writer.close()
                procs[reader] = (i + 1, proc)
            self._release_warm()
            open_conns = list(procs)
            while open_conns:
                for conn in wait(open_conns):
                    assert isinstance(conn, Connection)
                    number, proc = procs[conn]
                    try:
                        msg = conn.recv()
                    except EOFError:
                        proc.join(5)
                        raise StepFailed(
                            f"mirror worker {number} (pid {proc.pid}) died with exit code "
                            f"{proc.exitcode}; the offset map keeps what the target "
                            "acknowledged; run the mirror again to resume"
                        ) from None
                    kind = msg[0]
                    if kind == "progress":
                        job.progress.advance(msg[1], msg[2])
                    elif kind == "checkpoint":
                        self._merge(job, result, msg[1], msg[2])
                    elif kind == "done":
                        finished.add(number)
                        open_conns.remove(conn)
                        conn.close()
                    else:
                        _kind, name, message, attrs, trace = msg
                        exc = _rebuild(name, message, attrs)
                        if isinstance(exc, RuntimeError):
                            exc = RuntimeError(f"{exc}\n{trace}")
                        raise exc
        finally:
            self._release_warm()
            # Workers still copying (another failed, or this process was
            # interrupted) are interrupted as Ctrl-C would: each lets its
            # queued records land (a clean prefix on the target, as in one
            # process) and stops; the resume finds those copies on the tail.
            for number, proc in procs.values():
                if number in finished:
                    proc.join(10)  # done: it is only closing its clients
            running = [proc for _n, proc in procs.values() if proc.is_alive()]
            for proc in running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid or 0, signal.SIGINT)
            for proc in running:
                proc.join(40)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
        result.records = sum(s[0] for s in result.per_partition.values())
        result.bytes = sum(s[1] for s in result.per_partition.values())
        result.ended = "snapshot complete"
        job.on_checkpoint(result)
        return result

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
            omap.forget(got.topic, got.partition)
            part = omap.begin(got.topic, got.partition, got.source_start, got.target_start)
            for run in got.runs:
                part.extend(run.source_start, run.target_start, run.length)
            part.skip_to(got.source_position)
        omap.save()
        for key, (n, size) in stats.items():
            topic, partition = key.rsplit("\0", 1)
            result.per_partition[(topic, int(partition))][:] = [n, size]
        job.on_checkpoint(result)

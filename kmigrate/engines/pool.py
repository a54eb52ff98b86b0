"""The one shard pool: the worker processes kmigrate deals partitions over.

Both the copy (:class:`kmigrate.engines.workers.WorkerEngine`) and ``verify``
(its side summaries) shard partitions over processes of their own, started
here and only here, under the same rules:

* ``spawn`` processes (no librdkafka thread is inherited), started with the
  parent's ``__main__`` hidden (:func:`lean_spawn`);
* each dies with its parent (:func:`die_with_parent`, ``PR_SET_PDEATHSIG``);
* as many as :func:`default_workers` (the CPUs this process may use) unless
  told otherwise, the items dealt round-robin (:func:`shards`);
* only plain Kafka clusters are opened again in a worker, from their settings
  (:func:`shardable`, :func:`cluster_spec`, :func:`open_cluster`).

A long-lived worker that talks to its parent over pipes (the copy) is started
with :meth:`ShardPool.start`; short jobs whose results come back as futures
(verify) go through :meth:`ShardPool.executor`, a
:class:`concurrent.futures.ProcessPoolExecutor` whose errors reach the parent
whole (:meth:`kmigrate.errors.KmigrateError.__reduce__`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import resource_tracker
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from kmigrate.adapters.kafka import KafkaCluster

T = TypeVar("T")
#: prctl(2) option: the signal sent to this process when its parent dies.
_PR_SET_PDEATHSIG = 1
#: The signals a follow worker leaves to its parent.
_OPERATOR_SIGNALS = {signal.SIGINT, signal.SIGTERM}


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
    methods"; ``multiprocessing.spawn.get_preparation_data``).  When the
    console script's module imported the whole CLI (click, the plan schema,
    every command; before :mod:`kmigrate.entry`) that cost about 0.2 s of CPU
    per worker, measured, before it copied a record; any other script a
    program embeds kmigrate in costs what it imports; under pytest it imports
    pytest.  Workers need only the
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


def _ignore_operator_signals() -> None:
    """In a follow worker: the parent decides how a follow stops (Ctrl-C
    reaches the whole process group); it blocked these signals while starting
    this process."""
    for signum in _OPERATOR_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _OPERATOR_SIGNALS)


@contextlib.contextmanager
def _operator_signals_blocked(block: bool) -> Iterator[None]:
    """While starting a follow worker: hold SIGINT and SIGTERM back in this
    thread (a signal that arrives meanwhile is delivered afterwards, to this
    process's handler); the worker inherits the blocked mask and ignores both
    before unblocking them."""
    if not block:
        yield
        return
    # Starting a spawn process starts multiprocessing's resource tracker on
    # first use, which unblocks SIGINT and SIGTERM afterwards (SIG_UNBLOCK, not
    # the previous mask): start it first, so the mask below holds.
    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _OPERATOR_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _pool_main(
    parent_pid: int, hold_signals: bool, target: Callable[..., None], args: tuple[Any, ...]
) -> None:
    """A :meth:`ShardPool.start` process: die with the parent, leave SIGINT and
    SIGTERM to it when asked, then run ``target(*args)``."""
    die_with_parent(parent_pid)
    if hold_signals:
        _ignore_operator_signals()
    target(*args)


def _pool_init(
    parent_pid: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    """A :meth:`ShardPool.executor` process's initializer: die with the parent,
    then the caller's initializer."""
    die_with_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)


class ShardPool:
    """The worker processes of one sharded job (module docstring).

    Args:
        workers: processes the job may use (default :func:`default_workers`).
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.mp = multiprocessing.get_context("spawn")

    def shards(self, items: list[T], workers: int | None = None) -> list[list[T]]:
        """``items`` dealt over at most ``workers`` (default :attr:`workers`)
        non-empty shards (:func:`shards`)."""
        return shards(items, self.workers if workers is None else workers)

    def start(
        self,
        target: Callable[..., None],
        args: tuple[Any, ...],
        name: str,
        hold_signals: bool = False,
    ) -> BaseProcess:
        """Start one daemon worker process running ``target(*args)`` (a module-level
        function: ``spawn`` pickles it by name) and return it.

        Args:
            name: the process's name (``kmigrate-mirror-1``).
            hold_signals: the worker ignores SIGINT and SIGTERM (Ctrl-C reaches
                the whole process group; the parent decides how the job stops);
                both are blocked while it starts, so none lands before.
        """
        proc = self.mp.Process(
            target=_pool_main,
            args=(os.getpid(), hold_signals, target, args),
            name=name,
            daemon=True,
        )
        with _operator_signals_blocked(hold_signals), lean_spawn():
            proc.start()
        return proc

    def pipe(self) -> tuple[Any, Any]:
        """A one-way pipe ``(reader, writer)`` to or from a worker."""
        return self.mp.Pipe(duplex=False)

    @contextlib.contextmanager
    def executor(
        self,
        processes: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> Iterator[ProcessPoolExecutor]:
        """A process pool of at most ``processes`` workers for jobs submitted
        inside the ``with`` block (they start as jobs are submitted, lean);
        each runs ``initializer(*initargs)`` after arranging to die with this
        process.  A :class:`~kmigrate.errors.KmigrateError` raised in a job is
        raised again by its future, whole."""
        with (
            lean_spawn(),
            ProcessPoolExecutor(
                processes,
                mp_context=self.mp,
                initializer=_pool_init,
                initargs=(os.getpid(), initializer, initargs),
            ) as pool,
        ):
            yield pool

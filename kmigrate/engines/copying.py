"""Running a copy: which engine, and how SIGINT / SIGTERM and cluster failures end it.

The mirror step checks both clusters and prepares the offset map; then
:func:`engine_for` picks the engine (worker processes when both clusters can be
opened again in a worker, else the native engine in this process) and
:func:`run_copy` runs it: a following copy stops cleanly on SIGINT / SIGTERM
(its result's ``ended`` says ``stopped by operator (SIGTERM)``), and a cluster
failure mid-copy becomes a :class:`~kmigrate.errors.StepFailed` that says a
re-run resumes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.engines.base import CopyEngine, CopyJob, CopyResult
from kmigrate.engines.native import NativeEngine
from kmigrate.engines.pool import default_workers, shardable
from kmigrate.engines.workers import WorkerEngine
from kmigrate.errors import ClusterError, OffsetOutOfRange, StepFailed


def engine_for(source: Cluster, target: Cluster, workers: int | None = None) -> CopyEngine:
    """The engine for a copy between these clusters: :class:`WorkerEngine` over
    ``workers`` processes (default: the CPUs, :func:`default_workers`) when both
    can be opened in a worker (:func:`shardable`), else :class:`NativeEngine`."""
    return (
        WorkerEngine(workers or default_workers()) if shardable(source, target) else NativeEngine()
    )


@contextmanager
def stop_on_signals(job: CopyJob) -> Iterator[None]:
    """In the main thread, turn SIGINT and SIGTERM into a clean stop of the copy."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        job.stop_reason.append(f"stopped by operator ({signal.Signals(signum).name})")
        job.stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_copy(engine: CopyEngine, job: CopyJob) -> CopyResult:
    """Run ``engine`` on ``job``; following, SIGINT / SIGTERM stop it cleanly
    (:func:`stop_on_signals`).

    Raises:
        kmigrate.errors.RecordsLost / OffsetOutOfRange: as the engine raised them.
        StepFailed: the engine's, or a cluster failed mid-copy (e.g. a fatal
            producer error after the target restarted); the offset map holds
            only acknowledged copies, a re-run resumes.
    """
    try:
        if job.follow.mode == "follow":
            with stop_on_signals(job):
                return engine.copy(job)
        return engine.copy(job)
    except OffsetOutOfRange:
        raise
    except ClusterError as exc:
        raise StepFailed(f"mirror failed: {exc} (re-run to resume)") from None

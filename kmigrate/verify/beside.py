"""A following verify *beside* a following mirror (the mirror step's ``verify: follow``).

Steps of a plan run one after another, so a ``verify`` step with ``mode:
follow`` cannot run while the plan's following mirror runs.  With ``verify:
follow`` on the mirror step, :func:`verify_beside` runs the following verify
(:func:`kmigrate.verify.follow.follow`, ``until: stopped``) in a process of its
own while the copy runs, against the same state dir: it reads the offset map
the mirror keeps and checkpoints the proven ranges in
``<state_dir>/verify-proof.json``, which the plan's final ``verify`` step
reuses (reading only the tail).

* The process is started through :class:`kmigrate.engines.pool.ShardPool`
  (``spawn``; ``PR_SET_PDEATHSIG``: a ``kill -9`` of the mirror leaves no
  orphan verify; it ignores Ctrl-C, which the mirror's process handles).
* When the copy ends (caught up, stopped, failed, ``max_duration``) it is told
  to stop (an event, and SIGTERM): it finishes its round, saves the proof and
  reports.  ``kill -TERM`` of the verify process alone stops it the same way.
* Its last round (proven offsets and proof lag per topic) comes back over a
  pipe (:class:`BesideOutcome`), for the mirror's record and status line.  A
  difference it finds ends it early; the outcome carries the text (the final
  verify fails on that partition anyway: the differing block is never proven).
* Clusters a worker cannot open again (not plain Kafka, e.g. a dry run's
  wrapper or a test double) are followed in a thread of this process instead.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.engines.pool import ShardPool, cluster_spec, open_cluster, shardable
from kmigrate.errors import KmigrateError, VerificationFailed

#: Seconds the verify may take to finish its round and save after being told to stop.
STOP_GRACE_S = 60.0


@dataclass
class BesideOutcome:
    """What the following verify beside the mirror saw, as journaled in the
    mirror's record (``verify``).

    Attributes:
        ended: ``stopped (mirror ended)``, ``failed`` (a difference or a log
            start passing unproven records), ``failed: <why>`` (a cluster
            could not be read), ``did not stop`` (killed after
            :data:`STOP_GRACE_S`), ``exited with code N`` or ``running``.
        rounds: rounds the verify made.
        proven_offsets: per topic, the source offset proven (summed over partitions).
        lag: per topic, records not yet proven (summed over partitions).
        difference: the difference or problem found, or None.
    """

    ended: str = "running"
    rounds: int = 0
    proven_offsets: dict[str, int] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)
    difference: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The journal form: the attributes as a plain dict."""
        return {
            "ended": self.ended,
            "rounds": self.rounds,
            "proven_offsets": self.proven_offsets,
            "lag": self.lag,
            "difference": self.difference,
        }

    def text(self) -> str:
        """``verify beside: 12,288 records proven, lag 212 records (stopped (mirror ended))``."""
        proven = sum(self.proven_offsets.values())
        lag = sum(self.lag.values())
        text = f"verify beside: source offsets proven {proven:,}, proof lag {lag:,} records"
        text += f" ({self.ended})"
        if self.difference:
            text += f"; DIFFERENCE: {self.difference}"
        return text


def _follow_reporting(
    source: Cluster,
    target: Cluster,
    topics: list[str],
    state_dir: Path,
    stop: Any,
    send: Callable[[dict[str, Any]], None],
) -> None:
    """Follow until ``stop`` (a threading or multiprocessing event) is set,
    sending each reported round and the end to ``send``."""
    from kmigrate.verify.follow import follow

    def report(last: Any) -> None:
        send({"proven_offsets": last.proven_offsets(), "lag": last.lag()})

    try:
        outcome = follow(
            source,
            target,
            topics,
            state_dir,
            until="stopped",
            stop=stop,
            stop_reason=lambda: "stopped (mirror ended)",
            report=report,
        )
    except VerificationFailed as exc:  # a difference, or a log start passed unproven records
        send({"ended": "failed", "difference": str(exc)})
        return
    except KmigrateError as exc:  # a cluster could not be read: no verdict
        send({"ended": f"failed: {exc}"})
        return
    send(
        {
            "ended": outcome.ended,
            "rounds": outcome.rounds,
            "proven_offsets": outcome.last.proven_offsets(),
            "lag": outcome.last.lag(),
        }
    )


def _beside_main(
    specs: tuple[dict[str, Any], dict[str, Any]],
    topics: list[str],
    state_dir: str,
    stop: Any,
    writer: Any,
) -> None:
    """The verify process: SIGTERM stops it cleanly (Ctrl-C stays the mirror's)."""
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    source, target = open_cluster(specs[0]), open_cluster(specs[1])
    try:
        _follow_reporting(source, target, topics, Path(state_dir), stop, writer.send)
    finally:
        writer.close()


class _Beside:
    """The running verify: its process (or thread) and the latest outcome."""

    def __init__(self) -> None:
        self.outcome = BesideOutcome()
        self._lock = threading.Lock()

    def take(self, message: dict[str, Any]) -> None:
        """Merge a message from the verify into :attr:`outcome`."""
        with self._lock:
            for key, value in message.items():
                setattr(self.outcome, key, value)

    def latest(self) -> BesideOutcome:
        """A copy of the outcome so far."""
        with self._lock:
            return BesideOutcome(**self.outcome.as_json())


@contextlib.contextmanager
def verify_beside(
    source: Cluster, target: Cluster, topics: list[str], state_dir: Path, on: bool = True
) -> Iterator[_Beside | None]:
    """While inside, a following verify of ``topics`` runs beside the copy
    (module docstring); on leaving, it is stopped and its last round taken.
    Yields None when ``on`` is false.  Its ``outcome`` (:class:`BesideOutcome`)
    is final after the ``with`` block."""
    if not on:
        yield None
        return
    beside = _Beside()
    if not shardable(source, target):
        tstop = threading.Event()
        thread = threading.Thread(
            target=_follow_reporting,
            args=(source, target, topics, state_dir, tstop, beside.take),
            name="kmigrate-verify-beside",
            daemon=True,
        )
        thread.start()
        try:
            yield beside
        finally:
            tstop.set()
            thread.join(STOP_GRACE_S)
            if thread.is_alive():
                beside.take({"ended": "did not stop"})
        return
    pool = ShardPool(1)
    stop = pool.mp.Event()
    reader, writer = pool.pipe()
    specs = (cluster_spec(source), cluster_spec(target))
    proc = pool.start(
        _beside_main,
        (specs, topics, str(state_dir), stop, writer),
        "kmigrate-verify-beside",
        hold_signals=True,
    )
    writer.close()

    def drain() -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                beside.take(reader.recv())

    drainer = threading.Thread(target=drain, name="kmigrate-verify-beside-reader", daemon=True)
    drainer.start()
    try:
        yield beside
    finally:
        stop.set()
        if proc.pid is not None and proc.is_alive():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()  # SIGTERM: finish the round, save the proof
        proc.join(STOP_GRACE_S)
        if proc.is_alive():
            proc.kill()
            proc.join()
            beside.take({"ended": "did not stop"})
        drainer.join(5)
        reader.close()
        if beside.outcome.ended == "running":  # it died before it could report
            beside.take({"ended": f"exited with code {proc.exitcode}"})

"""The journal: what each step did, recorded so rollback and resume can trust it.

One JSON file per plan, ``<state_dir>/journal.json``::

    {"version": 1, "plan": "sandbox-migration",
     "steps": {"2.1": {"phase": 2, "phase_name": "provision", "step": 1,
                       "description": "export-topics", "status": "succeeded",
                       "started_at": "…", "ended_at": "…", "by": "ops@host",
                       "attempts": 1, "record": {…}, "error": null}},
     "events": [{"at": "…", "by": "…", "event": "forced", …}]}

A step is written ``started`` before it touches a cluster and gets its outcome
(``succeeded``, ``failed``, ``rolled_back``, ``rollback_failed``) right after.
Every write replaces the file atomically (write, fsync, rename), so a crash
leaves either the old or the new journal, never a torn one.  One run at a time
holds ``<state_dir>/lock`` (an ``flock``, released by the OS if the process dies).

Secrets never enter the journal: steps record topic names, offsets, counts,
digests and file paths, never cluster configs.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kmigrate.errors import PlanError, RefusedError

STARTED, SUCCEEDED, FAILED = "started", "succeeded", "failed"
ROLLED_BACK, ROLLBACK_FAILED = "rolled_back", "rollback_failed"


def whoami() -> str:
    """``user@host`` of this process, for the journal's ``by`` fields."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def now_iso() -> str:
    """The current UTC time as ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Journal:
    """The journal of one plan, in ``state_dir``.

    Args:
        state_dir: the plan's state folder (created on first write).
        plan_name: the plan's ``name``, stored for humans.

    Raises:
        PlanError: an existing journal file is not valid JSON.
    """

    def __init__(self, state_dir: Path, plan_name: str) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "journal.json"
        self.data: dict[str, Any] = {"version": 1, "plan": plan_name, "steps": {}, "events": []}
        self.reload()

    def reload(self) -> None:
        """Read the journal file again (after taking the lock, another run may have written it).

        Raises:
            PlanError: the file is not valid JSON.
        """
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise PlanError(f"{self.path}: the journal cannot be read: {exc}") from None

    # -- reading ---------------------------------------------------------------

    def entry(self, step_id: str) -> dict[str, Any] | None:
        """The entry of step ``"P.S"`` (phase and step numbers from 1), or None."""
        entry = self.data["steps"].get(step_id)
        return entry if isinstance(entry, dict) else None

    def status(self, step_id: str) -> str | None:
        """The step's status, or None when it never ran."""
        entry = self.entry(step_id)
        return None if entry is None else str(entry["status"])

    def events(self) -> list[dict[str, Any]]:
        """Journaled events (overrides, rollbacks), oldest first."""
        return list(self.data["events"])

    # -- writing -----------------------------------------------------------------

    def save(self) -> None:
        """Write the journal atomically."""
        atomic_write(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    def start(
        self, step_id: str, phase: int, phase_name: str, step: int, description: str
    ) -> dict[str, Any]:
        """Record that a step starts; keeps the record of an earlier attempt.

        Returns the earlier attempt's record (empty when none), which a step
        uses to resume.
        """
        previous = self.entry(step_id) or {}
        rolled_back = previous.get("status") == ROLLED_BACK
        record = {} if rolled_back else (previous.get("record") or {})
        self.data["steps"][step_id] = {
            "phase": phase,
            "phase_name": phase_name,
            "step": step,
            "description": description,
            "status": STARTED,
            "started_at": now_iso(),
            "ended_at": None,
            "by": whoami(),
            "attempts": int(previous.get("attempts", 0)) + 1,
            "record": record,
            "error": None,
        }
        self.save()
        return dict(record)

    def checkpoint(self, step_id: str, record: dict[str, Any]) -> None:
        """Save a running step's record (what its rollback or resume needs so far)."""
        self.data["steps"][step_id]["record"] = record
        self.save()

    def finish(
        self, step_id: str, status: str, record: dict[str, Any], error: str | None = None
    ) -> None:
        """Record a step's outcome with its record and, on failure, the error."""
        entry = self.data["steps"][step_id]
        entry.update(status=status, ended_at=now_iso(), record=record, error=error)
        self.save()

    def rolled_back(self, step_id: str, undone: list[str], error: str | None = None) -> None:
        """Record a step's rollback: what was undone, and the error if it failed."""
        entry = self.data["steps"][step_id]
        entry.update(
            status=ROLLBACK_FAILED if error else ROLLED_BACK,
            rolled_back_at=now_iso(),
            rolled_back_by=whoami(),
            undone=undone,
            error=error,
        )
        self.save()

    def event(self, kind: str, **data: Any) -> None:
        """Append an event (an override such as ``--force``, a rollback) and save."""
        self.data["events"].append({"at": now_iso(), "by": whoami(), "event": kind, **data})
        self.save()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the plan's run lock.

        Raises:
            RefusedError: another run holds it; the message names its pid, user and start.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self.state_dir / "lock"
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise RefusedError(
                    f"another kmigrate run holds the lock on {self.state_dir} ({holder}); "
                    "wait for it to finish"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, {whoami()}, since {now_iso()}\n")
            handle.flush()
            yield
        finally:
            handle.close()

"""The journal: what each step did, recorded so rollback and resume can trust it.

One JSON file per plan, ``<state_dir>/journal.json`` (version 2), keyed by the
step's stable id (see :mod:`kmigrate.runtime.plan_walk`)::

    {"version": 2, "plan": "sandbox-migration",
     "steps": {"export-topics": {
         "id": "export-topics", "phase": "provision", "phase_number": 2,
         "action": "export-topics", "description": "export-topics",
         "definition": {"action": "export-topics", "output": "…", …},
         "definition_hash": "<sha256 hex>", "seq": 3,
         "status": "succeeded", "started_at": "…", "ended_at": "…",
         "by": "ops@host", "attempts": 1, "record": {…}, "error": null}},
     "events": [{"at": "…", "by": "…", "event": "forced", …}]}

``seq`` grows with every start, so entries sort newest first for rollback.
Version 1 journals (keys ``"P.S"``, by position) are read as they are and
migrated by :func:`kmigrate.runtime.journal.open_journal`.

A step is written ``started`` (with its definition) before it touches a
cluster and gets its outcome (``succeeded``, ``failed``, ``rolled_back``,
``rollback_failed``) right after.  Every write replaces the file atomically
(write, fsync, rename), so a crash leaves either the old or the new journal,
never a torn one; the version it replaces is kept as ``journal.json.prev``.
One run at a time holds ``<state_dir>/lock`` (an ``flock``, released by the OS
if the process dies).

Secrets never enter the journal: steps record topic names, offsets, counts,
digests and file paths, never cluster configs.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kmigrate.errors import JournalError, RefusedError

VERSION = 2
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
        JournalError: an existing journal file is not valid JSON or not a journal.
    """

    def __init__(self, state_dir: Path, plan_name: str) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "journal.json"
        self.prev_path = state_dir / "journal.json.prev"
        self.data: dict[str, Any] = {
            "version": VERSION,
            "plan": plan_name,
            "steps": {},
            "events": [],
        }
        self.reload()

    @property
    def version(self) -> int:
        """The file's format version: 2, or 1 for a journal not migrated yet."""
        return int(self.data.get("version", VERSION))

    def reload(self) -> None:
        """Read the journal file again (after taking the lock, another run may have written it).

        Raises:
            JournalError: the file is not valid JSON or not a kmigrate journal.
        """
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise self._corrupt(f"not valid JSON ({exc})") from None
        problem = _shape_problem(data)
        if problem:
            raise self._corrupt(problem)
        self.data = data

    def _corrupt(self, what: str) -> JournalError:
        kept = (
            f"; the previous good version is kept beside it as {self.prev_path} "
            f"(inspect it, and copy it over {self.path.name} to go back to it)"
            if self.prev_path.exists()
            else "; no previous version is kept beside it"
        )
        return JournalError(f"{self.path}: the journal cannot be read: {what}{kept}")

    # -- reading ---------------------------------------------------------------

    def entry(self, step_id: str) -> dict[str, Any] | None:
        """The entry of the step with this id, or None."""
        entry = self.data["steps"].get(step_id)
        return entry if isinstance(entry, dict) else None

    def status(self, step_id: str) -> str | None:
        """The step's status, or None when it never ran."""
        entry = self.entry(step_id)
        return None if entry is None else str(entry["status"])

    def ordered(self) -> list[tuple[str, dict[str, Any]]]:
        """``(step id, entry)`` pairs, oldest start first (by ``seq``, then ``started_at``)."""
        items = [(k, v) for k, v in self.data["steps"].items() if isinstance(v, dict)]
        return sorted(items, key=lambda kv: (kv[1].get("seq", 0), kv[1].get("started_at") or ""))

    def latest_succeeded(self, action: str) -> dict[str, Any] | None:
        """The entry of the most recently started succeeded step with ``action``, or None."""
        found = None
        for _, entry in self.ordered():
            if entry.get("action") == action and entry.get("status") == SUCCEEDED:
                found = entry
        return found

    def events(self) -> list[dict[str, Any]]:
        """Journaled events (overrides, rollbacks), oldest first."""
        return list(self.data["events"])

    # -- writing -----------------------------------------------------------------

    def save(self) -> None:
        """Write the journal atomically; the version it replaces becomes ``journal.json.prev``."""
        if self.path.exists():
            _keep_previous(self.path, self.prev_path)
        atomic_write(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    def start(
        self,
        step_id: str,
        phase: str,
        phase_number: int,
        description: str,
        *,
        action: str = "",
        definition: dict[str, Any] | None = None,
        definition_hash: str = "",
    ) -> dict[str, Any]:
        """Record that a step starts, with its definition; keeps the record of an earlier attempt.

        Args:
            step_id: the step's stable id.
            phase: the phase's name; ``phase_number`` its 1-based position now.
            definition: the step's canonical spec (what rollback rebuilds it from).

        Returns the earlier attempt's record (empty when none or rolled back),
        which a step uses to resume.
        """
        previous = self.entry(step_id) or {}
        rolled_back = previous.get("status") == ROLLED_BACK
        record = {} if rolled_back else (previous.get("record") or {})
        seq = 1 + max((int(e.get("seq", 0)) for _, e in self.ordered()), default=0)
        self.data["steps"][step_id] = {
            "id": step_id,
            "phase": phase,
            "phase_number": phase_number,
            "action": action,
            "description": description,
            "definition": definition or {},
            "definition_hash": definition_hash,
            "seq": seq,
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


def lock_holder(state_dir: Path) -> str | None:
    """Who holds the run lock of ``state_dir`` now (``pid 123, ops@host, since
    2026-…``, as :meth:`Journal.lock` wrote it), or None when no run holds it.

    Read-only: creates nothing, and releases at once a lock it could take.
    """
    lock_path = state_dir / "lock"
    try:
        handle = open(lock_path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _keep_previous(path: Path, prev: Path) -> None:
    """Make ``prev`` the current content of ``path`` (a hard link: no copy), atomically."""
    tmp = prev.with_name(f".{prev.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copyfile(path, tmp)
    os.replace(tmp, prev)


def _shape_problem(data: Any) -> str | None:
    """What makes ``data`` not a kmigrate journal, or None."""
    if not isinstance(data, dict):
        return f"expected a JSON object; found {type(data).__name__}"
    version = data.get("version")
    if version not in (1, VERSION):
        return f"expected version 1 or {VERSION}; found {version!r}"
    if not isinstance(data.get("steps"), dict):
        return "expected 'steps' to be an object"
    if not isinstance(data.get("events"), list):
        return "expected 'events' to be a list"
    bad = [k for k, v in data["steps"].items() if not isinstance(v, dict) or "status" not in v]
    if bad:
        return f"entries without a status: {', '.join(map(str, bad[:5]))}"
    return None

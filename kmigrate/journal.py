"""The journal: what each step did, recorded so rollback and resume can trust it.

One JSON file per plan, ``<state_dir>/journal.json`` (version 2), keyed by the
step's stable id (see :mod:`kmigrate.plan.identity`)::

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

The journal is trusted only when intact (rollback runs what it recorded):

* ``state_dir`` must be the current user's and not writable by group or others
  (:func:`kmigrate.safefs.private_dir`; ``--allow-shared-state`` overrides it,
  journaled);
* each entry's ``definition`` must hash to its ``definition_hash``;
* the file's SHA-256 must be one kmigrate wrote: ``journal.json.sha256`` beside
  it lists the hashes of the current and the previous version (``sha256sum``
  format), written before the journal itself so a crash between the two
  writes leaves a journal that still matches.

A journal that fails a check is refused (:class:`~kmigrate.errors.JournalError`,
exit 1) naming the entry or the file.  No file here is written through a
symlink (:mod:`kmigrate.safefs`).

Secrets never enter the journal: steps record topic names, offsets, counts,
digests and file paths, never cluster configs.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kmigrate import safefs
from kmigrate.errors import JournalError, RefusedError
from kmigrate.safefs import atomic_write

__all__ = ["Journal", "atomic_write", "now_iso", "whoami"]

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


class Journal:
    """The journal of one plan, in ``state_dir``.

    Args:
        state_dir: the plan's state folder (created 0700 on first write).
        plan_name: the plan's ``name``, stored for humans.
        allow_shared_state: accept a state folder another user owns or may
            write (``--allow-shared-state``); :attr:`shared` then says why it
            is shared, for the caller to journal.

    Raises:
        kmigrate.safefs.SharedStateError: the state folder is not private (exit 2).
        JournalError: an existing journal file is not valid JSON, not a
            journal, or not intact (see the module docstring).
    """

    def __init__(
        self, state_dir: Path, plan_name: str, *, allow_shared_state: bool = False
    ) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "journal.json"
        self.prev_path = state_dir / "journal.json.prev"
        self.sum_path = state_dir / "journal.json.sha256"
        self.allow_shared_state = allow_shared_state
        #: Why the state folder is shared, when ``allow_shared_state`` let it pass.
        self.shared: str | None = None
        #: SHA-256 hex of the journal file as last read or written.
        self._digest: str | None = None
        if os.path.lexists(state_dir):
            self._check_folder()
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
            raw = self.path.read_bytes()
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise self._corrupt(f"not valid JSON ({exc})") from None
        problem = _shape_problem(data)
        if problem:
            raise self._corrupt(problem)
        digest = hashlib.sha256(raw).hexdigest()
        self._check_digest(digest, data)
        tampered = _tampered_entries(data)
        if tampered:
            raise JournalError(
                f"{self.path}: refused: the recorded definition of "
                + ", ".join(f"entry {sid!r}" for sid in tampered)
                + " does not match its definition_hash: it was changed outside kmigrate, "
                "and rollback would run what it now says. Find out who changed it; restore "
                f"the journal from a copy you trust ({self.prev_path.name} is the previous version)"
            )
        self.data = data
        self._digest = digest

    def _check_folder(self) -> None:
        """Refuse a state folder another user owns or may write (unless allowed)."""
        if safefs.private_dir(self.state_dir, allow_shared=self.allow_shared_state):
            self.shared = safefs.dir_problem(self.state_dir)

    def _check_digest(self, digest: str, data: dict[str, Any]) -> None:
        """Refuse a journal file whose SHA-256 is not one kmigrate recorded beside it.

        The message names the entries that differ from the previous version
        (``journal.json.prev``), where one is kept: those were changed last.
        """
        if not self.sum_path.exists():
            return  # written by a kmigrate that kept no checksum: nothing to compare yet
        try:
            known = {
                line.split()[0] for line in self.sum_path.read_text("utf-8").splitlines() if line
            }
        except (OSError, ValueError, IndexError):
            known = set()
        if digest in known:
            return
        changed = ""
        try:
            before = json.loads(self.prev_path.read_text("utf-8"))["steps"]
            ids = sorted(
                str(k)
                for k in set(before) | set(data["steps"])
                if before.get(k) != data["steps"].get(k)
            )
            if ids:
                changed = "; entries that differ from the previous version: " + ", ".join(
                    repr(i) for i in ids
                )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        raise JournalError(
            f"{self.path}: refused: the journal was changed outside kmigrate (its SHA-256 "
            f"is not one recorded in {self.sum_path.name}){changed}; rollback would run what "
            "it now says. Find out who changed it; restore the journal from a copy you trust"
        )

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
        """Write the journal atomically; the version it replaces becomes ``journal.json.prev``.

        The checksum file is written first, listing the new and the current
        version, so the journal matches it whenever a crash interrupts.
        """
        self._check_folder()
        text = (json.dumps(self.data, indent=2, sort_keys=True) + "\n").encode("utf-8")
        digest = hashlib.sha256(text).hexdigest()
        exists = self.path.exists()
        if exists and self._digest is None:
            self._digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        sums = f"{digest}  {self.path.name}\n"
        if exists:
            sums += f"{self._digest}  {self.prev_path.name}\n"
        atomic_write(self.sum_path, sums)
        if exists:
            safefs.keep_copy(self.path, self.prev_path)
        atomic_write(self.path, text)
        self._digest = digest

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
        self._check_folder()
        lock_path = self.state_dir / "lock"
        handle = safefs.open_lock(lock_path)
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


def _tampered_entries(data: dict[str, Any]) -> list[str]:
    """Ids of entries whose recorded ``definition`` does not hash to their ``definition_hash``.

    Entries without a definition (version 1, or written before definitions
    were recorded) have nothing to check.
    """
    from kmigrate.plan.identity import definition_hash  # imports the plan schema

    bad = []
    for sid, entry in data["steps"].items():
        definition = entry.get("definition")
        if not definition:
            continue
        if not isinstance(definition, dict) or entry.get("definition_hash") != definition_hash(
            definition
        ):
            bad.append(str(sid))
    return bad


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

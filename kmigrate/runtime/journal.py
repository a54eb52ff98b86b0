"""Open a plan's journal, migrating a version 1 journal to step ids.

Version 1 keyed entries by position (``"2.1"``: phase 2, step 1).  An entry
can be carried over only when the plan still has, at that position, the step
it describes; then it is keyed by that step's id and given its definition.  A
copy of the version 1 file is kept as ``journal.v1.json``.
"""

from __future__ import annotations

import re
from typing import Any

from kmigrate import safefs
from kmigrate.errors import RefusedError
from kmigrate.journal import VERSION, Journal
from kmigrate.plan import LoadedPlan
from kmigrate.plan.identity import PlannedStep, walk

_POSITION = re.compile(r"^(\d+)\.(\d+)$")


def open_journal(plan: LoadedPlan, *, allow_shared_state: bool = False) -> Journal:
    """The plan's journal, migrated to version 2 when it is version 1.

    ``allow_shared_state``: accept a state folder another user owns or may
    write (``--allow-shared-state``; the runner journals it).

    Raises:
        kmigrate.safefs.SharedStateError: the state folder is not private (exit 2).
        kmigrate.errors.JournalError: the file cannot be read (exit 1).
        RefusedError: a version 1 journal has entries that match no plan step
            at their position (the message names them), or another run holds the lock.
    """
    journal = Journal(plan.state_dir, plan.model.name, allow_shared_state=allow_shared_state)
    if journal.version == 1:
        with journal.lock():
            journal.reload()
            if journal.version == 1:
                migrate_v1(journal, walk(plan.model), str(plan.path))
    return journal


def migrate_v1(journal: Journal, steps: list[PlannedStep], plan_path: str = "the plan") -> None:
    """Re-key a version 1 journal by step id, keeping ``journal.v1.json`` as a backup.

    Raises:
        RefusedError: an entry's position holds no step, or a step with
            another description; nothing is changed then.
    """
    at = {(s.phase_number, s.position): s for s in steps}
    migrated: dict[str, dict[str, Any]] = {}
    unmatched: list[str] = []
    old = journal.data["steps"]

    def order(key: str) -> tuple[int, int]:
        m = _POSITION.match(key)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    for seq, key in enumerate(sorted(old, key=order), start=1):
        entry = old[key]
        m = _POSITION.match(key)
        step = at.get((int(m.group(1)), int(m.group(2)))) if m else None
        described = entry.get("description")
        if step is None or step.description != described:
            now = f"the plan has {step.description!r} there" if step else "no step there now"
            unmatched.append(f"{key} {described!r} ({now})")
            continue
        migrated[step.id] = {
            **{k: v for k, v in entry.items() if k not in ("phase_name", "step")},
            "id": step.id,
            "phase": step.phase,
            "phase_number": step.phase_number,
            "action": step.action,
            "definition": step.definition,
            "definition_hash": step.definition_hash,
            "seq": seq,
            "migrated_from": key,
        }
    if unmatched:
        raise RefusedError(
            f"{journal.path} is a version 1 journal (steps keyed by position) and these "
            f"entries do not match the step of {plan_path} at that position: "
            + "; ".join(unmatched)
            + ". Nothing was changed. Run any kmigrate command once with the plan as it "
            "was when those steps ran (it migrates the journal), then edit the plan"
        )
    safefs.keep_copy(journal.path, journal.path.with_name("journal.v1.json"))
    journal.data["steps"] = migrated
    journal.data["version"] = VERSION
    journal.event("migrated-journal", from_version=1, steps=sorted(migrated))

"""``kmigrate status PLAN``: the journal, step by step (by stable step id)."""

from __future__ import annotations

import json
from typing import Any

from kmigrate.journal import Journal, lock_holder
from kmigrate.offsets.map import OffsetMap
from kmigrate.plan import LoadedPlan, load_plan
from kmigrate.plan.identity import diff_definitions, walk
from kmigrate.runtime.journal import open_journal
from kmigrate.steps import read_record
from kmigrate.steps.mirror import MirrorRecord
from kmigrate.ui import UI


def summarize(action: str, record: dict[str, Any] | None) -> str:
    """A short human summary of a step record, read as the record type of its
    journaled ``action`` (:func:`kmigrate.steps.read_record`); ``-`` for none,
    the start of its JSON for one that type cannot read."""
    if not record:
        return "-"
    typed = read_record(action, record)
    if typed is not None:
        return typed.summary()
    return json.dumps(record)[:60]


def step_rows(plan: LoadedPlan, journal: Journal) -> list[dict[str, Any]]:
    """One dict per plan step, in plan order, then one per orphaned journal entry.

    Keys: ``step`` and ``id`` (the stable step id), ``phase`` (name),
    ``phase_number``, ``action``, ``description``, ``status`` (None when never
    run), ``started_at``, ``ended_at``, ``by``, ``attempts``, ``error``,
    ``record``, ``rolled_back_at``, ``rolled_back_by``, ``undone``,
    ``definition`` (as journaled when it last started; None if never run),
    ``definition_changed`` (the plan's definition differs from the one
    journaled when it ran), ``changes`` (``key: old -> new`` strings) and
    ``orphaned`` (journaled, but no longer in the plan; rollback still undoes it)
    and ``ended`` (a mirror step's end: ``snapshot complete``, ``caught up``,
    ``stopped by operator``, ``max_duration reached``, ``failed``; None for
    other steps and a mirror that is running or never ran).
    """
    rows = []
    planned = walk(plan.model)
    for step in planned:
        entry = journal.entry(step.id) or {}
        changes = (
            diff_definitions(entry.get("definition") or {}, step.definition)
            if entry and entry.get("definition_hash") != step.definition_hash
            else []
        )
        rows.append(
            _row(
                step.id,
                step.phase,
                step.phase_number,
                step.action,
                step.description,
                entry,
                changes,
                orphaned=False,
            )
        )
    known = {s.id for s in planned}
    for step_id, entry in journal.ordered():
        if step_id not in known:
            rows.append(
                _row(
                    step_id,
                    str(entry.get("phase")),
                    int(entry.get("phase_number") or 0),
                    str(entry.get("action") or ""),
                    str(entry.get("description") or ""),
                    entry,
                    [],
                    orphaned=True,
                )
            )
    return rows


def _row(
    step_id: str,
    phase: str,
    phase_number: int,
    action: str,
    description: str,
    entry: dict[str, Any],
    changes: list[str],
    *,
    orphaned: bool,
) -> dict[str, Any]:
    return {
        "ended": mirror_end(action, entry),
        "step": step_id,
        "id": step_id,
        "phase": phase,
        "phase_number": phase_number,
        "action": action,
        "description": description,
        "status": entry.get("status"),
        "started_at": entry.get("started_at"),
        "ended_at": entry.get("ended_at"),
        "by": entry.get("by"),
        "attempts": entry.get("attempts", 0),
        "error": entry.get("error"),
        "record": entry.get("record"),
        "rolled_back_at": entry.get("rolled_back_at"),
        "rolled_back_by": entry.get("rolled_back_by"),
        "undone": entry.get("undone"),
        "definition": entry.get("definition"),
        "definition_changed": bool(changes),
        "changes": changes,
        "orphaned": orphaned,
    }


def mirror_end(action: str, entry: dict[str, Any]) -> str | None:
    """How a journaled mirror step ended (see :func:`step_rows`' ``ended``)."""
    if action != "mirror" or not entry:
        return None
    if entry.get("status") == "failed":
        return "failed"
    if entry.get("status") != "succeeded":
        return None
    mirrored = read_record(action, entry.get("record"))
    return mirrored.end if isinstance(mirrored, MirrorRecord) else None


def identity_notes(rows: list[dict[str, Any]]) -> list[str]:
    """Warnings for orphaned steps and steps whose definition changed since they ran."""
    notes = []
    for r in rows:
        if r["orphaned"]:
            notes.append(
                f"step {r['id']} ({r['description'][:60]}) is in the journal "
                f"({r['status']}) but no longer in the plan; rollback still undoes it "
                "from its recorded definition"
            )
        elif r["definition_changed"]:
            notes.append(
                f"step {r['id']} changed since it ran: "
                + "; ".join(r["changes"])
                + (
                    f" (execute refuses it unless --rerun {r['id']})"
                    if r["status"] == "succeeded"
                    else ""
                )
            )
    return notes


def status(plan_path: str, ui: UI, *, allow_shared_state: bool = False) -> int:
    """Print the journal of a plan.  Returns 0.

    ``allow_shared_state``: read a state folder another user owns or may write.

    Raises:
        kmigrate.errors.PlanError: invalid plan or unreadable journal.
    """
    plan = load_plan(plan_path)
    journal = open_journal(plan, allow_shared_state=allow_shared_state)
    rows = step_rows(plan, journal)
    # A step left "started" is running while another run holds the lock,
    # interrupted otherwise.
    holder = lock_holder(plan.state_dir)
    for r in rows:
        r["running"] = bool(holder) and r["status"] == "started"
    ui.line(f"plan {plan.model.name} ({plan.path}); journal {journal.path}")
    if holder:
        ui.line(f"a run holds the lock now: {holder}")
    ui.table(
        [
            [
                r["step"],
                r["phase"],
                r["description"][:50],
                ("running" if r["running"] else (r["status"] or "not run"))
                + (f" ({r['ended']})" if r["ended"] and r["ended"] != r["status"] else "")
                + (" (orphaned)" if r["orphaned"] else "")
                + (" (changed)" if r["definition_changed"] else ""),
                r["rolled_back_at"] or r["ended_at"] or r["started_at"] or "-",
                r["rolled_back_by"] or r["by"] or "-",
                summarize(r["action"], r["record"]),
            ]
            for r in rows
        ],
        ["step", "phase", "description", "status", "when", "by", "recorded"],
    )
    for r in rows:
        if r["running"]:
            ui.line(f"step {r['step']} is running: {holder}")
        elif r["status"] == "started":
            ui.warn(
                f"step {r['step']} was left 'started' (interrupted); "
                "execute runs it again from what it recorded"
            )
        if r["error"]:
            ui.line(f"step {r['step']} error: {r['error']}")
    for note in identity_notes(rows):
        ui.warn(note)
    events = journal.events()
    if events:
        ui.line("events:")
        ui.table(
            [
                [
                    e["at"],
                    e["by"],
                    e["event"],
                    ", ".join(f"{k}={v}" for k, v in e.items() if k not in ("at", "by", "event")),
                ]
                for e in events
            ],
            ["when", "by", "event", "detail"],
        )
    offset_map = offset_map_status(plan, ui)
    ui.emit_json(
        {
            "plan": plan.model.name,
            "journal": str(journal.path),
            "lock": holder,
            "steps": rows,
            "events": events,
            "offset_map": offset_map,
        }
    )
    return 0


def offset_map_status(plan: LoadedPlan, ui: UI) -> dict[str, Any] | None:
    """Print a one-line summary of the plan's offset map; return its runs (JSON), or None.

    Raises:
        kmigrate.errors.StepFailed: the map file is damaged.
    """
    omap = OffsetMap.load(plan.state_dir)
    if not omap.partitions():
        return None
    ui.line(f"offset map {omap.path}: {omap.summary()}")
    return omap.as_json()

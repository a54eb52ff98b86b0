"""``kmigrate status PLAN``: the journal, step by step."""

from __future__ import annotations

import json
from typing import Any

from kmigrate.journal import Journal
from kmigrate.offsets.map import OffsetMap
from kmigrate.plan import LoadedPlan, load_plan
from kmigrate.plan.schema import describe_step
from kmigrate.steps.mirror import MirrorRecord
from kmigrate.ui import UI


def summarize(record: dict[str, Any] | None) -> str:
    """A short human summary of a step record."""
    if not record:
        return "-"
    mirrored = MirrorRecord.from_json(record)
    if mirrored is not None:
        return mirrored.summary()
    if "partitions" in record and isinstance(record["partitions"], list):
        n = sum(p.get("records", 0) for p in record["partitions"])
        return f"{len(record['partitions'])} partitions, {n:,} records"
    if "created" in record:
        return f"created {len(record['created'])}, existing {len(record.get('existing', []))}"
    if "mismatched" in record:
        return f"{record['matched']} matched, {record['mismatched']} mismatched"
    if isinstance(record.get("groups"), list):
        by: dict[str, int] = {}
        for g in record["groups"]:
            by[str(g.get("status"))] = by.get(str(g.get("status")), 0) + 1
        return f"{len(record['groups'])} groups: " + ", ".join(f"{n} {s}" for s, n in by.items())
    if "topics_differing" in record:
        return f"{record['topics']} topics, {record['topics_differing']} differing"
    if "exit_code" in record:
        return f"exit code {record['exit_code']}"
    if "confirmed_by" in record:
        return f"confirmed by {record['confirmed_by']}"
    if "output" in record:
        return f"{len(record.get('topics', []))} topics -> {record['output']}"
    if "source" in record and isinstance(record["source"], dict):
        return ", ".join(f"{k}: {v.get('broker_count')} brokers" for k, v in record.items())
    return json.dumps(record)[:60]


def step_rows(plan: LoadedPlan, journal: Journal) -> list[dict[str, Any]]:
    """One dict per plan step with its journal state (``status`` None when never run)."""
    rows = []
    for p, phase in enumerate(plan.model.phases):
        for s, spec in enumerate(phase.steps):
            step_id = f"{p + 1}.{s + 1}"
            entry = journal.entry(step_id) or {}
            rows.append(
                {
                    "step": step_id,
                    "phase": phase.name,
                    "description": describe_step(spec),
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
                }
            )
    return rows


def status(plan_path: str, ui: UI) -> int:
    """Print the journal of a plan.  Returns 0.

    Raises:
        kmigrate.errors.PlanError: invalid plan or unreadable journal.
    """
    plan = load_plan(plan_path)
    journal = Journal(plan.state_dir, plan.model.name)
    rows = step_rows(plan, journal)
    ui.line(f"plan {plan.model.name} ({plan.path}); journal {journal.path}")
    ui.table(
        [
            [
                r["step"],
                r["phase"],
                r["description"][:50],
                r["status"] or "not run",
                r["rolled_back_at"] or r["ended_at"] or r["started_at"] or "-",
                r["rolled_back_by"] or r["by"] or "-",
                summarize(r["record"]),
            ]
            for r in rows
        ],
        ["step", "phase", "description", "status", "when", "by", "recorded"],
    )
    for r in rows:
        if r["status"] == "started":
            ui.warn(
                f"step {r['step']} was left 'started' (interrupted); "
                "execute runs it again from what it recorded"
            )
        if r["error"]:
            ui.line(f"step {r['step']} error: {r['error']}")
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

"""``kmigrate rollback PLAN [--phase N] [--dry-run]``: undo what kmigrate did."""

from __future__ import annotations

from collections.abc import Mapping

from kmigrate.context import plan_context
from kmigrate.errors import KmigrateError, PartialRollback, RefusedError
from kmigrate.journal import FAILED, ROLLBACK_FAILED, STARTED, SUCCEEDED, Journal
from kmigrate.plan import load_plan
from kmigrate.steps import build_step
from kmigrate.ui import UI

#: Statuses whose step may have changed something, so rollback visits them.
UNDOABLE = (SUCCEEDED, FAILED, STARTED, ROLLBACK_FAILED)


def rollback(
    plan_path: str,
    ui: UI,
    *,
    phase: str | None = None,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Undo journaled steps in reverse order, from their records.

    Only what the journal says kmigrate did is undone: topics it created are
    deleted, pre-existing ones are left alone, the source is never touched.
    Manual rollback texts are shown for confirmation; shell rollback commands run.

    Args:
        phase: only this phase (number or name); later phases must be rolled back first.
        dry_run: show the exact reverse actions; change nothing.

    Raises:
        RefusedError: a later phase still has steps to undo, or another run holds the lock.
        StepFailed: a rollback action failed (the steps after it are not undone).
    """
    plan = load_plan(plan_path)
    journal = Journal(plan.state_dir, plan.model.name)
    phases = range(len(plan.model.phases))
    if phase is not None:
        chosen = plan.phase_index(phase)
        later = [
            f"{p + 1}.{s + 1}"
            for p in phases
            if p > chosen
            for s in range(len(plan.model.phases[p].steps))
            if journal.status(f"{p + 1}.{s + 1}") in UNDOABLE
        ]
        if later:
            raise RefusedError(
                f"refused to roll back phase {chosen + 1} while later steps are "
                f"still in place: {', '.join(later)}; roll those back first"
            )
        phases = range(chosen, chosen + 1)
    todo = [
        (p, s)
        for p in phases
        for s in range(len(plan.model.phases[p].steps))
        if journal.status(f"{p + 1}.{s + 1}") in UNDOABLE
    ]
    todo.reverse()
    if not todo:
        ui.line("nothing to roll back: the journal records no step that changed anything")
        return 0
    ctx = plan_context(plan, ui, journal, dry_run=dry_run, environ=environ)
    ui.heading("rollback (dry run: nothing will change)" if dry_run else "rollback")

    def undo_all() -> None:
        for p, s in todo:
            step_id = f"{p + 1}.{s + 1}"
            entry = journal.entry(step_id) or {}
            step = build_step(plan.model.phases[p].steps[s])
            ui.heading(f"undo step {step_id}: {step.describe()} ({entry.get('status')})")
            ctx.step_id = step_id
            try:
                lines = step.rollback(ctx, entry.get("record") or {})
            except KmigrateError as exc:
                undone = exc.undone if isinstance(exc, PartialRollback) else []
                for line in undone:
                    ui.line(f"  {line}")
                if not dry_run:
                    journal.rolled_back(step_id, undone, str(exc))
                raise
            for line in lines or ["nothing to undo"]:
                ui.line(f"  {line}")
            if not dry_run:
                journal.rolled_back(step_id, lines)

    if dry_run:
        undo_all()
        return 0
    with journal.lock():
        journal.reload()
        journal.event("rollback", phase=None if phase is None else phases[0] + 1)
        undo_all()
    ui.ok("rollback complete")
    return 0

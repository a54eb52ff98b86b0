"""``kmigrate rollback PLAN [--phase N] [--dry-run]``: undo what kmigrate did."""

from __future__ import annotations

from collections.abc import Mapping

from kmigrate.plan import load_plan
from kmigrate.runtime.runner import UNDOABLE, Runner
from kmigrate.ui import UI

__all__ = ["UNDOABLE", "rollback"]


def rollback(
    plan_path: str,
    ui: UI,
    *,
    phase: str | None = None,
    dry_run: bool = False,
    use_plan_rollback: bool = False,
    environ: Mapping[str, str] | None = None,
    allow_shared_state: bool = False,
) -> int:
    """Undo journaled steps, newest first, from what they recorded when they ran.

    Only what the journal says kmigrate did is undone: topics it created are
    deleted, pre-existing ones are left alone, the source is never touched.
    Steps no longer in the plan are rebuilt from their journaled definition.
    Manual rollback texts are shown for confirmation; shell rollback commands run.
    When the plan's rollback command or text differs from the one recorded,
    both are shown and the recorded one is used.

    Args:
        phase: only the steps journaled under this phase (number or name);
            later phases must be rolled back first.
        dry_run: show the exact reverse actions; change nothing.
        use_plan_rollback: use the plan's rollback command/text instead of the
            recorded one (journaled).
        allow_shared_state: accept a state folder another user owns or may
            write (journaled); without it such a folder is refused (exit 2).

    A shell rollback command recorded in the journal but not in the plan is
    shown and asked about even with ``--yes`` (``ui.assume_yes_recorded``,
    ``--yes-recorded-commands``, answers it).

    Raises:
        kmigrate.errors.RefusedError: a later phase still has steps to undo, or
            another run holds the lock.
        kmigrate.errors.StepFailed: a rollback action failed (the steps after it
            are not undone).
    """
    plan = load_plan(plan_path)
    runner = Runner(
        plan, ui, dry_run=dry_run, environ=environ, allow_shared_state=allow_shared_state
    )
    return runner.rollback(phase, use_plan_rollback=use_plan_rollback)

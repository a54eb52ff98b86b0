"""``kmigrate rollback PLAN [--phase N] [--dry-run] [--yes]``: undo what kmigrate did."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmigrate.errors import RefusedError, UsageError
from kmigrate.plan import load_plan
from kmigrate.runtime.runner import UNDOABLE, Runner
from kmigrate.steps import read_record
from kmigrate.steps.provision_topics import ProvisionRecord
from kmigrate.steps.translate_offsets import TranslateOffsetsRecord
from kmigrate.ui import UI

__all__ = ["UNDOABLE", "destructive_actions", "rollback"]


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

    A real rollback that deletes target topics or consumer groups, restores
    group offsets or runs shell rollback commands (:func:`destructive_actions`)
    first shows what it will do (its dry run) and asks, unless ``--yes``
    (``ui.assume_yes``).

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
        UsageError: it would change the target or run commands, and no one can
            confirm (stdin is not a terminal) and ``--yes`` was not given (exit 2).
        kmigrate.errors.RefusedError: the operator did not confirm; a later
            phase still has steps to undo; or another run holds the lock.
        kmigrate.errors.StepFailed: a rollback action failed (the steps after it
            are not undone).
    """
    plan = load_plan(plan_path)
    runner = Runner(
        plan, ui, dry_run=dry_run, environ=environ, allow_shared_state=allow_shared_state
    )
    if not dry_run and not ui.assume_yes:
        actions = destructive_actions(runner.journal.ordered(), phase)
        if actions:
            _ask(plan_path, ui, actions, phase, use_plan_rollback, environ)
    return runner.rollback(phase, use_plan_rollback=use_plan_rollback)


def destructive_actions(entries: list[tuple[str, dict[str, Any]]], phase: str | None) -> list[str]:
    """What undoing these journal entries would change outside kmigrate's
    state: one line per step that deletes target topics, deletes or restores
    consumer groups, or runs a shell rollback command.  ``phase``: only entries
    journaled under this phase (its name or number), as ``rollback --phase``.
    """
    out = []
    for sid, entry in entries:
        if entry.get("status") not in UNDOABLE:
            continue
        if phase is not None and phase not in (
            str(entry.get("phase")),
            str(entry.get("phase_number")),
        ):
            continue
        record = entry.get("record") or {}
        definition = entry.get("definition") or {}
        action = entry.get("action") or definition.get("action")
        typed = read_record(str(action), record)
        if isinstance(typed, ProvisionRecord):
            topics = typed.ours()
            if topics:
                out.append(f"step {sid}: deletes target topics {', '.join(topics)}")
        elif isinstance(typed, TranslateOffsetsRecord):
            groups = typed.group_names()
            if groups:
                out.append(
                    f"step {sid}: deletes or restores consumer groups {', '.join(groups)} "
                    "on the target"
                )
        elif definition.get("shell") is not None and definition.get("rollback"):
            out.append(f"step {sid}: runs {definition['rollback']}")
    return out


def _ask(
    plan_path: str,
    ui: UI,
    actions: list[str],
    phase: str | None,
    use_plan_rollback: bool,
    environ: Mapping[str, str] | None,
) -> None:
    """Show what the rollback will do and ask; refuse when no one can answer."""
    if not ui.interactive:
        raise UsageError(
            "refused to roll back without confirmation: it would change the target or run "
            "commands (" + "; ".join(actions) + "), and stdin is not a terminal; run "
            f"`kmigrate rollback {plan_path} --dry-run` to see every action, then add --yes"
        )
    # The dry run through the same code shows every reverse action.
    Runner(load_plan(plan_path), ui, dry_run=True, environ=environ).rollback(
        phase, use_plan_rollback=use_plan_rollback
    )
    ui.line("")
    ui.line("this rollback will:")
    for action in actions:
        ui.line(f"  {action}")
    if not ui.confirm("Roll back as shown above?"):
        raise RefusedError("rollback not confirmed: nothing was changed")

"""``kmigrate execute PLAN --phase N``: run one phase, journaled and resumable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from kmigrate.plan import load_plan
from kmigrate.preflight import check_plan_outputs
from kmigrate.runtime.runner import Runner
from kmigrate.steps.mirror_mm2 import planned_mm2_steps
from kmigrate.ui import UI


def execute(
    plan_path: str,
    phase: str,
    ui: UI,
    *,
    force: bool = False,
    ignore_window: bool = False,
    dry_run: bool = False,
    rerun: Sequence[str] = (),
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
    allow_shared_state: bool = False,
) -> int:
    """Run the steps of one phase that need running, in order (see :mod:`kmigrate.runtime.runner`).

    A step that never ran runs; one that succeeded with the same definition is
    skipped; one whose definition changed since it succeeded is refused unless
    ``rerun`` names it.

    Args:
        phase: 1-based number or name.
        force: run although an earlier phase is incomplete (journaled).
        ignore_window: run outside the phase's window (journaled).
        dry_run: go through the steps describing writes; the journal is not written.
        rerun: step ids of this phase to run again although they succeeded (journaled).
        now: the time to check the window against (default: now, UTC).
        allow_shared_state: accept a state folder another user owns or may
            write (journaled); without it such a folder is refused (exit 2).

    Returns 0 when every step succeeded.

    Raises:
        kmigrate.errors.UsageError: no such phase, or a ``rerun`` id not in the phase (exit 2).
        kmigrate.errors.RefusedError: a gate is closed: an earlier phase is
            incomplete, the window is closed, a ``requires:`` does not hold, a
            step's definition changed, or another run holds the lock.
        kmigrate.errors.StepFailed: a step failed (the journal says which).
    """
    plan = load_plan(plan_path)
    # Before any step: nothing runs only to fail at its write.
    check_plan_outputs(plan, plan.phase_index(phase))
    planned_mm2_steps(plan, plan.phase_index(phase))  # file:line before any connector
    runner = Runner(
        plan, ui, dry_run=dry_run, environ=environ, allow_shared_state=allow_shared_state
    )
    return runner.execute(
        phase, force=force, ignore_window=ignore_window, rerun=tuple(rerun), now=now
    )

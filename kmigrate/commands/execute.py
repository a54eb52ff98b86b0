"""``kmigrate execute PLAN --phase N``: run one phase, journaled and resumable."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime

from kmigrate import window as windows
from kmigrate.context import plan_context
from kmigrate.errors import RefusedError
from kmigrate.journal import FAILED, SUCCEEDED, Journal
from kmigrate.plan import LoadedPlan, load_plan
from kmigrate.plan.schema import describe_step
from kmigrate.preflight import check_plan_outputs
from kmigrate.steps import build_step
from kmigrate.ui import UI


def incomplete_before(plan: LoadedPlan, journal: Journal, phase_index: int) -> list[str]:
    """Steps of earlier phases that have not succeeded, as ``"P.S description (status)"``."""
    out = []
    for p, phase in enumerate(plan.model.phases[:phase_index]):
        for s, spec in enumerate(phase.steps):
            step_id = f"{p + 1}.{s + 1}"
            status = journal.status(step_id)
            if status != SUCCEEDED:
                out.append(f"{step_id} {describe_step(spec)} ({status or 'not run'})")
    return out


def execute(
    plan_path: str,
    phase: str,
    ui: UI,
    *,
    force: bool = False,
    ignore_window: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run every not-yet-succeeded step of one phase, in order.

    Args:
        phase: 1-based number or name.
        force: run although an earlier phase is incomplete (journaled).
        ignore_window: run outside the phase's window (journaled).
        dry_run: go through the steps describing writes; the journal is not written.
        now: the time to check the window against (default: now, UTC).

    Returns 0 when every step succeeded.

    Raises:
        RefusedError: an earlier phase is incomplete, the window is closed, or
            another run holds the lock.
        kmigrate.errors.StepFailed: a step failed (the journal says which).
    """
    plan = load_plan(plan_path)
    index = plan.phase_index(phase)
    check_plan_outputs(plan, index)  # before any step: nothing runs only to fail at its write
    spec = plan.model.phases[index]
    journal = Journal(plan.state_dir, plan.model.name)
    label = f"phase {index + 1} ({spec.name})"
    moment = now or datetime.now(UTC)
    window_closed = spec.window is not None and not windows.inside(spec.window, moment)
    where = windows.describe(spec.window) if spec.window is not None else ""
    window_refusal = (
        f"refused to run {label} outside its window {where}; now is "
        f"{moment.astimezone(UTC):%a %Y-%m-%d %H:%M} UTC "
        "(--ignore-window overrides, and is journaled)"
        if window_closed
        else None
    )
    if dry_run:
        order_refusal = _order_refusal(label, incomplete_before(plan, journal, index))
        for refusal, overridden in ((order_refusal, force), (window_refusal, ignore_window)):
            if refusal and not overridden:
                ui.warn(f"a real run would be {refusal}")
        return _dry_run(plan, index, journal, ui, environ)
    with journal.lock():
        journal.reload()
        missing = incomplete_before(plan, journal, index)
        if missing:
            if not force:
                raise RefusedError(str(_order_refusal(label, missing)))
            journal.event("forced", phase=index + 1, incomplete=missing)
            ui.warn(f"--force: running {label} although earlier steps are incomplete")
        if window_closed:
            if not ignore_window:
                raise RefusedError(str(window_refusal))
            journal.event(
                "ignored-window",
                phase=index + 1,
                window=where,
                at_time=moment.isoformat(timespec="seconds"),
            )
            ui.warn(f"--ignore-window: running {label} outside its window {where}")
        ctx = plan_context(plan, ui, journal, dry_run=False, environ=environ)
        ui.heading(f"{label}")
        for s, step_spec in enumerate(spec.steps):
            step_id = f"{index + 1}.{s + 1}"
            step = build_step(step_spec)
            ui.heading(f"step {step_id}: {step.describe()}")
            entry = journal.entry(step_id)
            if entry and entry["status"] == SUCCEEDED:
                ui.line(f"already succeeded at {entry['ended_at']} by {entry['by']}; skipped")
                continue
            if entry and entry["status"] in ("started", FAILED):
                ui.line(
                    f"earlier attempt {entry['status']} at {entry['started_at']}; "
                    "running it again from what it recorded"
                )
            previous = journal.start(step_id, index + 1, spec.name, s + 1, step.describe())
            ctx.step_id = step_id
            ctx.checkpoint = functools.partial(journal.checkpoint, step_id)
            try:
                record = step.run(ctx, previous)
            except BaseException as exc:
                done = (journal.entry(step_id) or {}).get("record") or {}
                journal.finish(step_id, FAILED, done, _error_text(exc))
                raise
            journal.finish(step_id, SUCCEEDED, record)
            ui.ok(f"step {step_id} succeeded")
    ui.ok(f"{label} complete")
    return 0


def _order_refusal(label: str, missing: list[str]) -> str | None:
    if not missing:
        return None
    return (
        f"refused to run {label}: earlier steps are not complete: "
        + "; ".join(missing)
        + " (--force overrides, and is journaled)"
    )


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return str(exc) or type(exc).__name__


def _dry_run(
    plan: LoadedPlan, index: int, journal: Journal, ui: UI, environ: Mapping[str, str] | None
) -> int:
    """Run the phase's steps with writes turned into descriptions; the journal is not written."""
    spec = plan.model.phases[index]
    ui.heading(f"phase {index + 1} ({spec.name}): dry run, nothing will change")
    ctx = plan_context(plan, ui, journal, dry_run=True, environ=environ)
    for s, step_spec in enumerate(spec.steps):
        step_id = f"{index + 1}.{s + 1}"
        step = build_step(step_spec)
        ui.heading(f"step {step_id}: {step.describe()}")
        if journal.status(step_id) == SUCCEEDED:
            ui.line("already succeeded; would skip")
            continue
        ctx.step_id = step_id
        step.run(ctx, (journal.entry(step_id) or {}).get("record") or {})
    return 0

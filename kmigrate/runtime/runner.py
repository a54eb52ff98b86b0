"""One runner for ``execute``, its dry run and ``rollback``.

Both directions go through :meth:`Runner._walk`: take the lock (not in a dry
run), re-read the journal, decide what to do from it, pass the gates (phase
order, window, ``requires:``, changed definitions), journal the overrides, then
visit each step.  A dry run is the same walk with ``dry_run`` set: the steps
get a context whose clusters and effects describe each write
(:mod:`kmigrate.runtime.dry_run`) and the runner calls their ``preview``
instead of ``run``; gates warn instead of refusing, nothing is journaled (the
model is alembic's offline mode: same steps, no second implementation).

Steps are identified by their stable id (:mod:`kmigrate.plan.identity`).
``execute`` runs a step that never ran, skips one that succeeded with the same
definition, and refuses one whose definition changed since it succeeded unless
``--rerun ID`` names it.  ``rollback`` undoes, newest first, exactly the steps
the journal says ran, rebuilt from the definition recorded when they ran.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from kmigrate import window as windows
from kmigrate.context import plan_context
from kmigrate.errors import (
    KmigrateError,
    PartialRollback,
    RefusedError,
    StepFailed,
    StoppedByOperator,
    Unreachable,
    UsageError,
)
from kmigrate.journal import FAILED, ROLLBACK_FAILED, ROLLED_BACK, STARTED, SUCCEEDED
from kmigrate.plan import LoadedPlan
from kmigrate.plan.identity import (
    PlannedStep,
    diff_definitions,
    spec_from_definition,
    walk,
)
from kmigrate.plan.schema import ShellStep
from kmigrate.redact import redact
from kmigrate.runtime.dry_run import dry_run_context
from kmigrate.runtime.journal import open_journal
from kmigrate.runtime.requirements import requirement_problem, requirement_text
from kmigrate.steps import build_step
from kmigrate.steps.base import StepContext
from kmigrate.ui import UI

#: Statuses whose step may have changed something, so rollback visits them.
UNDOABLE = (SUCCEEDED, FAILED, STARTED, ROLLBACK_FAILED)

RUN, SKIP, RERUN, REFUSE = "run", "skip", "rerun", "refuse"


@dataclass
class Gate:
    """A closed gate: ``refusal`` says why; ``override`` names the option that opens it.

    ``overridden`` gates are journaled as ``event`` and warned about; the rest
    refuse (exit 1), or only warn in a dry run.
    """

    refusal: str
    override: str | None = None
    overridden: bool = False
    event: tuple[str, dict[str, Any]] = ("", {})
    warning: str = ""


@dataclass
class Decision:
    """What ``execute`` does with one step of the phase, and why (``note``)."""

    step: PlannedStep
    what: str
    note: str = ""
    changed: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """The outcome of reading the journal for one walk: gates, items, events to journal."""

    gates: list[Gate]
    items: list[Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class Runner:
    """The walk shared by ``execute``, its dry run and ``rollback`` for one plan.

    Args:
        plan: the loaded plan.
        ui: all output.
        dry_run: describe instead of change; no lock, no journal writes.
        environ: environment for ``${VAR}`` references (default ``os.environ``).
        allow_shared_state: accept a state folder another user owns or may
            write (``--allow-shared-state``; journaled and warned about).

    Raises:
        kmigrate.safefs.SharedStateError: the state folder is not private (exit 2).
        kmigrate.errors.JournalError: the journal cannot be read (exit 1).
        RefusedError: a version 1 journal cannot be migrated (exit 1).
    """

    def __init__(
        self,
        plan: LoadedPlan,
        ui: UI,
        *,
        dry_run: bool = False,
        environ: Mapping[str, str] | None = None,
        allow_shared_state: bool = False,
    ) -> None:
        self.plan = plan
        self.ui = ui
        self.dry_run = dry_run
        self.environ = environ
        self.steps = walk(plan.model)
        self.by_id = {s.id: s for s in self.steps}
        self.journal = open_journal(plan, allow_shared_state=allow_shared_state)

    # -- the one walk --------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        if self.dry_run:
            yield
            return
        with self.journal.lock():
            self.journal.reload()
            if self.journal.shared:
                self.ui.warn(f"--allow-shared-state: going on although {self.journal.shared}")
                self.journal.event("allowed-shared-state", state_dir=str(self.journal.state_dir))
            yield

    def _pass(self, gates: list[Gate]) -> None:
        """Refuse at the first closed gate; journal overrides only once every gate passes."""
        closed = [g for g in gates if not g.overridden]
        if self.dry_run:
            for gate in closed:
                self.ui.warn(f"a real run would be {gate.refusal}")
            return
        if closed:
            raise RefusedError(closed[0].refusal)
        for gate in gates:
            kind, data = gate.event
            self.journal.event(kind, **data)
            self.ui.warn(gate.warning or f"{gate.override}: going on although {gate.refusal}")

    def _walk(
        self,
        title: str,
        prepare: Callable[[], Prepared],
        visit: Callable[[Any], None],
        nothing: str | None = None,
    ) -> bool:
        """Lock, re-read, gate, journal events, visit each item. False when nothing to do."""
        with self._session():
            prepared = prepare()
            if not prepared.items and nothing is not None:
                self.ui.line(nothing)
                return False
            self._pass(prepared.gates)
            if not self.dry_run:
                for kind, data in prepared.events:
                    self.journal.event(kind, **data)
            self.ui.heading(title + (": dry run, nothing will change" if self.dry_run else ""))
            for item in prepared.items:
                visit(item)
        return True

    def _context(self) -> StepContext:
        """The steps' context; in a dry run its clusters make no write
        (:func:`kmigrate.runtime.dry_run.dry_run_context`)."""
        ctx = plan_context(self.plan, self.ui, self.journal, environ=self.environ)
        return dry_run_context(ctx) if self.dry_run else ctx

    # -- execute ---------------------------------------------------------------------

    def execute(
        self,
        phase: str,
        *,
        force: bool = False,
        ignore_window: bool = False,
        rerun: Sequence[str] = (),
        now: datetime | None = None,
    ) -> int:
        """Run the phase's steps that need running, in plan order.  Returns 0.

        Raises:
            UsageError: no such phase; a ``--rerun`` id that names no step of the phase.
            RefusedError: a gate is closed (earlier phase incomplete, window,
                ``requires:``, a changed definition) or another run holds the lock.
            kmigrate.errors.StepFailed: a step failed (the journal says which).
            StoppedByOperator: the operator stopped a following mirror before
                the phase's last step (exit 0; the mirror is journaled
                succeeded, the message names the remaining steps).
        """
        index = self.plan.phase_index(phase)
        spec = self.plan.model.phases[index]
        mine = [s for s in self.steps if s.phase_number == index + 1]
        self._check_rerun(rerun, mine, spec.name)
        label = f"phase {index + 1} ({spec.name})"
        moment = now or datetime.now(UTC)
        ctx = self._context()

        def prepare() -> Prepared:
            decisions = [self._decide(s, rerun) for s in mine]
            gates = self._execute_gates(index, label, moment, force, ignore_window, decisions)
            events = [
                ("rerun", {"step": d.step.id, "phase": spec.name, "changed": d.changed})
                for d in decisions
                if d.what == RERUN
            ]
            return Prepared(gates, decisions, events)

        def visit(d: Decision) -> None:
            self._run_one(ctx, d)

        try:
            self._walk(label, prepare, visit)
        except StoppedByOperator as exc:
            # The stopped step succeeded; the run ends there, as asked.
            rest = [s.id for s in mine if self.journal.status(s.id) != SUCCEEDED]
            if rest:
                raise StoppedByOperator(
                    f"{exc}. {label} stopped after it: run `kmigrate execute "
                    f"{self.plan.path} --phase {index + 1}` again for its remaining steps "
                    f"({', '.join(rest)})",
                    exc.record,
                ) from None
            self.ui.ok(str(exc))
        if not self.dry_run:
            self.ui.ok(f"{label} complete")
        return 0

    def _check_rerun(self, rerun: Sequence[str], mine: list[PlannedStep], phase: str) -> None:
        ids = [s.id for s in mine]
        for step_id in rerun:
            if step_id in ids:
                continue
            other = self.by_id.get(step_id)
            where = (
                f"step {step_id} is in phase {other.phase_number} ({other.phase})"
                if other
                else f"no step has this id in {self.plan.path}"
            )
            raise UsageError(
                f"--rerun {step_id}: {where}; the steps of phase {phase} are: {', '.join(ids)}"
            )

    def _decide(self, step: PlannedStep, rerun: Sequence[str]) -> Decision:
        entry = self.journal.entry(step.id)
        if entry is None:
            return Decision(step, RUN, "new step")
        status = entry.get("status")
        changed = (
            []
            if entry.get("definition_hash") == step.definition_hash
            else diff_definitions(entry.get("definition") or {}, step.definition)
        )
        if step.id in rerun:
            return Decision(step, RERUN, f"--rerun: running it again ({status} before)", changed)
        if status == ROLLED_BACK:
            return Decision(step, RUN, "rolled back earlier; running it again", changed)
        if status != SUCCEEDED:
            note = f"earlier attempt {status} at {entry.get('started_at')}; running it again"
            if changed:
                note += " with the plan's changed definition (" + "; ".join(changed) + ")"
            else:
                note += " from what it recorded"
            return Decision(step, RUN, note, changed)
        done = f"already succeeded at {entry.get('ended_at')} by {entry.get('by')}"
        if changed:
            return Decision(step, REFUSE, done, changed)
        return Decision(step, SKIP, done + "; skipped")

    def _execute_gates(
        self,
        index: int,
        label: str,
        moment: datetime,
        force: bool,
        ignore_window: bool,
        decisions: list[Decision],
    ) -> list[Gate]:
        spec = self.plan.model.phases[index]
        gates = []
        missing = [
            f"{s.id} ({self.journal.status(s.id) or 'not run'})"
            for s in self.steps
            if s.phase_number <= index and self.journal.status(s.id) != SUCCEEDED
        ]
        if missing:
            gates.append(
                Gate(
                    f"refused to run {label}: earlier steps are not complete: "
                    + "; ".join(missing)
                    + " (--force overrides, and is journaled)",
                    "--force",
                    force,
                    (
                        "forced",
                        {"phase": spec.name, "phase_number": index + 1, "incomplete": missing},
                    ),
                    f"--force: running {label} although earlier steps are incomplete",
                )
            )
        if spec.window is not None and not windows.inside(spec.window, moment):
            where = windows.describe(spec.window)
            gates.append(
                Gate(
                    f"refused to run {label} outside its window {where}; now is "
                    f"{moment.astimezone(UTC):%a %Y-%m-%d %H:%M} UTC "
                    "(--ignore-window overrides, and is journaled)",
                    "--ignore-window",
                    ignore_window,
                    (
                        "ignored-window",
                        {
                            "phase": spec.name,
                            "phase_number": index + 1,
                            "window": where,
                            "at_time": moment.isoformat(timespec="seconds"),
                        },
                    ),
                    f"--ignore-window: running {label} outside its window {where}",
                )
            )
        unmet = [
            f"{requirement_text(req)}: {problem}"
            for req in spec.requires
            if (problem := requirement_problem(req, self.journal))
        ]
        if unmet:
            gates.append(
                Gate(
                    f"refused to run {label}: its requires: do not hold: "
                    + "; ".join(unmet)
                    + " (no option overrides evidence gates)"
                )
            )
        changed = [d for d in decisions if d.what == REFUSE]
        if changed:
            gates.append(
                Gate(
                    f"refused to run {label}: "
                    + "; ".join(
                        f"step {d.step.id} changed since it succeeded: " + "; ".join(d.changed)
                        for d in changed
                    )
                    + ". To run it again with the plan's definition (journaled): "
                    + " ".join(f"--rerun {d.step.id}" for d in changed)
                    + "; or restore its definition in the plan"
                )
            )
        return gates

    def _run_one(self, ctx: StepContext, d: Decision) -> None:
        step = build_step(d.step.spec)
        sid = d.step.id
        self.ui.heading(f"step {sid}: {step.describe()}")
        if d.what in (SKIP, REFUSE):
            self.ui.line(d.note if d.what == SKIP else d.note + "; would be refused (changed)")
            return
        if d.note != "new step":
            self.ui.line(d.note)
        ctx.step_id = sid
        if self.dry_run:  # the context's clusters and effects describe each write
            step.preview(ctx, (self.journal.entry(sid) or {}).get("record") or {})
            return
        previous = self.journal.start(
            sid,
            d.step.phase,
            d.step.phase_number,
            d.step.description,
            action=d.step.action,
            definition=d.step.definition,
            definition_hash=d.step.definition_hash,
        )
        ctx.checkpoint = functools.partial(self.journal.checkpoint, sid)
        try:
            record = step.run(ctx, previous)
        except StoppedByOperator as exc:
            # A requested stop (a following mirror): a successful end of the step.
            self.journal.finish(sid, SUCCEEDED, exc.record)
            self.ui.ok(f"step {sid} succeeded ({exc.record.get('ended') or 'stopped'})")
            raise
        except BaseException as exc:
            done = (self.journal.entry(sid) or {}).get("record") or {}
            if isinstance(exc, Unreachable):  # one line, with the plan key to check
                hinted = exc.with_hint(self._address_key(exc.role))
                self.journal.finish(sid, FAILED, done, _error_text(hinted))
                raise hinted from None
            self.journal.finish(sid, FAILED, done, _error_text(exc))
            raise
        self.journal.finish(sid, SUCCEEDED, record)
        self.ui.ok(f"step {sid} succeeded")

    def _address_key(self, role: str) -> str:
        """Where the plan sets ``role``'s address: ``clusters.target.bootstrap_servers
        in plan.yaml`` (MSK: also ``cluster_arn``; Event Hubs: ``namespace``)."""
        spec = getattr(self.plan.model.clusters, role, None)
        keys = ["bootstrap_servers"]
        if spec is not None and spec.cluster_arn:
            keys.insert(0, "cluster_arn")
        if spec is not None and spec.namespace:
            keys.insert(0, "namespace")
        return " / ".join(f"clusters.{role}.{k}" for k in keys) + f" in {self.plan.path}"

    # -- rollback --------------------------------------------------------------------

    def rollback(self, phase: str | None = None, *, use_plan_rollback: bool = False) -> int:
        """Undo, newest first, the journaled steps that may have changed something.  Returns 0.

        Raises:
            UsageError: no such phase (neither in the plan nor in the journal).
            RefusedError: a later phase still has steps to undo, or the lock is held.
            kmigrate.errors.StepFailed: a rollback action failed (the steps after
                it are not undone).
        """
        chosen = None if phase is None else self._rollback_phase(phase)
        ctx = self._context()

        def prepare() -> Prepared:
            undoable = [(k, e) for k, e in self.journal.ordered() if e.get("status") in UNDOABLE]
            gates = []
            if chosen is not None:
                later = [
                    k
                    for k, e in undoable
                    if e.get("phase") != chosen and self._phase_rank(e) > self._rank_of(chosen)
                ]
                if later:
                    gates.append(
                        Gate(
                            f"refused to roll back phase {chosen} while later steps are "
                            f"still in place: {', '.join(later)}; roll those back first"
                        )
                    )
                undoable = [(k, e) for k, e in undoable if e.get("phase") == chosen]
            undoable.reverse()
            return Prepared(gates, undoable, [("rollback", {"phase": chosen})])

        def visit(item: tuple[str, dict[str, Any]]) -> None:
            self._undo_one(ctx, item[0], item[1], use_plan_rollback)

        done = self._walk(
            "rollback",
            prepare,
            visit,
            nothing="nothing to roll back: the journal records no step that changed anything",
        )
        if done and not self.dry_run:
            self.ui.ok("rollback complete")
        return 0

    def _rollback_phase(self, selector: str) -> str:
        journaled = {e.get("phase") for _, e in self.journal.ordered()}
        if selector in journaled and not selector.isdigit():
            return selector
        return self.plan.model.phases[self.plan.phase_index(selector)].name

    def _rank_of(self, phase: str) -> int:
        names = [p.name for p in self.plan.model.phases]
        if phase in names:
            return names.index(phase) + 1
        numbers = [
            int(e.get("phase_number") or 0)
            for _, e in self.journal.ordered()
            if e.get("phase") == phase
        ]
        return max(numbers, default=0)

    def _phase_rank(self, entry: dict[str, Any]) -> int:
        return self._rank_of(str(entry.get("phase")))

    def _undo_one(
        self, ctx: StepContext, sid: str, entry: dict[str, Any], use_plan_rollback: bool
    ) -> None:
        recorded = dict(entry.get("definition") or {})
        planned = self.by_id.get(sid)
        if not recorded and planned is not None:
            recorded = dict(planned.definition)
        definition = recorded
        notes = []
        if planned is None:
            notes.append("no longer in the plan: undone from the definition recorded when it ran")
        elif recorded.get("rollback") != planned.definition.get("rollback"):
            old, new = recorded.get("rollback"), planned.definition.get("rollback")
            notes.append(f"rollback recorded when it ran: {old}")
            notes.append(f"rollback in the plan now:      {new}")
            if use_plan_rollback:
                notes.append("using the plan's (--use-plan-rollback)")
                definition = {**recorded, "rollback": new}
                if not self.dry_run:
                    self.journal.event("use-plan-rollback", step=sid, recorded=old, plan=new)
            else:
                notes.append("using the recorded one (--use-plan-rollback uses the plan's)")
        try:
            spec = spec_from_definition(definition)
        except ValidationError as exc:
            if planned is None:
                raise StepFailed(
                    f"step {sid}: its recorded definition no longer fits this version's plan "
                    f"schema ({exc.error_count()} problem(s)) and the step is not in the plan; "
                    "undo it by hand as its journal record says"
                ) from None
            notes.append("recorded definition unreadable by this version: using the plan's")
            spec = planned.spec
        step = build_step(spec)
        self.ui.heading(f"undo step {sid}: {step.describe()} ({entry.get('status')})")
        for note in notes:
            self.ui.line(note)
        self._confirm_recorded_command(sid, spec, planned)
        ctx.step_id = sid
        try:
            lines = step.rollback(ctx, entry.get("record") or {})
        except KmigrateError as exc:
            undone = exc.undone if isinstance(exc, PartialRollback) else []
            for line in undone:
                self.ui.line(f"  {line}")
            if not self.dry_run:
                self.journal.rolled_back(sid, undone, str(exc))
            raise
        for line in lines or ["nothing to undo"]:
            self.ui.line(f"  {line}")
        if not self.dry_run:
            self.journal.rolled_back(sid, lines)

    def _confirm_recorded_command(self, sid: str, spec: Any, planned: PlannedStep | None) -> None:
        """Ask before running a shell rollback command that is not in the current plan.

        The journal's command runs as whoever runs rollback; one the plan does
        not hold (a step since removed, a command since changed) is shown and
        confirmed even with ``--yes``: only ``--yes-recorded-commands`` answers it.

        Raises:
            RefusedError: not confirmed (no one answered, or the answer was no).
        """
        command = spec.rollback if isinstance(spec, ShellStep) else None
        in_plan = planned.definition.get("rollback") if planned is not None else None
        if not command or command == in_plan:
            return
        self.ui.line("this rollback command comes from the journal and is not in the plan:")
        self.ui.line(f"    {command}")
        if self.dry_run:
            self.ui.line("a real rollback asks before running it (--yes-recorded-commands: yes)")
            return
        if not self.ui.confirm_recorded(f"run this recorded command for step {sid}?"):
            raise RefusedError(
                f"rollback stopped at step {sid}: its recorded rollback command is not in "
                f"{self.plan.path} and was not confirmed (--yes does not answer this; "
                "--yes-recorded-commands does, or --use-plan-rollback runs the plan's)"
            )


def _error_text(exc: BaseException) -> str:
    """The journaled text of a step's failure, with resolved secrets masked."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return redact(str(exc) or type(exc).__name__)

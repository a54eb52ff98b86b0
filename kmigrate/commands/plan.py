"""``kmigrate plan PLAN``: show the checklist and what provisioning would do.

Changes nothing: the provisioning preview runs the ``provision-topics`` step's
own planning code (:func:`kmigrate.steps.provision_topics.preview`) read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmigrate import window as windows
from kmigrate.commands.status import identity_notes, step_rows
from kmigrate.context import plan_context
from kmigrate.errors import ClusterError, KmigrateError
from kmigrate.plan import load_plan
from kmigrate.plan.schema import TranslateOffsetsStep
from kmigrate.runtime.journal import open_journal
from kmigrate.runtime.plan_walk import walk
from kmigrate.runtime.runner import requirement_problem, requirement_text
from kmigrate.steps import build_step
from kmigrate.steps import provision_topics as provisioning
from kmigrate.steps import translate_offsets as translating
from kmigrate.ui import UI


def plan(
    plan_path: str, ui: UI, *, offline: bool = False, environ: Mapping[str, str] | None = None
) -> int:
    """Show phases, steps, windows, rollbacks, journal state and the provisioning preview.

    Returns 0; 1 when the clusters could not be read for the preview
    (``offline`` skips it) or when a target topic cannot hold the source's
    records (provisioning would fail).

    Raises:
        kmigrate.errors.PlanError: invalid plan.
    """
    loaded = load_plan(plan_path)
    journal = open_journal(loaded)
    rows = step_rows(loaded, journal)
    m = loaded.model
    ui.line(f"plan {m.name} ({loaded.path})")
    ui.line(
        f"source: {m.clusters.source.type} {m.clusters.source.bootstrap_servers}; "
        f"target: {m.clusters.target.type} {m.clusters.target.bootstrap_servers}"
    )
    ui.line(
        f"topics: include {', '.join(m.topics.include)}; "
        f"exclude {', '.join(m.topics.exclude) or '-'}"
    )
    table = []
    steps_json = []
    by_id = {r["id"]: r for r in rows}
    for step in walk(m):
        phase = m.phases[step.phase_number - 1]
        window = windows.describe(phase.window) if phase.window else "any time"
        built = build_step(step.spec)
        row = by_id[step.id]
        state = (row["status"] or "not run") + (" (changed)" if row["definition_changed"] else "")
        table.append(
            [
                step.id,
                phase.name,
                window,
                built.describe()[:60],
                built.rollback_summary[:60],
                state,
            ]
        )
        steps_json.append(
            {
                **{
                    k: row[k]
                    for k in (
                        "step",
                        "id",
                        "phase",
                        "description",
                        "status",
                        "definition_changed",
                        "changes",
                        "orphaned",
                    )
                },
                "window": window,
                "rollback": built.rollback_summary,
            }
        )
    orphans = [r for r in rows if r["orphaned"]]
    for r in orphans:
        table.append(
            [
                r["id"],
                r["phase"],
                "-",
                r["description"][:60],
                "(as recorded)",
                f"{r['status']} (orphaned)",
            ]
        )
        steps_json.append(
            {
                **{
                    k: r[k]
                    for k in (
                        "step",
                        "id",
                        "phase",
                        "description",
                        "status",
                        "definition_changed",
                        "changes",
                        "orphaned",
                    )
                },
                "window": None,
                "rollback": "as recorded when it ran",
            }
        )
    ui.heading("checklist")
    ui.table(table, ["step", "phase", "window", "action", "rollback", "journal"])
    gates = [
        [phase.name, requirement_text(req), requirement_problem(req, journal) or "holds"]
        for phase in m.phases
        for req in phase.requires
    ]
    if gates:
        ui.line("evidence gates (requires:):")
        ui.table(gates, ["phase", "requires", "now"])
    for row in rows:
        if row["status"] == "started":
            ui.warn(f"step {row['step']} was left 'started' by an interrupted run")
    for note in identity_notes(rows):
        ui.warn(note)
    result: dict[str, Any] = {
        "plan": m.name,
        "steps": steps_json,
        "requires": [{"phase": g[0], "requires": g[1], "now": g[2]} for g in gates],
        "provisioning": None,
    }
    code = 0
    if not offline:
        ui.heading("provisioning preview (target)")
        try:
            ctx = plan_context(loaded, ui, journal, dry_run=True, environ=environ)
            provision_spec = next(
                (
                    s
                    for ph in m.phases
                    for s in ph.steps
                    if getattr(s, "action", None) == "provision-topics"
                ),
                None,
            )
            snapshot = provisioning.find_snapshot(ctx, getattr(provision_spec, "snapshot", None))
            actions = provisioning.preview(
                ctx, snapshot, getattr(provision_spec, "replication_factor", None)
            )
            provisioning.show(ctx, actions)
            result["provisioning"] = provisioning.as_json(actions)
            conflicts = [a.topic for a in actions if a.action == provisioning.CONFLICT]
            if conflicts:
                ui.fail(
                    f"provision-topics would fail: {', '.join(conflicts)} cannot hold the "
                    "source's records (see differences)"
                )
                code = 1
        except ClusterError as exc:
            ui.fail(f"provisioning preview unavailable: {exc} (--offline skips it)")
            result["provisioning_error"] = str(exc)
            code = 1
    translate_spec = next(
        (s for ph in m.phases for s in ph.steps if isinstance(s, TranslateOffsetsStep)), None
    )
    if translate_spec is not None and not offline:
        ui.heading("offset translation preview (consumer groups)")
        try:
            tctx = plan_context(loaded, ui, journal, dry_run=True, environ=environ)
            groups = translate_spec.groups
            result["translation"] = translating.preview(tctx, groups.include, groups.exclude)
        except KmigrateError as exc:
            ui.fail(f"offset translation preview unavailable: {exc}")
            result["translation_error"] = str(exc)
            code = 1
    ui.emit_json(result)
    return code

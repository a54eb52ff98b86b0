"""``kmigrate plan PLAN``: show the checklist and what provisioning would do.

Changes nothing: the provisioning preview runs the ``provision-topics`` step's
own planning code (:func:`kmigrate.steps.provision_topics.preview`) read-only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kmigrate import snapshot as snapshots
from kmigrate import window as windows
from kmigrate.clusters import registry
from kmigrate.commands.status import identity_notes, step_rows
from kmigrate.context import acl_target_spec, plan_context
from kmigrate.errors import ClusterError, KmigrateError, PlanError, UsageError
from kmigrate.journal import Journal
from kmigrate.plan import LoadedPlan, load_plan
from kmigrate.plan.identity import walk
from kmigrate.plan.schema import ProvisionAclsStep, TranslateOffsetsStep
from kmigrate.runtime.dry_run import dry_run_context
from kmigrate.runtime.journal import open_journal
from kmigrate.runtime.runner import requirement_problem, requirement_text
from kmigrate.steps import build_step
from kmigrate.steps import provision_acls as acl_step
from kmigrate.steps import provision_topics as provisioning
from kmigrate.steps import translate_offsets as translating
from kmigrate.steps.mirror_mm2 import planned_mm2_steps
from kmigrate.ui import UI


def plan(
    plan_path: str,
    ui: UI,
    *,
    offline: bool = False,
    snapshot_path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Show phases, steps, windows, rollbacks, journal state and the translation table.

    The table says, per topic, each config copied / converted / dropped / refused with
    the reason and rule, and the partitions and replication factor with why (JSON:
    ``{"topics": [{"name", "action", "partitions", "replication_factor", "decisions":
    [{"key", "source_value", "target_value", "decision", "reason", "rule"}]}]}``).
    ``offline`` with ``snapshot_path`` computes it from the snapshot and the plan's
    declared ``facts``: no network, no credentials; ``offline`` alone skips it.
    With a ``provision-acls`` step, every ACL binding's decision too (JSON ``"acls"``:
    :meth:`kmigrate.acls.decisions.AclTranslation.to_dict`, see :func:`_show_acls`).

    Returns 0; 1 when the clusters could not be read, or a topic is refused (and
    not accepted), or an ACL binding is refused: provisioning would fail.

    Raises:
        kmigrate.errors.PlanError: invalid plan or snapshot.
        kmigrate.errors.UsageError: a fact the target type needs is missing, or
            ``--snapshot`` without ``--offline``.
    """
    if snapshot_path is not None and not offline:
        raise UsageError("--snapshot is for --offline (online, the plan's own snapshot is used)")
    loaded = load_plan(plan_path)
    journal = open_journal(loaded)
    rows = step_rows(loaded, journal)
    m = loaded.model
    ui.line(f"plan {m.name} ({loaded.path})")
    ui.line(
        f"source: {m.clusters.source.type} {_where(m.clusters.source)}; "
        f"target: {m.clusters.target.type} {_where(m.clusters.target)}"
    )
    ui.line(
        f"topics: include {', '.join(m.topics.include)}; "
        f"exclude {', '.join(m.topics.exclude) or '-'}"
    )
    table, steps_json = _checklist(loaded, rows)
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
        "topics": None,
    }
    code = _show_translation(loaded, ui, journal, offline, snapshot_path, environ, result)
    _show_connectors(loaded, ui, result)
    code = max(code, _show_acls(loaded, ui, journal, offline, snapshot_path, environ, result))
    if not offline:
        code = max(code, _show_offset_preview(loaded, ui, journal, environ, result))
    ui.emit_json(result)
    return code


def _show_connectors(loaded: LoadedPlan, ui: UI, result: dict[str, Any]) -> None:
    """Print the MirrorMaker 2 connector configs of every mirror step with ``engine:
    mirrormaker2`` (secrets as Connect config-provider references; JSON
    ``"connectors"``: ``{step index: [config, ...]}``).

    Raises:
        PlanError: the configs cannot be made from the plan (file, line, key).
    """
    steps = planned_mm2_steps(loaded)
    if not steps:
        return
    result["connectors"] = {}
    for where, connect, configs in steps:
        msk = connect.msk_connect
        home = connect.url or f"MSK Connect ({msk.region if msk else '?'})"
        ui.heading(f"MirrorMaker 2 connectors of {where} (on {home})")
        if connect.exactly_once is None:
            ui.line(
                "exactly-once source support (KIP-618): asked of the Connect cluster at run time"
                if connect.url
                else "exactly-once source support (KIP-618): not asked of MSK Connect; the "
                "connectors run without it unless the plan says exactly_once: true"
            )
        ui.line(json.dumps(configs, indent=2))
        result["connectors"][where] = configs


#: The journal row keys a step's JSON entry carries.
_ROW_KEYS = (
    "step",
    "id",
    "phase",
    "description",
    "status",
    "definition_changed",
    "changes",
    "orphaned",
)


def _checklist(
    loaded: LoadedPlan, rows: list[dict[str, Any]]
) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """The checklist: one table row and one JSON entry per step of the plan (phase
    window, action, rollback, journal state), then per orphaned journaled step."""
    m = loaded.model
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
                built.describe(),
                built.rollback_summary,
                state,
            ]
        )
        steps_json.append(
            {**{k: row[k] for k in _ROW_KEYS}, "window": window, "rollback": built.rollback_summary}
        )
    for r in (r for r in rows if r["orphaned"]):
        table.append(
            [
                r["id"],
                r["phase"],
                "-",
                r["description"],
                "(as recorded)",
                f"{r['status']} (orphaned)",
            ]
        )
        steps_json.append(
            {**{k: r[k] for k in _ROW_KEYS}, "window": None, "rollback": "as recorded when it ran"}
        )
    return table, steps_json


def _show_translation(
    loaded: LoadedPlan,
    ui: UI,
    journal: Journal | None,
    offline: bool,
    snapshot_path: str | None,
    environ: Mapping[str, str] | None,
    result: dict[str, Any],
) -> int:
    """Print the translation table into ``result``; 1 when provisioning would fail or
    the target could not be read, else 0."""
    if offline and snapshot_path is None:
        ui.line("translation table skipped (--offline without --snapshot)")
        return 0
    ui.heading("translation (target)" + (" — offline, declared facts" if offline else ""))
    try:
        translation = _translation(loaded, ui, journal, offline, snapshot_path, environ)
    except ClusterError as exc:
        ui.fail(f"translation unavailable: {exc} (--offline --snapshot FILE needs no cluster)")
        result["provisioning_error"] = str(exc)
        return 1
    result["topics"] = translation["topics"]
    result["warnings"] = translation["warnings"]
    refused = [t["name"] for t in translation["topics"] if t["action"] == "refuse"]
    if refused:
        ui.fail(f"provision-topics would refuse: {', '.join(refused)} (see above)")
        return 1
    return 0


def _show_acls(
    loaded: LoadedPlan,
    ui: UI,
    journal: Journal | None,
    offline: bool,
    snapshot_path: str | None,
    environ: Mapping[str, str] | None,
    result: dict[str, Any],
) -> int:
    """Print every ACL binding's decision (when the plan has a provision-acls step) into
    ``result["acls"]`` (:meth:`kmigrate.acls.decisions.AclTranslation.to_dict`, None when
    the snapshot holds no ACLs); 1 when provision-acls would refuse a binding or the
    decisions could not be computed, else 0.  A principal still mapped to ``init``'s
    placeholder is named as a warning, not counted as a refusal: the plan is a draft
    until it is filled in (the step itself refuses it, by name)."""
    spec = next(
        (s for ph in loaded.model.phases for s in ph.steps if isinstance(s, ProvisionAclsStep)),
        None,
    )
    if spec is None or (offline and snapshot_path is None):
        return 0
    ui.heading("ACL bindings (provision-acls)" + (" — offline" if offline else ""))
    result["acls"] = None
    acls = loaded.model.acls
    try:
        if offline:
            assert snapshot_path is not None
            snapshot = snapshots.load(Path(snapshot_path))
        else:
            ctx = dry_run_context(plan_context(loaded, ui, journal, environ=environ))
            snapshot = provisioning.find_snapshot(ctx, spec.snapshot)
    except KmigrateError as exc:
        return _acls_unavailable(ui, result, exc)
    if not snapshot.acls:
        ui.line("the snapshot holds no ACL binding (none, no authorizer, or not read)")
        return 0
    try:
        target = acl_target_spec(loaded, environ)
    except PlanError as exc:
        if not offline:
            raise
        # Offline needs no identity: init leaves the cluster ARN a ${VAR} to fill in.
        ui.warn(f"ACL decisions skipped: the target's identity is not known offline ({exc})")
        result["acls_error"] = str(exc)
        return 0
    try:
        translation = acl_step.decide(snapshot, acls.principal_map() if acls else None, target)
    except KmigrateError as exc:
        return _acls_unavailable(ui, result, exc)
    assert translation is not None  # the snapshot holds bindings
    result["acls"] = translation.to_dict()
    acl_step.show_decisions(ui, translation)
    todo = set(acls.placeholders()) if acls else set()
    if todo:
        ui.warn(f"still init's placeholder, map or drop before provision-acls: {sorted(todo)}")
    blocking = [d for d in translation.by("refused") if d.binding.principal not in todo]
    if blocking:
        ui.fail(f"provision-acls would refuse {len(blocking)} ACL binding(s) (see above)")
        return 1
    return 0


def _acls_unavailable(ui: UI, result: dict[str, Any], exc: KmigrateError) -> int:
    """Say why the ACL decisions could not be computed (into ``result`` too); 1."""
    ui.fail(f"ACL decisions unavailable: {exc}")
    result["acls_error"] = str(exc)
    return 1


def _show_offset_preview(
    loaded: LoadedPlan,
    ui: UI,
    journal: Journal | None,
    environ: Mapping[str, str] | None,
    result: dict[str, Any],
) -> int:
    """Print the plan's offset translation preview into ``result`` (when it has a
    translate-offsets step); 1 when it could not be computed, else 0."""
    translate_spec = next(
        (s for ph in loaded.model.phases for s in ph.steps if isinstance(s, TranslateOffsetsStep)),
        None,
    )
    if translate_spec is None:
        return 0
    ui.heading("offset translation preview (consumer groups)")
    try:
        tctx = dry_run_context(plan_context(loaded, ui, journal, environ=environ))
        groups = translate_spec.groups
        result["translation"] = translating.preview(tctx, groups.include, groups.exclude)
    except KmigrateError as exc:
        ui.fail(f"offset translation preview unavailable: {exc}")
        result["translation_error"] = str(exc)
        return 1
    return 0


def _where(spec: Any) -> str:
    """How the plan names a cluster: its bootstrap servers, MSK ARN or Event Hubs namespace."""
    return registry.named_by(spec)


def _translation(
    loaded: LoadedPlan,
    ui: UI,
    journal: Journal | None,
    offline: bool,
    snapshot_path: str | None,
    environ: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The translation table, printed, as ``{"topics": [...], "warnings": [...]}``."""
    spec = next(
        (
            s
            for ph in loaded.model.phases
            for s in ph.steps
            if getattr(s, "action", None) == "provision-topics"
        ),
        None,
    )
    accept = provisioning.accepts(spec)
    rf = getattr(spec, "replication_factor", None)
    if offline:
        assert snapshot_path is not None
        target = loaded.model.clusters.target
        snapshot = snapshots.load(Path(snapshot_path))
        profile = registry.profile_for(target.type, target.facts)
        translation = provisioning.translate_snapshot(
            snapshot, profile, dict(target.facts), accept, replication_factor=rf
        )
        diffs: dict[str, list[str]] = {}
    else:
        ctx = dry_run_context(plan_context(loaded, ui, journal, environ=environ))
        snapshot = provisioning.find_snapshot(ctx, getattr(spec, "snapshot", None))
        translation, diffs = provisioning.preview(ctx, snapshot, rf, accept)
    provisioning.show(ui, translation, diffs)
    topics = [{**t.to_dict(), "differences": diffs.get(t.name, [])} for t in translation.topics]
    return {"topics": topics, "warnings": translation.to_dict()["warnings"]}

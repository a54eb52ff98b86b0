"""``kmigrate report PLAN``: the evidence report (HTML for people, JSON for tools).

Reads the journal the way ``kmigrate status`` does and the files the steps
wrote; touches no cluster.  Exit 0 when the report is written, whatever its
verdict (the verdict is printed and is the report's first fact): like
``status``, this command reports, it does not judge the run a second time.
Exit 2 when the plan is invalid or the output folder cannot be written.
"""

from __future__ import annotations

from pathlib import Path

from kmigrate import __version__
from kmigrate.clusters import registry
from kmigrate.commands.status import step_rows
from kmigrate.errors import UsageError
from kmigrate.journal import Journal, now_iso
from kmigrate.plan import LoadedPlan, load_plan
from kmigrate.report import VERIFIED, build_model, write_report
from kmigrate.ui import UI


def plan_facts(plan: LoadedPlan, journal: Journal) -> dict[str, object]:
    """What the report says about the plan: name, file, clusters' types and bootstrap servers.

    Never a cluster's ``config`` (it may name secrets).
    """
    return {
        "name": plan.model.name,
        "file": str(plan.path.resolve()),
        "state_dir": str(plan.state_dir),
        "journal": str(journal.path),
        "clusters": {
            role: {
                "type": getattr(plan.model.clusters, role).type,
                # MSK discovers its bootstrap servers; the report names the cluster ARN.
                "bootstrap_servers": registry.declared_bootstrap(getattr(plan.model.clusters, role))
                or getattr(plan.model.clusters, role).cluster_arn,
            }
            for role in ("source", "target")
        },
    }


def report(
    plan_path: str,
    ui: UI,
    *,
    output_dir: str | Path | None = None,
    allow_shared_state: bool = False,
) -> int:
    """Write ``evidence.html`` and ``evidence.json`` and print their paths.  Returns 0.

    Args:
        output_dir: where to write (default ``<state_dir>/reports``).
        allow_shared_state: read a state folder another user owns or may write.

    Raises:
        kmigrate.errors.PlanError: invalid plan or unreadable journal.
        UsageError: the output folder cannot be created or written.
    """
    plan = load_plan(plan_path)
    journal = Journal(plan.state_dir, plan.model.name, allow_shared_state=allow_shared_state)
    model = build_model(
        plan=plan_facts(plan, journal),
        rows=step_rows(plan, journal),
        events=journal.events(),
        state_dir=plan.state_dir,
        generated_at=now_iso(),
        version=__version__,
    )
    folder = Path(output_dir) if output_dir is not None else plan.state_dir / "reports"
    try:
        html_path, json_path = write_report(model, folder)
    except OSError as exc:
        raise UsageError(
            f"{folder}: cannot write the report there: {exc.strerror or exc}"
        ) from None
    verdict = model["verdict"]
    if verdict["verdict"] == VERIFIED:
        ui.ok(f"verdict: {verdict['verdict']}")
    else:
        ui.warn(f"verdict: {verdict['verdict']}")
    for reason in verdict["reasons"]:
        ui.line(f"  {reason}")
    ui.line(f"report: {html_path}")
    ui.line(f"data:   {json_path}")
    ui.emit_json({"verdict": verdict, "html": str(html_path), "json": str(json_path)})
    return 0

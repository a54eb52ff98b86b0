"""``kmigrate demo``: a whole migration between two throwaway local brokers.

Starts the sandbox on free ports, seeds the source, runs every phase of the
sandbox plan shipped inside the package (``kmigrate/data/sandbox.yaml``; a
copy in a temporary folder, pointed at those ports), shows the journal and a
rollback dry run, writes the evidence report, and stops the sandbox.  It
needs no checkout: an installed kmigrate (with the ``sandbox`` extra) runs it
from any folder.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

from kmigrate.adapters import sandbox as brokers
from kmigrate.commands.execute import execute
from kmigrate.commands.report import report
from kmigrate.commands.rollback import rollback
from kmigrate.commands.status import status
from kmigrate.errors import UsageError
from kmigrate.plan import load_plan
from kmigrate.ui import UI

#: The demo's plan, package data (pyproject.toml ``[tool.setuptools.package-data]``).
SANDBOX_PLAN = Path(str(resources.files("kmigrate") / "data" / "sandbox.yaml"))


def demo(
    ui: UI, *, plan_path: Path | None = None, records: int = 2000, keep: Path | None = None
) -> int:
    """Run the demo.  Returns the exit code of the first failing phase, else 0.

    Args:
        plan_path: the sandbox plan (default :data:`SANDBOX_PLAN`, shipped in the package).
        records: records seeded per topic.
        keep: folder to keep the plan copy, journal and reports in (default: a
            temporary folder, removed at the end; the evidence report is then
            written to a folder of its own that is kept, and its path printed).

    Raises:
        UsageError: the sandbox plan is missing.
    """
    source_plan = plan_path or SANDBOX_PLAN
    if not source_plan.exists():
        raise UsageError(f"{source_plan}: the sandbox plan is missing; pass --plan")
    template = load_plan(source_plan).model
    workdir = keep or Path(tempfile.mkdtemp(prefix="kmigrate-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ports = {"source": brokers.free_port(), "target": brokers.free_port()}
    text = source_plan.read_text(encoding="utf-8")
    for role in ("source", "target"):
        old = getattr(template.clusters, role).bootstrap_servers
        text = text.replace(old, f"127.0.0.1:{ports[role]}")
    plan_file = workdir / "sandbox.yaml"
    plan_file.write_text(text, encoding="utf-8")
    sandbox_dir = workdir / "sandbox"
    ui.heading(
        f"sandbox: source 127.0.0.1:{ports['source']}, target 127.0.0.1:{ports['target']}"
        f" (work folder {workdir})"
    )
    try:
        brokers.up(sandbox_dir, ports["source"], ports["target"])
        written = brokers.seed(f"127.0.0.1:{ports['source']}", records)
        ui.ok(f"seeded {sum(written.values()):,} records into {len(written)} topics")
        for number, phase in enumerate(template.phases, start=1):
            if phase.window is not None:
                ui.line(
                    f"(phase {number} has a maintenance window; the demo passes "
                    "--ignore-window, which the journal records)"
                )
            execute(str(plan_file), str(number), ui, ignore_window=True)
        ui.heading("journal")
        status(str(plan_file), ui)
        ui.heading("what 'kmigrate rollback' would do")
        rollback(str(plan_file), ui, dry_run=True)
        ui.heading("evidence report")
        report_dir = (
            None if keep is not None else Path(tempfile.mkdtemp(prefix="kmigrate-demo-report-"))
        )
        report(str(plan_file), ui, output_dir=report_dir)
    finally:
        brokers.down(sandbox_dir)
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    ui.ok("demo complete: the target holds exactly what the source held")
    return 0

"""``kmigrate demo``: a whole migration between two throwaway local brokers.

Starts the sandbox on free ports, seeds the source, runs every phase of the
sandbox plan shipped inside the package (``kmigrate/data/sandbox.yaml``; a
copy in a temporary folder, pointed at those ports), shows the journal and a
rollback dry run, writes the evidence report, and stops the sandbox.  It
needs no checkout: an installed kmigrate (with the ``sandbox`` extra) runs it
from any folder.

During a phase whose mirror follows the source, a live producer writes to the
source; the demo stops it after ``produce_s`` seconds, the mirror catches up,
the consumer groups are translated, and for each group a consumer position on
the target is shown to hold exactly the source's next record.  It prints the
time from "producers stopped" to "caught up" and to "groups translated".
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

from kmigrate.adapters import sandbox as brokers
from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.commands.execute import execute
from kmigrate.commands.report import report
from kmigrate.commands.rollback import rollback
from kmigrate.commands.status import status
from kmigrate.errors import UsageError
from kmigrate.plan import load_plan
from kmigrate.ui import UI

#: The demo's plan, package data (pyproject.toml ``[tool.setuptools.package-data]``).
SANDBOX_PLAN = Path(str(resources.files("kmigrate") / "data" / "sandbox.yaml"))


def _actions(phase: Any) -> set[str]:
    return {str(getattr(s, "action", "")) for s in phase.steps}


def _follows(phase: Any) -> bool:
    return any(getattr(s, "mode", None) == "follow" for s in phase.steps)


def show_resume_points(ui: UI, source: KafkaCluster, target: KafkaCluster) -> bool:
    """For each group on the target, compare the next record on both sides; True when all match.

    The record a consumer of the group reads next on the target (from its
    committed target offset) must equal, in key, value, headers and
    timestamp, the one it would read next on the source.
    """
    rows = []
    same_everywhere = True
    for group in target.group_ids():
        if group.startswith("kmigrate-"):
            continue
        src, tgt = source.group_offsets_of(group), target.group_offsets_of(group)
        parts = sorted(set(src) & set(tgt))
        a = source.first_records([(t, p, src[(t, p)]) for t, p in parts])
        b = target.first_records([(t, p, tgt[(t, p)]) for t, p in parts])
        for t, p in parts:
            x, y = a[(t, p)], b[(t, p)]
            same = (x is None and y is None) or (
                x is not None
                and y is not None
                and (x.key, x.value, x.headers, x.timestamp_ms)
                == (y.key, y.value, y.headers, y.timestamp_ms)
            )
            same_everywhere &= same
            nxt = "(end)" if y is None else (y.key or b"").decode("utf-8", "replace")[:24]
            rows.append(
                [group, t, p, src[(t, p)], tgt[(t, p)], nxt, "same record" if same else "DIFFERS"]
            )
    ui.table(
        rows,
        ["group", "topic", "partition", "source offset", "target offset", "next key", "check"],
    )
    return same_everywhere


def demo(
    ui: UI,
    *,
    plan_path: Path | None = None,
    records: int = 2000,
    keep: Path | None = None,
    rate: float = 2000.0,
    produce_s: float = 5.0,
) -> int:
    """Run the demo.  Returns the exit code of the first failing phase, else 0.

    Args:
        plan_path: the sandbox plan (default :data:`SANDBOX_PLAN`, shipped in the package).
        records: records seeded per topic.
        rate: live records/s written to the source while the mirror follows.
        produce_s: seconds the live producer runs before the demo stops it.
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
    plan_file = _plan_copy(source_plan, template, workdir, ports)
    sandbox_dir = workdir / "sandbox"
    ui.heading(
        f"sandbox: source 127.0.0.1:{ports['source']}, target 127.0.0.1:{ports['target']}"
        f" (work folder {workdir})"
    )
    clusters: list[KafkaCluster] = []
    try:
        brokers.up(sandbox_dir, ports["source"], ports["target"])
        written = brokers.seed(f"127.0.0.1:{ports['source']}", records)
        ui.ok(f"seeded {sum(written.values()):,} records into {len(written)} topics")
        source = KafkaCluster("source", f"127.0.0.1:{ports['source']}")
        target = KafkaCluster("target", f"127.0.0.1:{ports['target']}")
        clusters += [source, target]
        if _run_phases(ui, template, plan_file, (source, target), rate, produce_s) != 0:
            return 1
        _show_outcome(ui, plan_file, keep)
    finally:
        for cluster in clusters:  # release their clients before the brokers go away
            cluster.close()
        brokers.down(sandbox_dir)
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    ui.ok("demo complete: the target holds exactly what the source held")
    return 0


def _plan_copy(source_plan: Path, template: Any, workdir: Path, ports: dict[str, int]) -> Path:
    """``workdir/sandbox.yaml``: the sandbox plan with its clusters on ``ports``."""
    text = source_plan.read_text(encoding="utf-8")
    for role in ("source", "target"):
        old = getattr(template.clusters, role).bootstrap_servers
        text = text.replace(old, f"127.0.0.1:{ports[role]}")
    plan_file = workdir / "sandbox.yaml"
    plan_file.write_text(text, encoding="utf-8")
    return plan_file


def _run_phases(
    ui: UI,
    template: Any,
    plan_file: Path,
    clusters: tuple[KafkaCluster, KafkaCluster],
    rate: float,
    produce_s: float,
) -> int:
    """Execute every phase of the plan copy (a live producer during a following
    mirror), then print the timings.  Returns 1 when a consumer group would not resume
    at the source's next record on the target, else 0.

    Raises:
        kmigrate.errors.KmigrateError: a phase failed (as ``execute``).
    """
    source, target = clusters
    stopped_at: list[float] = []
    timings: list[str] = []
    for number, phase in enumerate(template.phases, start=1):
        if phase.window is not None:
            ui.line(
                f"(phase {number} has a maintenance window; the demo passes "
                "--ignore-window, which the journal records)"
            )
        producer: threading.Thread | None = None
        if _follows(phase):
            producer = _start_producer(ui, source.bootstrap_servers, rate, produce_s, stopped_at)
        try:
            execute(str(plan_file), str(number), ui, ignore_window=True)
        finally:
            if producer is not None:
                producer.join()
        since_stop = time.monotonic() - stopped_at[0] if stopped_at else 0.0
        if stopped_at and "mirror" in _actions(phase):
            settle = max((getattr(x, "settle_s", 0.0) for x in phase.steps), default=0.0)
            timings.append(
                f"producers stopped -> caught up: {since_stop:.1f} s (of which {settle:g} s "
                "holding lag 0 before the mirror calls it caught up: settle_s)"
            )
        if stopped_at and "translate-offsets" in _actions(phase):
            timings.append(f"producers stopped -> groups translated: {since_stop:.1f} s")
            ui.heading("each consumer group resumes on the target at the source's next record")
            if not show_resume_points(ui, source, target):
                ui.fail("a group would not resume at the next record")
                return 1
    for line in timings:
        ui.line(line)
    return 0


def _show_outcome(ui: UI, plan_file: Path, keep: Path | None) -> None:
    """The journal, a rollback dry run and the evidence report (in a kept folder of its
    own when the work folder is temporary)."""
    ui.heading("journal")
    status(str(plan_file), ui)
    ui.heading("what 'kmigrate rollback' would do")
    rollback(str(plan_file), ui, dry_run=True)
    ui.heading("evidence report")
    report_dir = (
        None if keep is not None else Path(tempfile.mkdtemp(prefix="kmigrate-demo-report-"))
    )
    report(str(plan_file), ui, output_dir=report_dir)


def _start_producer(
    ui: UI, bootstrap: str, rate: float, produce_s: float, stopped_at: list[float]
) -> threading.Thread:
    """A live producer on the source, stopped after ``produce_s`` s.

    The monotonic time it was told to stop is appended to ``stopped_at``.
    """
    stop = threading.Event()

    def produce() -> None:
        written = brokers.produce_live(bootstrap, rate, stop=stop)
        ui.line(f"live producer wrote {sum(written.values()):,} records, then stopped")

    def stop_it() -> None:
        stopped_at.append(time.monotonic())
        stop.set()

    ui.line(f"live producer: about {rate:,.0f} records/s to the source for {produce_s:g} s")
    thread = threading.Thread(target=produce, name="kmigrate-demo-producer", daemon=True)
    thread.start()
    threading.Timer(produce_s, stop_it).start()
    return thread

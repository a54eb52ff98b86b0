"""``dual-write-check``: both clusters received the same records in a time window.

The comparison itself is :mod:`kmigrate.verify.dual_write` (multisets keyed by
record key, independent of partition, order and timestamps).  This step picks
the window (fixed ``since``/``until``, or ``duration_s`` from the step's
start, waiting until the window plus its tolerance has passed), prints one row
per topic, writes the JSON report and fails on any difference.

The journaled record::

    {"report": "state/reports/dual-write.json", "since": "...Z", "until": "...Z",
     "topics": 7, "topics_differing": 1, "source_records": 1200, "target_records": 1199,
     "only_on_source": 1, "only_on_target": 0, "differing": 0, "tolerated": 2}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from kmigrate.errors import VerificationFailed
from kmigrate.plan.schema import DualWriteCheckStep
from kmigrate.safefs import atomic_write
from kmigrate.selection import select_topics
from kmigrate.steps.base import Record as StepRecord
from kmigrate.steps.base import Step, StepContext
from kmigrate.verify.dual_write import TopicResult, Window, dual_write_check, report
from kmigrate.verify.instants import format_instant, parse_instant

TABLE_HEADERS = [
    "topic",
    "source records",
    "target records",
    "only on source",
    "only on target",
    "differing",
    "tolerated",
    "first keys",
]


def _first_keys(r: TopicResult) -> str:
    parts = []
    for label, keys in (
        ("source only", r.first_only_on_source),
        ("target only", r.first_only_on_target),
        ("differ", r.first_differing),
    ):
        if keys:
            parts.append(f"{label}: " + ", ".join(keys))
    return "; ".join(parts)


def wait_until(ms: int, ui_line: Callable[[str], None], sleep: Callable[[float], None]) -> None:
    """Sleep until the wall clock passes ``ms`` (epoch ms), with a line now and then."""
    last_said = 0.0
    while True:
        left = ms / 1000 - time.time()
        if left <= 0:
            return
        if time.monotonic() - last_said >= 10:
            ui_line(f"watching both clusters: {left:,.0f} s left")
            last_said = time.monotonic()
        sleep(min(left, 1.0))


def run_dual_write(
    ctx: StepContext,
    topics: list[str],
    window: Window,
    report_path: Path | None,
) -> StepRecord:
    """Compare, print the table, write the report; the step's whole forward action.

    Raises:
        VerificationFailed: a topic differs (after the report is written).
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    span = f"[{format_instant(window.since_ms)}, {format_instant(window.until_ms)})"
    if ctx.dry_run:
        ctx.ui.line(
            f"would compare the records of {len(topics)} topics written in {span} "
            f"on both clusters (tolerance {window.tolerance_ms / 1000:g} s)"
            + (f" and write {report_path}" if report_path else "")
        )
        return {"topics": len(topics)}
    results = dual_write_check(ctx.source, ctx.target, topics, window)
    rows = [
        [
            r.topic,
            r.source_records,
            r.target_records,
            r.only_on_source,
            r.only_on_target,
            r.differing,
            r.tolerated_on_source + r.tolerated_on_target,
            _first_keys(r),
        ]
        for r in results
    ]
    ctx.ui.table(rows, TABLE_HEADERS)
    data = report(results, window)
    if report_path is not None:
        atomic_write(report_path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        ctx.ui.line(f"report: {report_path}")
    bad = [r for r in results if not r.match]
    tolerated = sum(r.tolerated_on_source + r.tolerated_on_target for r in results)
    record: StepRecord = {
        "report": str(report_path) if report_path else None,
        "since": format_instant(window.since_ms),
        "until": format_instant(window.until_ms),
        "topics": len(results),
        "topics_differing": len(bad),
        "source_records": sum(r.source_records for r in results),
        "target_records": sum(r.target_records for r in results),
        "only_on_source": sum(r.only_on_source for r in results),
        "only_on_target": sum(r.only_on_target for r in results),
        "differing": sum(r.differing for r in results),
        "tolerated": tolerated,
    }
    note = f" ({tolerated} records within the tolerance of the window's edges not reported)"
    if bad:
        ctx.checkpoint(record)
        first = bad[0]
        keys = _first_keys(first)
        raise VerificationFailed(
            f"{len(bad)} of {len(results)} topics differ in {span}; first: {first.topic}: "
            f"{first.only_on_source} only on source, {first.only_on_target} only on target, "
            f"{first.differing} differing"
            + (f" ({keys})" if keys else "")
            + (note if tolerated else "")
        )
    ctx.ui.ok(
        f"all {len(results)} topics received the same records in {span} "
        f"({record['source_records']:,} on the source)" + (note if tolerated else "")
    )
    return record


def window_of(spec: DualWriteCheckStep, now_ms: int) -> Window:
    """The step's window: fixed ``since``/``until``, or ``duration_s`` from ``now_ms``."""
    tolerance_ms = int(spec.tolerance_s * 1000)
    if spec.duration_s is not None:
        return Window(now_ms, now_ms + spec.duration_s * 1000, tolerance_ms)
    assert spec.since is not None and spec.until is not None  # the schema ensures both
    return Window(parse_instant(spec.since), parse_instant(spec.until), tolerance_ms)


class DualWriteCheck(Step):
    """Compare the records both clusters received in a window; exit 1 on a difference."""

    action = "dual-write-check"
    rollback_summary = "nothing to undo (read-only)"

    def run(self, ctx: StepContext, previous: StepRecord) -> StepRecord:
        topics = select_topics(ctx.source.topics(), ctx.include, ctx.exclude)
        window = window_of(self.spec, int(time.time() * 1000))
        if self.spec.duration_s is not None and not ctx.dry_run:
            ctx.ui.line(
                f"watching {len(topics)} topics on both clusters for {self.spec.duration_s} s"
            )
            wait_until(window.until_ms + window.tolerance_ms + 1000, ctx.ui.line, time.sleep)
        return run_dual_write(ctx, topics, window, ctx.state_dir / self.spec.report)

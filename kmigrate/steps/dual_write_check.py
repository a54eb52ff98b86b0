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
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from kmigrate.errors import VerificationFailed
from kmigrate.plan.schema import DualWriteCheckStep
from kmigrate.safefs import atomic_write
from kmigrate.selection import select_topics
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord
from kmigrate.verify.dual_write import (
    TABLE_HEADERS,
    TopicResult,
    Window,
    dual_write_check,
    first_keys,
    report,
    table_rows,
)
from kmigrate.verify.instants import format_instant, parse_instant, wait_until


@dataclass
class DualWriteRecord(StepRecord):
    """What dual-write-check journals (module docstring); counts are records
    except ``topics`` and ``topics_differing``."""

    report: str | None
    since: str
    until: str
    topics: int = 0
    topics_differing: int = 0
    source_records: int = 0
    target_records: int = 0
    only_on_source: int = 0
    only_on_target: int = 0
    differing: int = 0
    tolerated: int = 0

    @classmethod
    def of(cls, results: list[TopicResult], window: Window, report_path: Path | None) -> Self:
        """The record of a comparison: totals over ``results``."""
        return cls(
            report=str(report_path) if report_path else None,
            since=format_instant(window.since_ms),
            until=format_instant(window.until_ms),
            topics=len(results),
            topics_differing=sum(1 for r in results if not r.match),
            source_records=sum(r.source_records for r in results),
            target_records=sum(r.target_records for r in results),
            only_on_source=sum(r.only_on_source for r in results),
            only_on_target=sum(r.only_on_target for r in results),
            differing=sum(r.differing for r in results),
            tolerated=sum(r.tolerated_on_source + r.tolerated_on_target for r in results),
        )

    def to_json(self) -> JsonRecord:
        """The journal form (module docstring)."""
        return {
            "report": self.report,
            "since": self.since,
            "until": self.until,
            "topics": self.topics,
            "topics_differing": self.topics_differing,
            "source_records": self.source_records,
            "target_records": self.target_records,
            "only_on_source": self.only_on_source,
            "only_on_target": self.only_on_target,
            "differing": self.differing,
            "tolerated": self.tolerated,
        }

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record."""
        if not data:
            return None
        counts = {
            k: int(data.get(k) or 0)
            for k in (
                "topics",
                "topics_differing",
                "source_records",
                "target_records",
                "only_on_source",
                "only_on_target",
                "differing",
                "tolerated",
            )
        }
        return cls(
            data.get("report"),
            str(data.get("since") or ""),
            str(data.get("until") or ""),
            **counts,
        )

    def summary(self) -> str:
        """``7 topics, 1 differing``."""
        return f"{self.topics} topics, {self.topics_differing} differing"


def run_dual_write(
    ctx: StepContext,
    topics: list[str],
    window: Window,
    report_path: Path | None,
) -> JsonRecord:
    """Compare, print the table, write the report; the step's whole forward action.

    Raises:
        VerificationFailed: a topic differs (after the report is written).
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    span = _span(window)
    results = dual_write_check(ctx.source, ctx.target, topics, window)
    ctx.ui.table(table_rows(results), TABLE_HEADERS)
    data = report(results, window)
    if report_path is not None:
        atomic_write(report_path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        ctx.ui.line(f"report: {report_path}")
    bad = [r for r in results if not r.match]
    record = DualWriteRecord.of(results, window, report_path)
    tolerated = record.tolerated
    note = f" ({tolerated} records within the tolerance of the window's edges not reported)"
    if bad:
        ctx.checkpoint(record.to_json())
        first = bad[0]
        keys = first_keys(first)
        raise VerificationFailed(
            f"{len(bad)} of {len(results)} topics differ in {span}; first: {first.topic}: "
            f"{first.only_on_source} only on source, {first.only_on_target} only on target, "
            f"{first.differing} differing"
            + (f" ({keys})" if keys else "")
            + (note if tolerated else "")
        )
    ctx.ui.ok(
        f"all {len(results)} topics received the same records in {span} "
        f"({record.source_records:,} on the source)" + (note if tolerated else "")
    )
    return record.to_json()


def _span(window: Window) -> str:
    """``[2026-01-01T00:00:00Z, 2026-01-01T00:05:00Z)``: the window's instants."""
    return f"[{format_instant(window.since_ms)}, {format_instant(window.until_ms)})"


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
    record_type = DualWriteRecord
    rollback_summary = "nothing to undo (read-only)"

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        topics = select_topics(ctx.source.topics(), ctx.include, ctx.exclude)
        window = window_of(self.spec, int(time.time() * 1000))
        if self.spec.duration_s is not None:
            ctx.ui.line(
                f"watching {len(topics)} topics on both clusters for {self.spec.duration_s} s"
            )
            wait_until(window.until_ms + window.tolerance_ms + 1000, ctx.ui.line, time.sleep)
        return run_dual_write(ctx, topics, window, ctx.state_dir / self.spec.report)

    def preview(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        """The comparison it would make (topics, window, report); no wait, no record read."""
        topics = select_topics(ctx.source.topics(), ctx.include, ctx.exclude)
        window = window_of(self.spec, int(time.time() * 1000))
        ctx.ui.line(
            f"would compare the records of {len(topics)} topics written in {_span(window)} "
            f"on both clusters (tolerance {window.tolerance_ms / 1000:g} s) "
            f"and write {ctx.state_dir / self.spec.report}"
        )
        return {"topics": len(topics)}

"""verify's evidence: the verification table (one row per topic, every
partition that differs) and the machine-readable JSON report.

The report's shape: ``{"generated_at", "source", "target", "digest",
"timestamps_not_compared": {topic: why}, "summary": {"partitions", "matched",
"mismatched", "source_records", "target_records"}, "partitions": [one
:class:`~kmigrate.verify.compare.PartitionResult` as a dict, ...]}``
(read back by :mod:`kmigrate.report.model`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.topic_configs import LOG_APPEND_TIME, TIMESTAMP_TYPE_KEY
from kmigrate.verify.compare import PartitionResult, SideSummary

#: Why a partition's timestamps are not compared (output and report).
LOG_APPEND_TIME_NOTE = (
    f"the target topic has {TIMESTAMP_TYPE_KEY}={LOG_APPEND_TIME}, so the target stamps "
    "each record with its own time on append (expected; Kafka topic configs, KIP-32); "
    "key, value, headers, order and counts are compared, timestamps are not"
)


def table_rows(results: list[PartitionResult]) -> list[list[Any]]:
    """Rows for the verification table."""

    def span(s: SideSummary) -> str:
        return "-" if s.first_offset is None else f"{s.first_offset}..{s.last_offset}"

    rows = []
    for r in results:
        if r.match:
            verdict = "OK" if r.timestamps_compared else "OK (timestamps not compared)"
        else:
            d = r.first_difference or {}
            verdict = (
                f"MISMATCH at source offset {d.get('source_offset')}, target offset "
                f"{d.get('target_offset')}: {d.get('reason')}"
            )
        rows.append(
            [
                r.topic,
                r.partition,
                r.source.records,
                span(r.source),
                r.target.records,
                span(r.target),
                r.source.digest[:12],
                r.target.digest[:12],
                verdict,
            ]
        )
    return rows


def topic_rows(results: list[PartitionResult]) -> list[list[Any]]:
    """One row per topic: partitions, how many match and differ, records per side."""
    by_topic: dict[str, list[PartitionResult]] = {}
    for r in results:
        by_topic.setdefault(r.topic, []).append(r)
    rows = []
    for topic, parts in by_topic.items():
        bad = sum(1 for r in parts if not r.match)
        rows.append(
            [
                topic,
                len(parts),
                len(parts) - bad,
                bad,
                f"{sum(r.source.records for r in parts):,}",
                f"{sum(r.target.records for r in parts):,}",
                "OK" if not bad else "DIFFERS",
            ]
        )
    return rows


TOPIC_HEADERS = [
    "topic",
    "partitions",
    "match",
    "differ",
    "source records",
    "target records",
    "verdict",
]


def show_results(ui: Any, results: list[PartitionResult]) -> None:
    """Print the verification: with ``ui.details`` every partition; else one row
    per topic, then every partition that differs (all of them, never a sample)."""
    if ui.details:
        ui.table(table_rows(results), TABLE_HEADERS)
        return
    ui.table(topic_rows(results), TOPIC_HEADERS)
    bad = [r for r in results if not r.match]
    if bad:
        ui.line(f"partitions that differ ({len(bad):,}):")
        ui.table(table_rows(bad), TABLE_HEADERS)
    ui.line(f"(one row per topic; --details for all {len(results):,} partitions)")


TABLE_HEADERS = [
    "topic",
    "partition",
    "source records",
    "source offsets",
    "target records",
    "target offsets",
    "source digest",
    "target digest",
    "verdict",
]


def report(results: list[PartitionResult], source: Cluster, target: Cluster) -> dict[str, Any]:
    """The machine-readable evidence: per-partition facts and a summary."""
    bad = [r for r in results if not r.match]
    untimed = sorted({r.topic for r in results if not r.timestamps_compared})
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source.bootstrap_servers,
        "target": target.bootstrap_servers,
        "digest": "sha256 over key, value, headers, timestamp per record, in offset order, "
        "chained per 1024 records (kmigrate.verify.digest)",
        # Topics compared without timestamps, and why.
        "timestamps_not_compared": {topic: LOG_APPEND_TIME_NOTE for topic in untimed},
        "summary": {
            "partitions": len(results),
            "matched": len(results) - len(bad),
            "mismatched": len(bad),
            "source_records": sum(r.source.records for r in results),
            "target_records": sum(r.target.records for r in results),
        },
        "partitions": [asdict(r) for r in results],
    }


def dumps(data: dict[str, Any]) -> str:
    """The report as text: indented JSON, sorted keys, a final newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"

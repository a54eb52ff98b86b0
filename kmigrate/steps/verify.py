"""``verify``: prove the target holds exactly what the source held, per partition.

The step: select the topics, take the ranges the mirror copied (through its
offset map, see :func:`kmigrate.verify.compare.ranges_for`), compare them
(:func:`kmigrate.verify.ordered.verify`), print the table, write the JSON
report (:mod:`kmigrate.verify.evidence`) and journal a :class:`VerifyRecord`;
then the target type's own cross-check (:func:`cross_check`).  The digest is
:mod:`kmigrate.verify.digest`'s encoding.  Read-only: rollback has nothing to undo.

The journaled record::

    {"report": "state/reports/verify.json", "partitions": 12, "matched": 12,
     "mismatched": 0, "source_records": 1200, "target_records": 1200}

plus ``timestamps_not_compared`` (topics, when a target topic stamps its own
time), ``reused_records`` (records proven by earlier passes and not read
again, :mod:`kmigrate.verify.proof`), ``follow`` (a following verify:
``{"ended", "rounds", "proven_offsets", "lag"}``, see :func:`run_follow`)
and ``cross_check`` (``{"rows": {...}, "problems": [...]}``, when the
target type checked).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from kmigrate.errors import StepFailed, StoppedByOperator, VerificationFailed
from kmigrate.journal import atomic_write
from kmigrate.offsets.map import OffsetMap
from kmigrate.selection import select_topics
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord
from kmigrate.steps.mirror import MirrorRecord
from kmigrate.verify.compare import CopiedRange, ranges_for
from kmigrate.verify.evidence import LOG_APPEND_TIME_NOTE, dumps, report, show_results
from kmigrate.verify.follow import follow, operator_stop, proof_line, verify_reusing
from kmigrate.verify.ordered import refine_total, source_total, verify
from kmigrate.verify.proof import Proof


@dataclass
class VerifyRecord(StepRecord):
    """What the verify step journals (module docstring); counts are partitions and records.

    Attributes:
        report: the JSON report's path, or None when none was written.
        partitions / matched / mismatched: partitions compared, equal, differing.
        source_records / target_records: records read on each side.
        timestamps_not_compared: target topics compared without timestamps
            (``message.timestamp.type=LogAppendTime``).
        cross_check: the target type's own check, ``{"rows": {what: found},
            "problems": [...]}``, when it made one.
    """

    report: str | None
    partitions: int | None = None
    matched: int | None = None
    mismatched: int | None = None
    source_records: int | None = None
    target_records: int | None = None
    timestamps_not_compared: list[str] = field(default_factory=list)
    cross_check: dict[str, Any] | None = None
    reused_records: int | None = None
    follow: dict[str, Any] | None = None

    def to_json(self) -> JsonRecord:
        """The journal form (module docstring)."""
        data: JsonRecord = {
            "report": self.report,
            "partitions": self.partitions,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "source_records": self.source_records,
            "target_records": self.target_records,
        }
        if self.timestamps_not_compared:
            data["timestamps_not_compared"] = self.timestamps_not_compared
        if self.cross_check is not None:
            data["cross_check"] = self.cross_check
        if self.reused_records is not None:
            data["reused_records"] = self.reused_records
        if self.follow is not None:
            data["follow"] = self.follow
        return data

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record."""
        if not data:
            return None
        return cls(
            report=data.get("report"),
            partitions=data.get("partitions"),
            matched=data.get("matched"),
            mismatched=data.get("mismatched"),
            source_records=data.get("source_records"),
            target_records=data.get("target_records"),
            timestamps_not_compared=list(data.get("timestamps_not_compared") or []),
            cross_check=data.get("cross_check"),
            reused_records=data.get("reused_records"),
            follow=data.get("follow"),
        )

    def summary(self) -> str:
        """``12 matched, 0 mismatched`` (a following verify: ``follow: caught up``)."""
        if self.follow is not None:
            return f"follow: {self.follow.get('ended')}"
        return f"{self.matched} matched, {self.mismatched} mismatched"


#: Below this many records left to read after the proof (the estimate), the
#: final verify reads in this process (threads) unless ``workers`` is given:
#: starting the worker processes costs about 0.7 s on 2 cores
#: (``bench/follow_verify_cpu.py``), more than reading such a tail.
TAIL_IN_PROCESS_BELOW = 100_000


def run_verify(
    ctx: StepContext,
    topics: list[str],
    copied: Sequence[CopiedRange] | None,
    report_path: Path | None,
    offset_map: OffsetMap | None = None,
    workers: int | None = None,
    proof_dir: Path | None = None,
) -> JsonRecord:
    """Verify, print the table, write the report; the step's whole forward action.

    ``copied``: the partitions the mirror's record lists (used without an
    offset map); ``workers``: processes the partitions are sharded over (see
    :func:`kmigrate.verify.ordered.verify`).  ``proof_dir``: reuse (and
    extend) the proven ranges kept there (:mod:`kmigrate.verify.proof`): only
    what they do not cover is read, after their re-checks; None reads all.

    Raises:
        VerificationFailed: any partition differs (after the report is written).
    """
    ranges = ranges_for(ctx.source, topics, copied, offset_map)
    total, estimated = source_total(ctx.source, ranges)
    proof = Proof.load(proof_dir) if proof_dir is not None else None
    if proof is not None:  # the bar counts what is read: not the proven records
        wanted = {(r.topic, r.partition) for r in ranges}
        total -= sum(p.records for tp, p in proof.partitions.items() if tp in wanted)
        estimated = True
        if workers is None and total < TAIL_IN_PROCESS_BELOW:
            workers = 1  # a tail: starting worker processes would cost more than reading it
    with ctx.ui.progress(max(total, 0), "verify", estimate=estimated) as bar:
        if estimated and proof is None:
            refine_total(ctx.source, ranges, bar, total)
        if proof is None:
            results = verify(ctx.source, ctx.target, ranges, bar, workers)
        else:
            results, notes, reused = verify_reusing(
                ctx.source, ctx.target, ranges, proof, bar, workers
            )
    show_results(ctx.ui, results)
    untimed = sorted({r.topic for r in results if not r.timestamps_compared})
    if untimed:
        ctx.ui.line(f"timestamps not compared on {', '.join(untimed)}: {LOG_APPEND_TIME_NOTE}")
    data = report(results, ctx.source, ctx.target)
    if proof is not None:
        add_proof(data, proof, notes, reused)
        for note in notes:
            ctx.ui.warn(note)
        ctx.ui.line(
            f"reused {data['proof']['reused_records']:,} records proven earlier "
            f"({proof.path}); read {data['proof']['read_records']:,}"
        )
    if report_path is not None:
        atomic_write(report_path, dumps(data))
        ctx.ui.line(f"report: {report_path}")
    summary = data["summary"]
    record = VerifyRecord(
        str(report_path) if report_path else None, **summary, timestamps_not_compared=untimed
    )
    if proof is not None:
        record.reused_records = data["proof"]["reused_records"]
    if summary["mismatched"]:
        ctx.checkpoint(record.to_json())
        first = next(r for r in results if not r.match)
        d = first.first_difference or {}
        raise VerificationFailed(
            f"{summary['mismatched']} of {summary['partitions']} partitions differ; first: "
            f"{first.topic}[{first.partition}] at source offset {d.get('source_offset')}, "
            f"target offset {d.get('target_offset')} ({d.get('reason')})"
        )
    ctx.ui.ok(
        f"all {summary['partitions']:,} partitions match ({summary['source_records']:,} records)"
    )
    return record.to_json()


def add_proof(
    data: dict[str, Any], proof: Proof, notes: list[str], reused: dict[tuple[str, int], int]
) -> None:
    """Add to the report what came from the proof: per partition ``proven``
    (records reused, and per pass what it proved, when) and a ``proof`` summary."""
    kinds = {p["id"]: p["kind"] for p in proof.passes}
    for part in data["partitions"]:
        tp = (part["topic"], part["partition"])
        got = proof.partitions.get(tp)
        ranges = [{**r, "kind": kinds.get(r["pass"])} for r in (got.ranges if got else [])]
        part["proven"] = {"reused_records": reused.get(tp, 0), "ranges": ranges}
    total = sum(reused.values())
    data["proof"] = {
        "file": str(proof.path),
        "reused_records": total,
        "read_records": data["summary"]["source_records"] - total,
        "notes": notes,
        "passes": proof.passes,
    }


def run_follow(ctx: StepContext, topics: list[str], spec: Any) -> JsonRecord:
    """A following verify (``mode: follow``) in the plan's state dir: rounds
    behind the mirror (:func:`kmigrate.verify.follow.follow`), the proof lag
    printed about every 5 s; returns the record with ``follow``.

    Raises:
        VerificationFailed: a block differs or a log start passed unproven records.
        StoppedByOperator: SIGINT / SIGTERM: a clean stop, the proof saved (exit 0).
    """
    with operator_stop() as (stop, why):
        outcome = follow(
            ctx.source,
            ctx.target,
            topics,
            ctx.state_dir,
            until=spec.until,
            settle_s=spec.settle_s,
            max_duration_s=spec.max_duration,
            stop=stop,
            stop_reason=lambda: why[0] if why else "stopped by operator",
            report=lambda last: ctx.ui.line(proof_line(last)),
        )
    for note in outcome.last.notes:
        ctx.ui.warn(note)
    record = VerifyRecord(
        report=None,
        follow={
            "ended": outcome.ended,
            "rounds": outcome.rounds,
            "proven_offsets": outcome.last.proven_offsets(),
            "lag": outcome.last.lag(),
        },
    )
    if why:
        raise StoppedByOperator(
            f"verify --follow {outcome.ended}: the proof is saved; the final verify reuses it",
            record.to_json(),
        )
    ctx.ui.ok(f"verify --follow {outcome.ended} after {outcome.rounds:,} rounds; proof saved")
    return record.to_json()


class Verify(Step):
    """Per-partition counts, offsets and ordered digests; exit 1 on any difference."""

    action = "verify"
    record_type = VerifyRecord
    rollback_summary = "nothing to undo (read-only)"

    def _inputs(
        self, ctx: StepContext
    ) -> tuple[list[str], Sequence[CopiedRange] | None, OffsetMap | None]:
        """The selected source topics, the mirror's copied ranges and its offset map.

        Raises:
            StepFailed: the mirror copied a topic the source no longer lists.
        """
        topics = select_topics(ctx.source.topics(), ctx.include, ctx.exclude)
        looked_up = ctx.journal_lookup("mirror")
        mirrored = looked_up if isinstance(looked_up, MirrorRecord) else None
        # The mirror keeps its map in the plan's state_dir (the record names the file).
        offset_map = OffsetMap.load(ctx.state_dir) if mirrored else None
        if offset_map is not None:
            names = {t for t, _ in offset_map.partitions()}
            copied = select_topics(names, ctx.include, ctx.exclude)
            missing = sorted(set(copied) - set(topics))
            if missing:
                # Skipped, they would leave "all N partitions match" over fewer topics.
                raise StepFailed(
                    f"the source lists no topic {', '.join(missing)}, which the mirror "
                    "copied: was it deleted, or is a source broker still starting? "
                    "Nothing was verified; run verify again once the source lists it"
                )
        return topics, mirrored.partitions if mirrored else None, offset_map

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        """``mode: once``: verify what the proof in the state dir does not
        cover (all with ``full``); ``mode: follow``: :func:`run_follow`.

        Raises:
            VerificationFailed: a partition differs or a re-check failed.
            StoppedByOperator: a following verify was stopped (exit 0).
        """
        topics, copied, offset_map = self._inputs(ctx)
        if self.spec.mode == "follow":
            return run_follow(ctx, topics, self.spec)
        report_path = ctx.state_dir / self.spec.report
        proof_dir = None if self.spec.full else ctx.state_dir
        record = run_verify(
            ctx, topics, copied, report_path, offset_map, self.spec.workers, proof_dir
        )
        checked = VerifyRecord.from_json(record)
        assert checked is not None  # run_verify journals a record
        cross_check(ctx, report_path, checked)
        return checked.to_json()

    def preview(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        """The partitions verify would read (their ranges, from the source's
        watermark offsets or the offset map); no record is read."""
        topics, copied, offset_map = self._inputs(ctx)
        ranges = ranges_for(ctx.source, topics, copied, offset_map)
        ctx.ui.line(
            f"would verify {len(ranges)} partitions of {len(topics)} topics "
            f"and write {ctx.state_dir / self.spec.report}"
        )
        return {"partitions": len(ranges)}


def cross_check(ctx: StepContext, report_path: Path, record: VerifyRecord) -> None:
    """After a match, the target type's own check of what verify read (Event Hubs:
    partition ids and event counts by sequence numbers); added to ``record``.

    Raises:
        VerificationFailed: the service's own API disagrees.
    """
    data = json.loads(report_path.read_text())
    counts = {(p["topic"], p["partition"]): p["target"]["records"] for p in data["partitions"]}
    found = ctx.target_plane.cross_check(ctx.target, counts)
    if not found.rows and not found.problems:
        return
    ctx.ui.table([list(r) for r in found.rows], [f"{ctx.target_plane.cluster_type}", "found"])
    record.cross_check = {"rows": dict(found.rows), "problems": found.problems}
    if found.problems:
        ctx.checkpoint(record.to_json())
        raise VerificationFailed("; ".join(found.problems))

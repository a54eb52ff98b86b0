"""``source-quiet``: the fence check of a cutover (:mod:`kmigrate.cutover.quiet`).

Refuses (exit 1) naming the topics and partitions still written to, with their rates in
records/s; journals what it saw either way (:meth:`QuietResult.as_record`).  Read-only.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmigrate.cutover.quiet import TP, watch_quiet
from kmigrate.errors import StepFailed
from kmigrate.selection import select_topics
from kmigrate.steps.base import JsonRecord, Step, StepContext
from kmigrate.steps.check_record import CheckRecord


def high_watermarks(ctx: StepContext, parts: Sequence[TP]) -> dict[TP, int]:
    """High watermark per source partition (the port's one read for it)."""
    ends = ctx.source.watermark_offsets(parts, read_end=True)
    return {tp: end for tp, (_low, end) in ends.items()}


class SourceQuietRecord(CheckRecord):
    """What ``source-quiet`` saw (:class:`~kmigrate.steps.check_record.CheckRecord`)."""


class SourceQuiet(Step):
    """No selected source partition received a record for ``quiet_s`` seconds."""

    action = "source-quiet"
    record_type = SourceQuietRecord
    rollback_summary = "nothing to undo (read-only)"

    def describe(self) -> str:
        return f"source-quiet ({self.spec.quiet_s:g} s)"

    def _partitions(self, ctx: StepContext) -> tuple[list[str], list[tuple[str, int]]]:
        """The selected source topics and their partitions.

        Raises:
            StepFailed: no topic is selected (nothing to watch).
        """
        metas = ctx.source.topics()
        names = select_topics(metas, ctx.include, ctx.exclude)
        parts = [(t, p) for t in names for p in range(metas[t].partitions)]
        if not parts:
            # A vacuous pass would let a source that lists nothing (restarting, or the
            # wrong cluster) through the fence.
            raise StepFailed(
                "no selected topic on the source: nothing to watch (check topics.include "
                f"{list(ctx.include)} and the source's bootstrap servers)"
            )
        return names, parts

    def preview(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        """What it would watch (as verify and dual-write-check: no watch)."""
        names, parts = self._partitions(ctx)
        ctx.ui.line(
            f"would watch the high watermarks of {len(parts)} partitions of "
            f"{len(names)} source topics for {self.spec.quiet_s:g} s"
        )
        return {"partitions": len(parts)}

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        names, parts = self._partitions(ctx)
        ctx.ui.line(
            f"watching the high watermarks of {len(parts)} partitions of {len(names)} "
            f"source topics for {self.spec.quiet_s:g} s"
        )
        result = watch_quiet(
            lambda tps: high_watermarks(ctx, tps),
            parts,
            self.spec.quiet_s,
            interval_s=min(self.spec.interval_s, self.spec.quiet_s),
        )
        record = result.as_record()
        if not result.quiet:
            ctx.ui.table(
                [
                    [w.topic, w.partition, w.first, w.last, w.records, f"{w.rate:.1f}"]
                    for w in result.writing
                ],
                ["topic", "partition", "high watermark then", "now", "records", "records/s"],
            )
            ctx.checkpoint(record)
            raise StepFailed(result.refusal())
        ctx.ui.ok(
            f"the source is quiet: no record on {len(parts)} partitions for "
            f"{result.seconds:.1f} s ({result.samples} samples)"
        )
        return record

"""``consumers-on-target``: each translated consumer group resumed on the target
(:mod:`kmigrate.cutover.consumers`).

Reads the latest successful ``translate-offsets`` record of the plan; waits up to
``timeout_s`` seconds; refuses (exit 1) naming each group without members on the
target, behind its translated offsets or still active on the source.  Journals what it
saw either way (:meth:`ConsumersResult.as_record`).  Read-only.
"""

from __future__ import annotations

from kmigrate.clusters.port import Cluster
from kmigrate.cutover.consumers import (
    ConsumersResult,
    GroupActivity,
    translated_groups,
    wait_for_consumers,
)
from kmigrate.errors import StepFailed
from kmigrate.steps.base import JsonRecord, Step, StepContext
from kmigrate.steps.check_record import CheckRecord


def _activity(cluster: Cluster, group: str) -> GroupActivity:
    state = cluster.group_members(group)
    return GroupActivity(state.state, tuple(state.members), state.active)


class ConsumersOnTargetRecord(CheckRecord):
    """What ``consumers-on-target`` saw (:class:`~kmigrate.steps.check_record.CheckRecord`)."""


class ConsumersOnTarget(Step):
    """Each group translate-offsets applied has members and commits on the target."""

    action = "consumers-on-target"
    record_type = ConsumersOnTargetRecord
    rollback_summary = "nothing to undo (read-only)"

    def describe(self) -> str:
        return f"consumers-on-target (within {self.spec.timeout_s:g} s)"

    def preview(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        """What it would wait for (as verify and dual-write-check: no wait)."""
        translated = ctx.journal_lookup("translate-offsets")
        groups = translated_groups(translated.to_json() if translated is not None else None)
        names = ", ".join(g.group for g in groups) or "those translate-offsets applies"
        ctx.ui.line(
            f"would wait up to {self.spec.timeout_s:g} s for the consumer groups to "
            f"resume on the target: {names}"
        )
        return {"would_check": [g.group for g in groups]}

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        translated = ctx.journal_lookup("translate-offsets")
        groups = translated_groups(translated.to_json() if translated is not None else None)
        if not groups:
            raise StepFailed(
                "no consumer group was translated: run translate-offsets (successfully) "
                "before consumers-on-target"
            )
        ctx.ui.line(
            f"waiting up to {self.spec.timeout_s:g} s for {len(groups)} consumer groups "
            "to resume on the target: " + ", ".join(g.group for g in groups)
        )
        seen: set[str] = set()

        def progress(now: ConsumersResult) -> None:
            for g in now.groups:
                if g.holds and g.group not in seen:
                    seen.add(g.group)
                    ctx.ui.ok(f"group {g.group} resumed on the target ({now.seconds:.1f} s)")

        result = wait_for_consumers(
            groups,
            lambda g: _activity(ctx.target, g),
            ctx.target.group_offsets_of,
            lambda g: _activity(ctx.source, g),
            self.spec.timeout_s,
            interval_s=self.spec.interval_s,
            on_look=progress,
        )
        record = result.as_record()
        ctx.ui.table(
            [
                [
                    g.group,
                    g.target.state if g.target else "-",
                    len(g.target.members) if g.target else 0,
                    g.source.state if g.source else "-",
                    "; ".join(g.problems()) or "ok",
                ]
                for g in result.groups
            ],
            ["group", "target state", "target members", "source state", "check"],
        )
        if not result.holds:
            ctx.checkpoint(record)
            raise StepFailed(result.refusal())
        return record

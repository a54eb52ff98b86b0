"""``check-connectivity``: both clusters reachable and authenticated; the target checked
through its type's control plane (MSK ``describe_cluster_v2`` and bootstrap brokers,
Event Hubs namespace via ARM, Confluent Cloud's declared limits), declared facts
compared with what was found."""

from __future__ import annotations

from dataclasses import asdict

from kmigrate.steps.base import Record, Step, StepContext


class CheckConnectivity(Step):
    """Describe the source (cluster id, brokers, topics) and preflight the target.

    Raises:
        kmigrate.errors.ClusterError: a cluster is unreachable or refused the login, or a
            declared fact disagrees with the discovered one (the message names both).
        kmigrate.errors.UsageError: a missing extra (the message names the pip command).
    """

    action = "check-connectivity"
    rollback_summary = "nothing to undo (read-only)"

    def run(self, ctx: StepContext, previous: Record) -> Record:
        info = ctx.source.describe()
        record: Record = {"source": asdict(info)}
        ctx.ui.table(
            [
                [
                    "source",
                    ctx.source.bootstrap_servers,
                    info.cluster_id,
                    info.broker_count,
                    info.topic_count,
                ]
            ],
            ["cluster", "bootstrap servers", "cluster id", "brokers", "topics"],
        )
        ctx.checkpoint(record)  # what was found stays journaled if the target fails
        found = ctx.target_plane.preflight(ctx.target)
        ctx.ui.line(f"target ({ctx.target_plane.cluster_type}):")
        ctx.ui.table([list(row) for row in found.rows], ["found", "value"])
        record["target"] = {
            **asdict(ctx.target.describe()),
            "type": ctx.target_plane.cluster_type,
            "found": dict(found.rows),
            "facts": found.facts,
        }
        return record

"""``check-connectivity``: both clusters reachable and authenticated."""

from __future__ import annotations

from dataclasses import asdict

from kmigrate.steps.base import Record, Step, StepContext


class CheckConnectivity(Step):
    """Describe both clusters: cluster id, broker count, topic count.

    Raises:
        kmigrate.errors.ClusterError: a cluster is unreachable or refused the login.
    """

    action = "check-connectivity"
    rollback_summary = "nothing to undo (read-only)"

    def run(self, ctx: StepContext, previous: Record) -> Record:
        record: Record = {}
        rows = []
        for cluster in (ctx.source, ctx.target):
            info = cluster.describe()
            record[cluster.role] = asdict(info)
            rows.append(
                [
                    cluster.role,
                    cluster.bootstrap_servers,
                    info.cluster_id,
                    info.broker_count,
                    info.topic_count,
                ]
            )
        ctx.ui.table(rows, ["cluster", "bootstrap servers", "cluster id", "brokers", "topics"])
        return record

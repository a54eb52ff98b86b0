"""``check-connectivity``: both clusters reachable and authenticated; the target checked
through its type's control plane (MSK ``describe_cluster_v2`` and bootstrap brokers,
Event Hubs namespace via ARM, Confluent Cloud's declared limits), declared facts
compared with what was found; then every ACL operation the plan's steps need on the
selected topics and consumer groups (:mod:`kmigrate.permissions`)."""

from __future__ import annotations

from dataclasses import asdict

from kmigrate.errors import StepFailed
from kmigrate.offsets.groups import select_groups
from kmigrate.permissions import Missing, Scope, describe_unchecked, missing, needs_for
from kmigrate.selection import select_topics
from kmigrate.steps.base import Record, Step, StepContext

#: Target types whose Kafka endpoint authorizes with Kafka ACLs (CreateTopics there is
#: the control plane; Event Hubs' hubs are not Kafka topics to create).
ACL_TARGETS = ("kafka", "redpanda", "msk", "confluent-cloud")


class CheckConnectivity(Step):
    """Describe the source (cluster id, brokers, topics) and preflight the target.

    Raises:
        kmigrate.errors.ClusterError: a cluster is unreachable or refused the login, or a
            declared fact disagrees with the discovered one (the message names both).
        kmigrate.errors.StepFailed: the principal lacks an operation a step of the plan
            needs (each named, with its resource and the step).
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
        record["permissions"] = check_permissions(ctx)
        return record


def check_permissions(ctx: StepContext) -> dict[str, object]:
    """Check the operations the plan's steps need; returns what was checked.

    Returns ``{"checked": N, "missing": [...], "not_checked": [...]}``.

    Raises:
        StepFailed: an operation is missing (all of them named).
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    needs = needs_for(ctx.actions)
    if not needs:
        return {"checked": 0, "missing": [], "not_checked": []}
    topics = select_topics(list(ctx.source.topics()), ctx.include, ctx.exclude)
    granted: dict[Scope, dict[str, frozenset[str] | None]] = {
        ("source", "topic"): ctx.source.topic_operations(topics),
        ("target", "topic"): ctx.target.topic_operations(topics),
    }
    if ctx.groups is not None:
        groups = select_groups(ctx.source.group_ids(), *ctx.groups)
        granted[("source", "group")] = ctx.source.group_operations(groups)
        # Only groups the target has: DescribeGroups of an unknown group is answered
        # with coordinator errors and retries (and, timed out under load, has crashed
        # librdkafka 2.x: confluentinc/librdkafka#4605).
        there = set(ctx.target.group_ids())
        granted[("target", "group")] = {
            **dict.fromkeys(groups),
            **ctx.target.group_operations([g for g in groups if g in there]),
        }
    lacking, unknown = missing(needs, granted)
    absent = unknown.pop(("target", "topic", "CREATE"), [])
    if absent and ctx.target_type in ACL_TARGETS and ctx.target.cluster_operations() is not None:
        # CreateTopics with validate_only is authorized like the real request.  Only
        # where the broker reports authorized operations (KIP-430): a broker without
        # Kafka's semantics may create the topic anyway (Tansu does).
        for outcome in ctx.target.create_topics(
            [(t, 1, 1, {}) for t in absent], validate_only=True
        ):
            if outcome.status == "failed" and "AUTHORIZATION_FAILED" in (outcome.error or ""):
                lacking.append(
                    Missing(
                        "target", "topic", outcome.topic, "CREATE", "provision-topics: CreateTopics"
                    )
                )
    notes = describe_unchecked(unknown)
    for note in notes:
        ctx.ui.line(f"permissions: {note}")
    checked = sum(len(v) for v in granted.values())
    if lacking:
        ctx.ui.table(
            [[m.operation, m.side, m.resource, m.name, m.why] for m in lacking],
            ["missing operation", "cluster", "resource", "name", "needed by"],
        )
        raise StepFailed(
            f"the principal lacks {len(lacking)} operation(s) the plan needs: "
            + "; ".join(str(m) for m in lacking[:10])
            + (" …" if len(lacking) > 10 else "")
            + "; grant them (kafka-acls --add) and run this step again"
        )
    ctx.ui.ok(
        f"permissions: every operation the plan's steps need is granted "
        f"({len(needs)} operations on {checked} topics and groups)"
    )
    return {"checked": checked, "missing": [], "not_checked": notes}

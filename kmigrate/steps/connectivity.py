"""``check-connectivity``: both clusters reachable and authenticated; the target checked
through its type's control plane (MSK ``describe_cluster_v2`` and bootstrap brokers,
Event Hubs namespace via ARM, Confluent Cloud's declared limits), declared facts
compared with what was found; then every ACL operation the plan's steps need on the
selected topics and consumer groups (:mod:`kmigrate.permissions`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Self

from kmigrate.errors import ClusterError, KmigrateError, StepFailed
from kmigrate.offsets.groups import select_groups
from kmigrate.permissions import (
    Missing,
    Scope,
    describe_unchecked,
    exactly_once_missing,
    missing,
    needs_for,
)
from kmigrate.selection import select_topics
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord
from kmigrate.steps.mirror_mm2 import connector_configs, plane_for
from kmigrate.steps.source_acls import acls_client

#: Target types whose Kafka endpoint authorizes with Kafka ACLs (CreateTopics there is
#: the control plane; Event Hubs' hubs are not Kafka topics to create).
ACL_TARGETS = ("kafka", "redpanda", "msk", "confluent-cloud")
#: Why MM2 runs at least once when the plan leaves ``exactly_once`` to the cluster.
NO_EOS = "has no exactly-once source support (worker exactly.once.source.support, KIP-618)"


@dataclass
class ConnectivityRecord(StepRecord):
    """What check-connectivity journals.

    Attributes:
        source: the source as described (``cluster_id``, ``broker_count``,
            ``topic_count``, ...; :class:`kmigrate.clusters.port.ClusterInfo` as a dict).
        target: the target as described, plus ``type``, ``found`` (what its
            control plane found) and ``facts``; None until it answered.
        permissions: ``{"checked": N, "missing": [...], "not_checked": [...]}``
            (:func:`check_permissions`); None until checked.
    """

    source: dict[str, Any]
    target: dict[str, Any] | None = None
    permissions: dict[str, Any] | None = None

    def to_json(self) -> JsonRecord:
        """The journal form: ``source``, then ``target`` and ``permissions`` once known."""
        data: JsonRecord = {"source": self.source}
        if self.target is not None:
            data["target"] = self.target
        if self.permissions is not None:
            data["permissions"] = self.permissions
        return data

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record."""
        if not data:
            return None
        return cls(dict(data.get("source") or {}), data.get("target"), data.get("permissions"))

    def summary(self) -> str:
        """``source: 1 brokers, 12 topics, target: 3 brokers, 12 topics``."""
        return ", ".join(
            f"{role}: {side.get('broker_count', '?')} brokers, "
            f"{side.get('topic_count', len(side.get('topics') or []))} topics"
            for role, side in (("source", self.source), ("target", self.target))
            if isinstance(side, dict)
        )


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
    record_type = ConnectivityRecord
    rollback_summary = "nothing to undo (read-only)"

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        info = ctx.source.describe()
        record = ConnectivityRecord(asdict(info))
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
        ctx.checkpoint(record.to_json())  # what was found stays journaled if the target fails
        found = ctx.target_plane.preflight(ctx.target)
        ctx.ui.line(f"target ({ctx.target_plane.cluster_type}):")
        ctx.ui.table([list(row) for row in found.rows], ["found", "value"])
        record.target = {
            **asdict(ctx.target.describe()),
            "type": ctx.target_plane.cluster_type,
            "found": dict(found.rows),
            "facts": found.facts,
        }
        record.permissions = check_permissions(ctx)
        return record.to_json()


def check_permissions(ctx: StepContext) -> dict[str, object]:
    """Check the operations the plan's steps need; returns what was checked.

    Returns ``{"checked": N, "missing": [...], "not_checked": [...]}``.

    Raises:
        StepFailed: an operation is missing (all of them named).
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    needs = needs_for(ctx.actions)
    if not needs and ctx.exactly_once_writer is None:
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
    if any(n.resource == "cluster" for n in needs) and ctx.target_type in ACL_TARGETS:
        # Only where the target holds Kafka ACLs (provision-acls writes files for MSK
        # with IAM and Event Hubs); None where the broker does not report them.
        granted[("target", "cluster")] = {"kafka-cluster": ctx.target.cluster_operations()}
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
    eos_lacking, eos_notes, eos_checked = exactly_once_lacking(ctx)
    lacking += eos_lacking
    notes += eos_notes
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
        f"({len(needs)} operations on {checked} topics and groups"
        + (
            f", MirrorMaker 2 exactly-once on {eos_checked} transactional ids)"
            if eos_checked
            else ")"
        )
    )
    return {"checked": checked, "missing": [], "not_checked": notes}


def exactly_once_lacking(ctx: StepContext) -> tuple[list[Missing], list[str], int]:
    """What the principal MirrorMaker 2 writes as lacks on the target for exactly-once
    source (KIP-618: Write and Describe on each task's transactional id,
    IdempotentWrite on the cluster; :func:`kmigrate.permissions.exactly_once_missing`),
    from the target's ACL bindings (DescribeAcls).  Returns ``(missing, notes,
    transactional ids checked)``;
    a note says why nothing was checked: a target without Kafka ACLs, a Connect
    cluster (asked when the plan does not say ``exactly_once``) without exactly-once
    source support or that did not answer, a principal that is not a SASL user, or
    bindings that could not be read (the principal lacks DESCRIBE on the cluster)."""
    writer = ctx.exactly_once_writer
    if writer is None:
        return [], [], 0
    what = f"MirrorMaker 2 exactly-once transactional ids of {writer.connector}"
    if ctx.target_type not in ACL_TARGETS:
        return [], [f"{what} not checked: the target does not authorize with Kafka ACLs"], 0
    if not writer.required:
        try:
            plane = plane_for(writer.connect, ctx)
            configs = connector_configs(writer.connect, ctx.mm2_plan, plane)
        except KmigrateError as exc:
            return [], [f"{what} not checked: {exc}"], 0
        if configs[0].get("exactly.once.support") != "required":
            return [], [f"MirrorMaker 2 copies at least once: {plane.where} {NO_EOS}"], 0
    if not writer.principal:
        return [], [f"{what} not checked: the target principal is not a SASL user"], 0
    try:
        bindings = acls_client(ctx.target, "target").describe().bindings
    except ClusterError as exc:
        return [], [f"{what} not checked: {exc}"], 0
    return exactly_once_missing(writer, bindings), [], writer.tasks

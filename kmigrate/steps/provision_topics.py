"""``provision-topics``: create the snapshot's topics on the target.

Never deletes, shrinks or overwrites a topic that already exists on the
target: differences are reported, and a target topic with fewer partitions
than the source is an error (the mirror could not keep each record in its
source partition, and so its per-key order).  Rollback deletes only the topics
this step created, as its record says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from kmigrate import snapshot as snapshots
from kmigrate.adapters.kafka import TopicMeta
from kmigrate.errors import ClusterError, PartialRollback, StepFailed
from kmigrate.snapshot import Snapshot
from kmigrate.steps.base import Record, Step, StepContext
from kmigrate.steps.export_topics import export_snapshot
from kmigrate.topic_configs import KAFKA_DEFAULTS, STOCK_DEFAULTS, customised, translate

CREATE, EXISTS, CONFLICT = "create", "exists", "conflict"


@dataclass
class TopicAction:
    """What provisioning does with one topic.

    ``action`` is ``create``, ``exists`` (left as it is; ``differences`` lists
    how it differs) or ``conflict`` (cannot hold the source's records).
    """

    topic: str
    action: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    rewritten: dict[str, str] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_provision(
    snapshot: Snapshot,
    target_topics: dict[str, TopicMeta],
    target_configs: dict[str, dict[str, str | None]],
    target_brokers: int,
    target_type: str,
    replication_factor: int | None = None,
) -> list[TopicAction]:
    """Decide, per snapshot topic, what the target needs.  Pure: no cluster access.

    Replication factor is ``replication_factor`` when given (a managed target
    usually wants 3 whatever a single-node source had), else the source's;
    either is capped at the target's broker count.
    """
    actions = []
    for name, topic in sorted(snapshot.topics.items()):
        tr = translate(topic.configs, target_type, snapshot.source.type)
        wanted = replication_factor or topic.replication_factor
        rf = min(wanted, max(target_brokers, 1))
        notes = []
        if wanted != topic.replication_factor:
            notes.append(
                f"replication factor {topic.replication_factor} -> {wanted}: set by the plan"
            )
        if rf < wanted:
            notes.append(
                f"replication factor {wanted} -> {rf}: the target has {target_brokers} broker(s)"
            )
        existing = target_topics.get(name)
        if existing is None:
            actions.append(
                TopicAction(
                    name,
                    CREATE,
                    topic.partitions,
                    rf,
                    tr.configs,
                    tr.dropped,
                    tr.rewritten,
                    notes=notes,
                )
            )
            continue
        diffs = []
        action = EXISTS
        if existing.partitions < topic.partitions:
            action = CONFLICT
            diffs.append(
                f"partitions: target has {existing.partitions}, source has "
                f"{topic.partitions} (fewer partitions cannot keep records in their "
                "source partition)"
            )
        elif existing.partitions > topic.partitions:
            diffs.append(
                f"partitions: target has {existing.partitions}, source has {topic.partitions}"
            )
        if existing.replication_factor != rf:
            diffs.append(
                f"replication factor: target has {existing.replication_factor}, wanted {rf}"
            )
        have = customised(target_configs.get(name, {}), target_type)
        # A key missing on one side holds the target's stock default there.
        stock = STOCK_DEFAULTS.get(target_type, KAFKA_DEFAULTS)
        for key in sorted(set(have) | set(tr.configs)):
            if have.get(key, stock.get(key)) != tr.configs.get(key, stock.get(key)):
                diffs.append(
                    f"{key}: target has {have.get(key, '(default)')}, "
                    f"source has {tr.configs.get(key, '(default)')}"
                )
        actions.append(
            TopicAction(
                name,
                action,
                existing.partitions,
                existing.replication_factor,
                tr.configs,
                tr.dropped,
                tr.rewritten,
                diffs,
                notes,
            )
        )
    return actions


def preview(
    ctx: StepContext, snapshot: Snapshot, replication_factor: int | None = None
) -> list[TopicAction]:
    """Read the target and plan provisioning for ``snapshot`` (read-only).

    Raises:
        kmigrate.errors.ClusterError: the target could not be read.
    """
    info = ctx.target.describe()
    topics = ctx.target.topics()
    wanted = [n for n in snapshot.topics if n in topics]
    raw = ctx.target.topic_configs(wanted)
    configs = {t: {k: v.value for k, v in entries.items()} for t, entries in raw.items()}
    return plan_provision(
        snapshot, topics, configs, info.broker_count, ctx.target_type, replication_factor
    )


def show(ctx: StepContext, actions: list[TopicAction]) -> None:
    """Print the provisioning plan as tables."""
    rows = []
    for a in actions:
        configs = ", ".join(f"{k}={v}" for k, v in a.configs.items()) or "-"
        detail = "; ".join(a.differences + a.notes) or "-"
        rows.append([a.topic, a.action, a.partitions, a.replication_factor, configs, detail])
    ctx.ui.table(rows, ["topic", "action", "partitions", "RF", "configs", "differences / notes"])
    dropped = [[a.topic, key, reason] for a in actions for key, reason in a.dropped.items()]
    dropped += [[a.topic, key, why] for a in actions for key, why in a.rewritten.items()]
    if dropped:
        ctx.ui.line("config keys dropped or rewritten:")
        ctx.ui.table(dropped, ["topic", "key", "why"])


def find_snapshot(ctx: StepContext, configured: str | None) -> Snapshot:
    """The snapshot to provision: the configured file, else the plan's export, else live.

    In a dry run (and in ``kmigrate plan``) a configured file that does not
    exist yet is replaced by a live export, with a warning.

    Raises:
        kmigrate.errors.PlanError: the snapshot file is invalid (or missing, in a real run).
        kmigrate.errors.ClusterError: a live export failed.
    """
    if configured:
        path = ctx.state_dir / configured
        if path.exists() or not ctx.dry_run:
            return snapshots.load(path)
        ctx.ui.warn(f"snapshot {path} does not exist yet; previewing from the live source")
    exported = ctx.journal_lookup("export-topics")
    if exported and Path(exported["output"]).exists():
        return snapshots.load(Path(exported["output"]))
    return export_snapshot(
        ctx.source, ctx.source_type, ctx.include, ctx.exclude, consumer_groups=False
    )


def provision(
    ctx: StepContext,
    snapshot: Snapshot,
    previous: Record,
    replication_factor: int | None = None,
) -> Record:
    """Create the missing topics; report the rest.  The step's whole forward action.

    ``replication_factor`` overrides the source's for every topic created.

    Raises:
        StepFailed: a conflicting topic, or the target refused a creation
            (topics created before the failure stay recorded for rollback).
    """
    actions = preview(ctx, snapshot, replication_factor)
    show(ctx, actions)
    # Topics an earlier run created, or an interrupted attempt set out to create,
    # count as ours: a re-run (``--rerun``) creates only what is missing and its
    # record keeps every topic created across runs, so rollback deletes them all.
    ours_before = set(previous.get("planned_create", [])) | set(previous.get("created", []))
    in_snapshot = {a.topic for a in actions}
    conflicts = [a for a in actions if a.action == CONFLICT]
    record: Record = {
        "created": sorted(
            {a.topic for a in actions if a.action != CREATE and a.topic in ours_before}
            | {t for t in set(previous.get("created", [])) if t not in in_snapshot}
        ),
        "existing": sorted(
            a.topic for a in actions if a.action != CREATE and a.topic not in ours_before
        ),
        "differences": {a.topic: a.differences for a in actions if a.differences},
        "dropped": {a.topic: a.dropped for a in actions if a.dropped},
        "planned_create": sorted(a.topic for a in actions if a.action == CREATE),
    }
    if conflicts:
        names = ", ".join(a.topic for a in conflicts)
        raise StepFailed(
            f"target topics cannot hold the source's records: {names} "
            "(see the differences above); nothing was created"
        )
    to_create = [a for a in actions if a.action == CREATE]
    if ctx.dry_run:
        for a in to_create:
            ctx.ui.line(
                f"would create topic {a.topic} ({a.partitions} partitions, RF "
                f"{a.replication_factor})"
            )
        return record
    record["planned_create"] = sorted(set(record["planned_create"]) | ours_before)
    ctx.checkpoint(record)
    outcomes = ctx.target.create_topics(
        (a.topic, a.partitions, a.replication_factor, a.configs) for a in to_create
    )
    failed = []
    for outcome in outcomes:
        if outcome.status == "created":
            record["created"].append(outcome.topic)
        elif outcome.status == "exists":
            record["existing"].append(outcome.topic)
        else:
            failed.append(f"{outcome.topic}: {outcome.error}")
    record["created"].sort()
    record["existing"].sort()
    record["planned_create"] = []
    ctx.checkpoint(record)
    for outcome in outcomes:
        if outcome.status == "created":
            ctx.ui.ok(f"created topic {outcome.topic}")
    if failed:
        raise StepFailed("the target refused to create: " + "; ".join(failed))
    return record


class ProvisionTopics(Step):
    """Create topics on the target with portable configs."""

    action = "provision-topics"
    rollback_summary = "deletes the topics this step created"

    def run(self, ctx: StepContext, previous: Record) -> Record:
        snapshot = find_snapshot(ctx, self.spec.snapshot)
        return provision(ctx, snapshot, previous, self.spec.replication_factor)

    def rollback(self, ctx: StepContext, record: Record) -> list[str]:
        lines = []
        failed = []
        ours = sorted(set(record.get("created", [])) | set(record.get("planned_create", [])))
        for topic in reversed(ours):
            if ctx.dry_run:
                lines.append(f"would delete target topic {topic} (created by kmigrate)")
                continue
            try:
                lines.append(f"{ctx.target.delete_topic(topic)} target topic {topic}")
            except ClusterError as exc:
                failed.append(str(exc))
        for topic in record.get("existing", []):
            lines.append(f"leave target topic {topic} untouched (it existed before kmigrate)")
        if failed:
            raise PartialRollback("; ".join(failed), lines)
        return lines


def as_json(actions: list[TopicAction]) -> list[dict[str, object]]:
    """The provisioning plan as JSON-ready dicts."""
    return [asdict(a) for a in actions]

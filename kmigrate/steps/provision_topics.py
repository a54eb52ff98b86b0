"""``provision-topics``: create the snapshot's topics on the target, translated by the
named rules of :mod:`kmigrate.targets.translate`, through the target type's control plane
(Kafka Admin API for kafka, redpanda, msk and confluent-cloud, validating first; ARM
for Event Hubs hubs).

Never deletes, shrinks or overwrites a topic that already exists on the target:
differences are reported, and a target topic with fewer partitions than the source
is refused (the mirror could not keep each record in its source partition, and so
its per-key order).  A refusal blocks the step unless the step's ``accept:`` lists it
(per topic glob and key); accepted refusals are journaled.  Rollback deletes only the
topics (hubs) this step created, as its record says, through the same control plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from kmigrate import snapshot as snapshots
from kmigrate.clusters.port import DESCRIBED
from kmigrate.errors import ClusterError, PartialRollback, PlanError, StepFailed
from kmigrate.snapshot import Snapshot
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord
from kmigrate.steps.export_topics import ExportRecord, export_snapshot
from kmigrate.targets.model import (
    CONVERTED,
    CREATE,
    DROPPED,
    EXISTS,
    REFUSE,
    Accept,
    SourceConfig,
    SourceTopic,
    TopicTranslation,
    Translation,
)
from kmigrate.targets.profiles import TargetProfile
from kmigrate.targets.translate import translate_topics
from kmigrate.ui import UI

#: Broker configs read from a self-run target -> the fact they become: the replication
#: factor a new topic gets there, and the replicas an ``acks=all`` write needs.
BROKER_DEFAULT_KEYS = {
    "default.replication.factor": "default_replication_factor",
    "min.insync.replicas": "min_insync_replicas",
    "log.message.timestamp.after.max.ms": "timestamp_after_max_ms",
    "log.message.timestamp.before.max.ms": "timestamp_before_max_ms",
}


def source_topics(snapshot: Snapshot) -> dict[str, SourceTopic]:
    """The snapshot's topics as rule inputs, each config with the source the broker gave
    it (``config_sources``; none recorded means an explicit topic value)."""
    out = {}
    for name, topic in snapshot.topics.items():
        configs: dict[str, str | SourceConfig] = {
            key: SourceConfig(value, topic.config_sources.get(key, "DYNAMIC_TOPIC_CONFIG"))
            for key, value in topic.configs.items()
        }
        out[name] = SourceTopic(topic.partitions, topic.replication_factor, configs)
    return out


def translate_snapshot(
    snapshot: Snapshot,
    profile: TargetProfile,
    facts: dict[str, object],
    accept: list[Accept] | tuple[Accept, ...] = (),
    *,
    existing: dict[str, int] | None = None,
    replication_factor: int | None = None,
) -> Translation:
    """The whole translation table for ``snapshot`` on a target.  Pure: no cluster access,
    so ``kmigrate plan --offline`` uses it with the plan's declared facts.

    Args:
        existing: ``{topic (hub): partitions}`` already on the target (all of them: the
            hub limit counts unselected ones too); None offline.
        replication_factor: the plan's override (``provision-topics.replication_factor``).
    """
    existing = existing or {}
    return translate_topics(
        source_topics(snapshot),
        snapshot.source.type,
        profile,
        facts,
        accept,
        existing={n: p for n, p in existing.items() if n in snapshot.topics},
        existing_topic_count=len(existing),
        replication_factor=replication_factor,
    )


def target_facts(ctx: StepContext, profile: TargetProfile) -> dict[str, object]:
    """The plan's declared facts, plus the broker count from Metadata where it caps the
    replication factor and the plan did not declare it, and on a self-run target its
    brokers' ``default.replication.factor``, ``min.insync.replicas`` and timestamp bounds.

    Raises:
        kmigrate.errors.ClusterError: the target could not be read.
    """
    facts = dict(ctx.target_plane.facts)
    if profile.broker_counted and "broker_count" not in facts:
        facts["broker_count"] = ctx.target.describe().broker_count
    if profile.self_run and not set(BROKER_DEFAULT_KEYS.values()) <= facts.keys():
        found = ctx.target.broker_configs(BROKER_DEFAULT_KEYS)
        for key, fact in BROKER_DEFAULT_KEYS.items():
            if fact not in facts and key in found:
                facts[fact] = int(found[key])
    return facts


def preview(
    ctx: StepContext,
    snapshot: Snapshot,
    replication_factor: int | None = None,
    accept: list[Accept] | tuple[Accept, ...] = (),
) -> tuple[Translation, dict[str, list[str]]]:
    """Read the target and translate ``snapshot`` for it (read-only).

    Returns the translation and, per topic that exists already, how it differs.

    Raises:
        kmigrate.errors.ClusterError: the target could not be read.
        kmigrate.errors.UsageError: a fact the target type needs is missing.
    """
    profile = ctx.target_plane.profile()
    facts = target_facts(ctx, profile)
    existing = ctx.target_plane.existing(ctx.target)
    translation = translate_snapshot(
        snapshot,
        profile,
        facts,
        accept,
        existing=existing,
        replication_factor=replication_factor,
    )
    return translation, differences(ctx, translation, profile)


def differences(
    ctx: StepContext, translation: Translation, profile: TargetProfile
) -> dict[str, list[str]]:
    """How topics that exist already differ from what the translation wants: partitions,
    replication factor and configs (Kafka-API targets; a key missing on one side holds
    the target's stock default there).

    Raises:
        kmigrate.errors.ClusterError: the target could not be read.
    """
    there = [t for t in translation.topics if t.action == EXISTS or _partitions_refused(t)]
    if not there or not profile.kafka_topic_configs:
        return {}
    metas = ctx.target.topics()
    raw = ctx.target.topic_configs([t.name for t in there if t.name in metas])
    out: dict[str, list[str]] = {}
    for t in there:
        meta = metas.get(t.name)
        if meta is None:
            continue
        diffs = []
        source_partitions = next(
            (int(d.source_value or 0) for d in t.decisions if d.key == "partitions"), None
        )
        if source_partitions is not None and meta.partitions < source_partitions:
            diffs.append(
                f"partitions: target has {meta.partitions}, source has {source_partitions} "
                "(fewer partitions cannot keep records in their source partition)"
            )
        if t.replication_factor is not None and meta.replication_factor != t.replication_factor:
            diffs.append(
                f"replication factor: target has {meta.replication_factor}, "
                f"wanted {t.replication_factor}"
            )
        values = {k: v.value for k, v in raw.get(t.name, {}).items()}
        have = {k: v for k, v in values.items() if v is not None and v != ""}
        want = t.configs
        stock = profile.defaults
        ours = {k for k, v in have.items() if k not in stock or v != stock[k]}
        for key in sorted(ours | set(want)):
            if have.get(key, stock.get(key)) != want.get(key, stock.get(key)):
                diffs.append(
                    f"{key}: target has {have.get(key, '(default)')}, "
                    f"source has {want.get(key, '(default)')}"
                )
        if diffs:
            out[t.name] = diffs
    return out


def _partitions_refused(t: TopicTranslation) -> bool:
    return any(d.key == "partitions" and d.rule == "partitions_not_fewer" for d in t.refusals)


def show(ui: UI, translation: Translation, diffs: dict[str, list[str]] | None = None) -> None:
    """Print the translation: per topic its action, partitions and replication factor with
    why; then every config decision (copied, converted from -> to, dropped, refused) with
    the reason and the rule's name; then warnings and differences."""
    diffs = diffs or {}
    rows = [
        [
            t.name,
            t.action,
            t.partitions,
            "-" if t.replication_factor is None else t.replication_factor,
            t.replication_factor_reason,
        ]
        for t in translation.topics
    ]
    grouped = not getattr(ui, "details", False) and len(rows) > GROUP_FROM
    if grouped:
        ui.table(
            _grouped(rows), ["topics", "action", "partitions", "RF", "replication factor: why"]
        )
    else:
        ui.table(rows, ["topic", "action", "partitions", "RF", "replication factor: why"])
    decisions = [
        [
            t.name,
            d.key,
            d.decision + (" (accepted)" if d.accepted else ""),
            _value(d.source_value),
            _value(d.target_value)
            if d.target_key is None
            else f"{d.target_key}={_value(d.target_value)}",
            d.reason,
            d.rule,
        ]
        for t in translation.topics
        for d in t.decisions
    ]
    if decisions:
        ui.line("configs:")
        if grouped:
            ui.table(
                _grouped(decisions), ["topics", "key", "decision", "from", "to", "reason", "rule"]
            )
        else:
            ui.table(decisions, ["topic", "key", "decision", "from", "to", "reason", "rule"])
    if grouped:
        ui.line(f"(rows alike but for the topic are grouped; --details for all {len(rows):,})")
    notes = [[n.message, n.rule] for t in translation.topics for n in t.warnings]
    notes += [[n.message, n.rule] for n in translation.warnings]
    for message, rule in notes:
        ui.warn(f"{message} [{rule}]")
    for topic, texts in sorted(diffs.items()):
        for text in texts:
            ui.line(f"{topic}: {text}")


#: Above this many topics, rows alike but for the topic are shown once (``--details``: all).
GROUP_FROM = 20


def _grouped(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows whose columns other than the first (the topic) are equal, as one row:
    ``382 topics (orders-0001, orders-0002, …)`` then the shared columns."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for row in rows:
        groups.setdefault(tuple(str(c) for c in row[1:]), []).append(str(row[0]))
    out = []
    for rest, names in groups.items():
        label = (
            names[0] if len(names) == 1 else f"{len(names):,} topics ({', '.join(names[:2])}, …)"
        )
        if len(names) == 2:
            label = f"2 topics ({names[0]}, {names[1]})"
        out.append([label, *rest])
    return out


def _value(value: str | None) -> str:
    return "-" if value is None else value


def refusal_text(translation: Translation) -> str:
    """``topic: key (reason) [rule]; ...`` for every refusal that blocks provisioning,
    with how to accept the ones a plan may accept."""
    parts = []
    acceptable = False
    for t in translation.refused:
        for d in t.refusals:
            parts.append(f"{t.name}: {d.key} ({d.reason}) [{d.rule}]")
            acceptable = acceptable or d.acceptable
    text = "; ".join(parts)
    if acceptable:
        text += (
            "; to go on without a refused key, list it under the provision-topics step's "
            'accept: (e.g. accept: [{topic: "NAME-OR-GLOB", key: KEY}])'
        )
    return text


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
        try:
            return snapshots.load(path)
        except PlanError as exc:
            if path.exists():
                raise
            # Not there yet: a real run refuses (the error names the file); a dry run
            # and ``kmigrate plan`` preview from a live export instead, with a warning.
            ctx.effects.refuse(ctx.ui, exc, warn=False)
        ctx.ui.warn(f"snapshot {path} does not exist yet; previewing from the live source")
    exported = ctx.journal_lookup("export-topics")
    if isinstance(exported, ExportRecord) and Path(exported.output).exists():
        return snapshots.load(Path(exported.output))
    return export_snapshot(
        ctx.source, ctx.source_type, ctx.include, ctx.exclude, consumer_groups=False
    )


def _record(
    translation: Translation, diffs: dict[str, list[str]], ours_before: set[str]
) -> JsonRecord:
    topics = translation.topics
    in_snapshot = {t.name for t in topics}
    return {
        "created": sorted({t.name for t in topics if t.action != CREATE and t.name in ours_before}),
        "existing": sorted(
            t.name for t in topics if t.action == EXISTS and t.name not in ours_before
        ),
        "differences": diffs,
        "dropped": {
            t.name: {d.key: d.reason for d in t.decisions if d.decision == DROPPED}
            for t in topics
            if any(d.decision == DROPPED for d in t.decisions)
        },
        "rewritten": {
            t.name: {
                d.key: f"{d.source_value} -> {d.target_key + '=' if d.target_key else ''}"
                f"{d.target_value}: {d.reason}"
                for d in t.decisions
                if d.decision == CONVERTED
            }
            for t in topics
            if any(d.decision == CONVERTED for d in t.decisions)
        },
        "accepted": [
            {"topic": t.name, "key": d.key, "reason": d.reason, "rule": d.rule}
            for t in topics
            for d in t.decisions
            if d.accepted
        ],
        "planned_create": sorted(t.name for t in topics if t.action == CREATE),
        "_in_snapshot": sorted(in_snapshot),
    }


def provision(
    ctx: StepContext,
    snapshot: Snapshot,
    previous: JsonRecord,
    replication_factor: int | None = None,
    accept: list[Accept] | tuple[Accept, ...] = (),
) -> JsonRecord:
    """Create the missing topics; report the rest.  The step's whole forward action.

    Raises:
        StepFailed: a refusal not accepted (nothing is created), or the target refused
            a creation (topics created before the failure stay recorded for rollback).
    """
    translation, diffs = preview(ctx, snapshot, replication_factor, accept)
    show(ctx.ui, translation, diffs)
    # Topics an earlier run created, or an interrupted attempt set out to create,
    # count as ours: a re-run (``--rerun``) creates only what is missing and its
    # record keeps every topic created across runs, so rollback deletes them all.
    ours_before = set(previous.get("planned_create", [])) | set(previous.get("created", []))
    record = _record(translation, diffs, ours_before)
    in_snapshot = set(record.pop("_in_snapshot"))
    record["created"] = sorted(
        set(record["created"]) | {t for t in previous.get("created", []) if t not in in_snapshot}
    )
    if translation.refused:
        raise StepFailed(
            "the translation refuses: " + refusal_text(translation) + "; nothing was created"
        )
    for item in record["accepted"]:
        ctx.ui.warn(
            f"accepted refusal: {item['topic']}: {item['key']} is not set ({item['reason']})"
        )
    to_create = [t for t in translation.topics if t.action == CREATE]
    if ctx.effects.before_writes(lambda: _describe_creates(ctx, to_create)):
        return record
    record["planned_create"] = sorted(set(record["planned_create"]) | ours_before)
    ctx.checkpoint(record)
    outcomes = ctx.target_plane.provision(ctx.target, to_create) if to_create else []
    failed = []
    for outcome in outcomes:
        if outcome.status == "created":
            record["created"].append(outcome.topic)
        elif outcome.status == "exists":
            record["existing"].append(outcome.topic)
        else:
            failed.append(f"{outcome.topic}: {outcome.error}")
    record["created"] = sorted(set(record["created"]))
    record["existing"].sort()
    record["planned_create"] = []
    ctx.checkpoint(record)
    made = [o.topic for o in outcomes if o.status == "created"]
    if len(made) > GROUP_FROM and not ctx.ui.details:
        parts = sum(t.partitions for t in to_create if t.name in set(made))
        ctx.ui.ok(f"created {len(made):,} topics ({parts:,} partitions)")
    else:
        for name in made:
            ctx.ui.ok(f"created topic {name}")
    existing = len(translation.topics) - len(to_create)
    ctx.ui.line(
        f"provision: {len(made):,} topics created, {existing:,} already on the target, "
        f"{len(translation.topics):,} in the snapshot"
    )
    if failed:
        raise StepFailed("the target refused to create: " + "; ".join(failed))
    return record


def _describe_creates(ctx: StepContext, to_create: list[TopicTranslation]) -> None:
    """The lines of a dry run: the topics provisioning would create (grouped when many)."""
    if len(to_create) > GROUP_FROM and not ctx.ui.details:
        parts = sum(t.partitions for t in to_create)
        ctx.ui.line(f"would create {len(to_create):,} topics ({parts:,} partitions)")
        return
    for t in to_create:
        rf = "" if t.replication_factor is None else f", RF {t.replication_factor}"
        ctx.ui.line(f"would create topic {t.name} ({t.partitions} partitions{rf})")


def accepts(spec: Any) -> list[Accept]:
    """A provision-topics spec's ``accept:`` entries as rule inputs."""
    return [Accept(a.topic, a.key) for a in getattr(spec, "accept", None) or []]


@dataclass
class ProvisionRecord(StepRecord):
    """What provision-topics journals.

    Attributes:
        created: target topics this step created (rollback deletes them).
        existing: target topics that existed before kmigrate (left untouched).
        differences: per existing topic, how it differs from the source.
        dropped / rewritten: per topic, ``{config key: why}`` of configs not
            copied / converted.
        accepted: refusals the step's ``accept:`` let through, ``[{"topic",
            "key", "reason", "rule"}]``.
        planned_create: topics about to be created (journaled before the
            CreateTopics call, emptied after it).
    """

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    differences: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, dict[str, str]] = field(default_factory=dict)
    rewritten: dict[str, dict[str, str]] = field(default_factory=dict)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    planned_create: list[str] = field(default_factory=list)

    def to_json(self) -> JsonRecord:
        """The journal form: the attributes under their own names."""
        return {
            "created": self.created,
            "existing": self.existing,
            "differences": self.differences,
            "dropped": self.dropped,
            "rewritten": self.rewritten,
            "accepted": self.accepted,
            "planned_create": self.planned_create,
        }

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record."""
        if not data:
            return None
        return cls(
            list(data.get("created") or []),
            list(data.get("existing") or []),
            dict(data.get("differences") or {}),
            dict(data.get("dropped") or {}),
            dict(data.get("rewritten") or {}),
            list(data.get("accepted") or []),
            list(data.get("planned_create") or []),
        )

    def ours(self) -> list[str]:
        """The topics kmigrate created or was about to create, sorted."""
        return sorted(set(self.created) | set(self.planned_create))

    def summary(self) -> str:
        """``created 12, existing 1``."""
        return f"created {len(self.created)}, existing {len(self.existing)}"


class ProvisionTopics(Step):
    """Create topics on the target, translated by the target's rules."""

    action = "provision-topics"
    record_type = ProvisionRecord
    rollback_summary = "deletes the topics this step created"

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        snapshot = find_snapshot(ctx, self.spec.snapshot)
        return provision(ctx, snapshot, previous, self.spec.replication_factor, accepts(self.spec))

    def rollback(self, ctx: StepContext, record: JsonRecord) -> list[str]:
        lines = []
        failed = []
        ours = sorted(set(record.get("created", [])) | set(record.get("planned_create", [])))
        for topic in reversed(ours):
            try:
                done = ctx.target_plane.remove(ctx.target, topic)
            except ClusterError as exc:
                failed.append(str(exc))
                continue
            if done == DESCRIBED:  # a dry run's control plane: described, not made
                lines.append(f"would delete target topic {topic} (created by kmigrate)")
                continue
            lines.append(
                f"deleted target topic {topic} (created by kmigrate)"
                if done == "deleted"
                else f"target topic {topic} was already gone ({done})"
            )
        left = ctx.effects.past("left", "would leave")
        for topic in record.get("existing", []):
            lines.append(f"{left} target topic {topic} untouched (it existed before kmigrate)")
        if failed:
            raise PartialRollback("; ".join(failed), lines)
        return lines


__all__ = [
    "REFUSE",
    "ProvisionTopics",
    "find_snapshot",
    "preview",
    "provision",
    "show",
    "translate_snapshot",
]

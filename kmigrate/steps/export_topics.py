"""``export-topics``: snapshot the selected source topics, consumer groups and ACL bindings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Self

from kmigrate.clusters.port import Cluster
from kmigrate.plan.writer import AclFindings
from kmigrate.selection import select_topics
from kmigrate.snapshot import Snapshot, SnapshotSource, TopicSnapshot, dump, write
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord
from kmigrate.steps.source_acls import acls_client, read_acls, say_acls, with_acls
from kmigrate.topic_configs import customised


def export_snapshot(
    source: Cluster,
    source_type: str,
    include: tuple[str, ...] | list[str],
    exclude: tuple[str, ...] | list[str],
    *,
    consumer_groups: bool = True,
) -> Snapshot:
    """Read the selected topics' shape, customised configs and group offsets.

    Partitions and replication factor come from Metadata (Redpanda has no
    replication.factor config); configs are kept when their value differs
    from the stock default, whatever the broker says their source is, and
    that source is recorded (``config_sources``) for the translation rules.

    Raises:
        kmigrate.errors.ClusterError: a read failed.
    """
    metas = source.topics()
    names = select_topics(metas, include, exclude)
    configs = source.topic_configs(names)
    topics = {}
    for name in names:
        entries = configs.get(name, {})
        values = {k: v.value for k, v in entries.items()}
        sensitive = frozenset(k for k, v in entries.items() if v.is_sensitive)
        kept = customised(values, source_type, sensitive)
        topics[name] = TopicSnapshot(
            partitions=metas[name].partitions,
            replication_factor=metas[name].replication_factor,
            configs=kept,
            config_sources={k: entries[k].source for k in kept if entries[k].source},
        )
    groups: dict[str, dict[str, dict[int, int]]] = {}
    if consumer_groups and names:
        for group, offsets in source.group_offsets(names).items():
            for (topic, partition), offset in sorted(offsets.items()):
                groups.setdefault(group, {}).setdefault(topic, {})[partition] = offset
    return Snapshot(
        source=SnapshotSource(type=source_type, bootstrap_servers=source.bootstrap_servers),
        topics=topics,
        consumer_groups=groups,
    )


def export_with_acls(
    source: Cluster,
    source_type: str,
    include: tuple[str, ...] | list[str],
    exclude: tuple[str, ...] | list[str],
    *,
    consumer_groups: bool = True,
) -> tuple[Snapshot, AclFindings]:
    """:func:`export_snapshot` plus the source's ACL bindings (``acls``, read as ``init``
    reads them: :mod:`kmigrate.steps.source_acls`), and what was found of them (a
    source without an authorizer is ``no-authorizer``, never "no ACLs"), for the
    caller to say (:func:`~kmigrate.steps.source_acls.say_acls`).

    Raises:
        kmigrate.errors.ClusterError: a topic or group read failed (an ACL read that
            fails is said, not raised: the snapshot is written without ``acls``).
    """
    snapshot = export_snapshot(
        source, source_type, include, exclude, consumer_groups=consumer_groups
    )
    found = read_acls(acls_client(source, "source"))
    return with_acls(snapshot, found), found


@dataclass
class ExportRecord(StepRecord):
    """What export-topics journals: the snapshot file and what it holds.

    Attributes:
        output: the snapshot's path (provision-topics reads it from here).
        topics / consumer_groups: their names, sorted.
        sha256: SHA-256 (hex) of the snapshot's text.
    """

    output: str
    topics: list[str] = field(default_factory=list)
    consumer_groups: list[str] = field(default_factory=list)
    sha256: str = ""

    def to_json(self) -> JsonRecord:
        """The journal form: ``{"output", "topics", "consumer_groups", "sha256"}``."""
        return {
            "output": self.output,
            "topics": self.topics,
            "consumer_groups": self.consumer_groups,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record or one without a snapshot path."""
        if not data or not isinstance(data.get("output"), str):
            return None
        return cls(
            data["output"],
            list(data.get("topics") or []),
            list(data.get("consumer_groups") or []),
            str(data.get("sha256") or ""),
        )

    def summary(self) -> str:
        """``12 topics -> state/snapshots/topics.yaml``."""
        return f"{len(self.topics)} topics -> {self.output}"


class ExportTopics(Step):
    """Write the snapshot to ``output`` (relative to the state dir)."""

    action = "export-topics"
    record_type = ExportRecord
    rollback_summary = "nothing to undo (read-only)"

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        snapshot, found = export_with_acls(
            ctx.source,
            ctx.source_type,
            ctx.include,
            ctx.exclude,
            consumer_groups=self.spec.consumer_groups,
        )
        say_acls(ctx.ui, found)
        path = ctx.state_dir / self.spec.output
        rows = [
            [
                n,
                t.partitions,
                t.replication_factor,
                ", ".join(f"{k}={v}" for k, v in t.configs.items()) or "-",
            ]
            for n, t in snapshot.topics.items()
        ]
        ctx.ui.table(rows, ["topic", "partitions", "replication factor", "customised configs"])
        text = dump(snapshot)
        what = f"{len(snapshot.topics)} topics, {len(snapshot.consumer_groups)} consumer groups"
        if ctx.effects.write_state(lambda: write(snapshot, path)):
            ctx.ui.ok(f"wrote {path} ({what})")
        else:  # described, not written (a dry run's effects)
            ctx.ui.line(f"would write {path} ({what})")
        return ExportRecord(
            str(path),
            sorted(snapshot.topics),
            sorted(snapshot.consumer_groups),
            hashlib.sha256(text.encode()).hexdigest(),
        ).to_json()

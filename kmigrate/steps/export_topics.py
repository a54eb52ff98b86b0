"""``export-topics``: snapshot the selected source topics and consumer groups."""

from __future__ import annotations

import hashlib

from kmigrate.clusters.port import Cluster
from kmigrate.selection import select_topics
from kmigrate.snapshot import Snapshot, SnapshotSource, TopicSnapshot, dump, write
from kmigrate.steps.base import Record, Step, StepContext
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


class ExportTopics(Step):
    """Write the snapshot to ``output`` (relative to the state dir)."""

    action = "export-topics"
    rollback_summary = "nothing to undo (read-only)"

    def run(self, ctx: StepContext, previous: Record) -> Record:
        snapshot = export_snapshot(
            ctx.source,
            ctx.source_type,
            ctx.include,
            ctx.exclude,
            consumer_groups=self.spec.consumer_groups,
        )
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
        if ctx.dry_run:
            ctx.ui.line(
                f"would write {path} ({len(snapshot.topics)} topics, "
                f"{len(snapshot.consumer_groups)} consumer groups)"
            )
        else:
            write(snapshot, path)
            ctx.ui.ok(
                f"wrote {path} ({len(snapshot.topics)} topics, "
                f"{len(snapshot.consumer_groups)} consumer groups)"
            )
        return {
            "output": str(path),
            "topics": sorted(snapshot.topics),
            "consumer_groups": sorted(snapshot.consumer_groups),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }

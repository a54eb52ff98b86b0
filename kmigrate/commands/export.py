"""``kmigrate export``: snapshot topics without a plan (the export-topics step's code)."""

from __future__ import annotations

from pathlib import Path

from kmigrate.context import standalone_context
from kmigrate.preflight import check_output_option
from kmigrate.snapshot import dump, write
from kmigrate.steps.export_topics import export_with_acls
from kmigrate.steps.source_acls import say_acls
from kmigrate.ui import UI


def export(
    bootstrap_servers: str,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    output: str | None,
    ui: UI,
    *,
    source_type: str = "kafka",
    consumer_groups: bool = True,
    source_config: tuple[str, ...] = (),
) -> int:
    """Write the snapshot to ``output``, or print it when ``output`` is None.  Returns 0.

    Raises:
        kmigrate.errors.UsageError: ``output`` cannot be written (checked first).
        kmigrate.errors.ClusterError: the source could not be read.
    """
    check_output_option("--out", output)
    ctx = standalone_context(
        bootstrap_servers,
        None,
        ui,
        topics=topics,
        exclude=exclude,
        source_type=source_type,
        source_config=source_config,
    )
    snapshot, found = export_with_acls(
        ctx.source, source_type, topics, exclude, consumer_groups=consumer_groups
    )
    if output is None:
        ui.line(f"# ACLs: {found.summary()}")  # a YAML comment: the output stays a snapshot
        ui.line(dump(snapshot).rstrip())
    else:
        say_acls(ui, found)
        write(snapshot, Path(output))
        ui.ok(
            f"wrote {output} ({len(snapshot.topics)} topics, "
            f"{len(snapshot.consumer_groups)} consumer groups)"
        )
    ui.emit_json(snapshot.model_dump(mode="json"))
    return 0

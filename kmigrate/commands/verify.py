"""``kmigrate verify``: compare two clusters partition by partition without a plan."""

from __future__ import annotations

from pathlib import Path

from kmigrate.context import standalone_context
from kmigrate.preflight import check_output_option
from kmigrate.selection import select_topics
from kmigrate.steps.verify import run_verify
from kmigrate.ui import UI


def verify(
    source: str,
    target: str,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    ui: UI,
    *,
    report: str | None = None,
    workers: int | None = None,
    source_config: tuple[str, ...] = (),
    target_config: tuple[str, ...] = (),
) -> int:
    """Compare whole partitions of the selected topics.  Returns 0 when all match.

    ``workers``: processes the partitions are sharded over (default: the
    number of CPUs).

    Raises:
        kmigrate.errors.UsageError: ``report`` cannot be written (checked first).
        kmigrate.errors.VerificationFailed: a partition differs (exit 1); the
            message names the partition and the first differing offsets.
    """
    check_output_option("--report", report)
    ctx = standalone_context(
        source,
        target,
        ui,
        topics=topics,
        exclude=exclude,
        source_config=source_config,
        target_config=target_config,
    )
    names = select_topics(ctx.source.topics(), topics, exclude)
    record = run_verify(ctx, names, None, Path(report) if report else None, workers=workers)
    ui.emit_json(record)
    return 0

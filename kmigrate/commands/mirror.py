"""``kmigrate mirror``: copy topics between two clusters without a plan."""

from __future__ import annotations

from kmigrate.context import standalone_context
from kmigrate.plan.schema import MirrorStep
from kmigrate.steps.mirror import Mirror
from kmigrate.ui import UI


def mirror(
    source: str,
    target: str,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    ui: UI,
    *,
    dry_run: bool = False,
    append: bool = False,
    source_config: tuple[str, ...] = (),
    target_config: tuple[str, ...] = (),
) -> int:
    """Copy every record present on the source now (same code as the step).  Returns 0.

    Without a journal there is no resume; a re-run is refused because the
    target partitions are no longer empty (``append`` overrides).

    Raises:
        kmigrate.errors.StepFailed: the target refused records, lacks a topic,
            or already holds records.
        kmigrate.errors.UsageError: a ``KEY=VALUE`` setting is malformed.
    """
    ctx = standalone_context(
        source,
        target,
        ui,
        topics=topics,
        exclude=exclude,
        dry_run=dry_run,
        source_config=source_config,
        target_config=target_config,
    )
    record = Mirror(MirrorStep(action="mirror", append=append)).run(ctx, {})
    ui.emit_json(record)
    return 0

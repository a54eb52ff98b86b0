"""``kmigrate mirror``: copy topics between two clusters without a plan."""

from __future__ import annotations

from kmigrate.context import standalone_context
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
) -> int:
    """Copy every record present on the source now (same code as the step).  Returns 0.

    Without a journal there is no resume: a re-run copies again.

    Raises:
        kmigrate.errors.StepFailed: the target refused records or lacks a topic.
    """
    ctx = standalone_context(source, target, ui, topics=topics, exclude=exclude, dry_run=dry_run)
    record = Mirror(None).run(ctx, {})
    ui.emit_json(record)
    return 0

"""``kmigrate translate-offsets``: consumer groups onto the target without a plan."""

from __future__ import annotations

from pathlib import Path

from kmigrate.context import standalone_context
from kmigrate.runtime.dry_run import dry_run_context
from kmigrate.steps.translate_offsets import translate_groups
from kmigrate.ui import UI


def translate_offsets(
    source: str,
    target: str,
    ui: UI,
    *,
    groups: tuple[str, ...] = ("*",),
    exclude_groups: tuple[str, ...] = (),
    state_dir: str | Path = ".kmigrate",
    dry_run: bool = False,
    source_config: tuple[str, ...] = (),
    target_config: tuple[str, ...] = (),
) -> int:
    """Translate the selected groups through the offset map in ``state_dir``.  Returns 0.

    The same code as the ``translate-offsets`` step; with ``dry_run`` it
    prints the table and changes nothing.  Without a journal there is no
    rollback: the JSON output (``--output json``) holds the previous target
    offsets to restore by hand.

    Raises:
        kmigrate.errors.StepFailed: no offset map, or a group was refused (named).
        kmigrate.errors.UsageError: a ``KEY=VALUE`` setting is malformed.
    """
    ctx = standalone_context(
        source,
        target,
        ui,
        source_config=source_config,
        target_config=target_config,
    )
    ctx.state_dir = Path(state_dir)
    if dry_run:
        ctx = dry_run_context(ctx)
    record = translate_groups(ctx, groups, exclude_groups)
    ui.emit_json(record)
    return 0

"""``kmigrate provision``: create a snapshot's topics on a target without a plan."""

from __future__ import annotations

from pathlib import Path

from kmigrate import snapshot as snapshots
from kmigrate.context import standalone_context
from kmigrate.runtime.dry_run import dry_run_context
from kmigrate.steps import provision_topics as provisioning
from kmigrate.ui import UI


def provision(
    snapshot_path: str,
    bootstrap_servers: str,
    ui: UI,
    *,
    target_type: str = "kafka",
    dry_run: bool = False,
    target_config: tuple[str, ...] = (),
    replication_factor: int | None = None,
) -> int:
    """Create the snapshot's missing topics on the target (same code as the step).

    Returns 0.

    Raises:
        kmigrate.errors.PlanError: the snapshot is invalid.
        kmigrate.errors.StepFailed: a conflicting topic, or a refused creation.
    """
    snapshot = snapshots.load(Path(snapshot_path))
    ctx = standalone_context(
        None,
        bootstrap_servers,
        ui,
        target_type=target_type,
        target_config=target_config,
    )
    if dry_run:
        ctx = dry_run_context(ctx)
    record = provisioning.provision(ctx, snapshot, {}, replication_factor)
    ui.emit_json(record)
    return 0

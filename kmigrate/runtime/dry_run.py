"""A dry run's step context: the same steps, given clusters that make no write."""

from __future__ import annotations

from kmigrate.clusters.dry_run import DryRunCluster, DryRunPlane
from kmigrate.steps.base import StepContext


def dry_run_context(ctx: StepContext) -> StepContext:
    """``ctx`` with its source, target and target control plane wrapped
    (:mod:`kmigrate.clusters.dry_run`): reads go to the clusters, writes are
    not made.  Changed in place and returned; ``ctx.dry_run`` is set."""
    ctx.dry_run = True
    ctx.source = DryRunCluster(ctx.source)
    ctx.target = DryRunCluster(ctx.target)
    ctx.target_plane = DryRunPlane(ctx.target_plane)
    return ctx

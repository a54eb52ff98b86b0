"""A dry run's step context: the same steps, given clusters and effects that
describe each write instead of making it.

The runner swaps two adapters into the context (and calls each step's
:meth:`~kmigrate.steps.base.Step.preview` instead of ``run``): the clusters
(:mod:`kmigrate.clusters.dry_run`) and the local effects
(:class:`DryRunEffects`, the describing twin of
:class:`kmigrate.steps.effects.Effects`).  No step asks which run it is in.
"""

from __future__ import annotations

from collections.abc import Callable

from kmigrate.clusters.dry_run import DryRunCluster, DryRunPlane
from kmigrate.errors import KmigrateError
from kmigrate.steps.base import StepContext
from kmigrate.steps.effects import Command, Effects
from kmigrate.ui import UI


class DryRunEffects(Effects):
    """Effects that describe instead of acting: no command runs, no one is asked,
    no file is written, no gate refuses (a closed one is warned about)."""

    def run_command(self, ui: UI, command: Command) -> int | None:
        """Not run: None (the step says ``would run: ...``)."""
        return None

    def confirm(self, ui: UI, question: str) -> bool | None:
        """Not asked: None (the step says what it would ask)."""
        return None

    def write_state(self, write: Callable[[], None]) -> bool:
        """Not written: False."""
        return False

    def refuse(self, ui: UI, error: KmigrateError, *, warn: bool = True) -> None:
        """Not refused: warns ``a real run would be refused: ...`` (unless ``warn``
        is False) and goes on."""
        if warn:
            ui.warn(f"a real run would be refused: {error}")

    def before_writes(self, describe: Callable[[], None]) -> bool:
        """Calls ``describe`` (what the step would write); True: the step ends."""
        describe()
        return True

    def past(self, done: str, would: str) -> str:
        """``would`` (``would forget``)."""
        return would


def dry_run_context(ctx: StepContext) -> StepContext:
    """``ctx`` with its source, target and target control plane wrapped
    (:mod:`kmigrate.clusters.dry_run`) and its effects describing
    (:class:`DryRunEffects`): reads go to the clusters, writes are not made.
    Changed in place and returned."""
    ctx.source = DryRunCluster(ctx.source)
    ctx.target = DryRunCluster(ctx.target)
    ctx.target_plane = DryRunPlane(ctx.target_plane)
    ctx.effects = DryRunEffects()
    return ctx

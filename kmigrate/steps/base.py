"""What every step is: a forward action and a rollback built from its record.

A step's ``run`` returns a *record*: plain JSON data that says exactly what it
did (topics created, offset ranges copied, the exit code of a command).  The
executor journals it; ``rollback`` later works from that record alone, never
from a recomputation.  With ``ctx.dry_run`` a step goes through the same code
but reads only and describes each write instead of making it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from kmigrate.clusters import kafka
from kmigrate.clusters.port import Cluster, ControlPlane
from kmigrate.ui import UI

Record = dict[str, Any]


@dataclass
class StepContext:
    """What a step may use.

    Attributes:
        source: the source cluster's data plane (read-only).
        target: the target cluster's data plane.
        target_plane: the target type's control plane (profile, preflight, topics or
            hubs created and deleted through the right API); a plain Kafka one by default.
        source_type: ``kafka`` or ``redpanda``: decides which stock defaults apply.
        target_type: the target's plan ``type``.
        include / exclude: the topic selection globs.
        base_dir: where relative paths of the plan start (the plan's folder).
        state_dir: journal, snapshots and reports.
        ui: all output.
        dry_run: describe writes instead of making them.
        checkpoint: saves a running step's partial record to the journal.
        journal_lookup: ``action -> record`` of the latest successful step of
            that action in this plan (e.g. the mirror's offset ranges for verify).
        missing_topics_advice: what to do when source topics are missing on
            the target, e.g. ``create them with: kmigrate execute PLAN --phase
            provision --rerun export-topics --rerun provision-topics; then run
            this step again`` (from the plan; a generic hint without one).
        step_id: the running step's stable id (a slug), also used in log file names.
        actions: the actions of every step of the plan (check-connectivity checks
            the permissions they need).
        groups: the consumer-group selection ``(include, exclude)`` of the plan's
            translate-offsets steps, if any.
        secret_env: names of the environment variables the plan's secret
            references (``${VAR}``) name; shell steps run without them.
    """

    source: Cluster
    target: Cluster
    ui: UI
    target_plane: ControlPlane = field(default_factory=lambda: kafka.KafkaPlane(kafka.TYPE))
    source_type: str = "kafka"
    target_type: str = "kafka"
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ("__*", "_schemas")
    base_dir: Path = field(default_factory=Path.cwd)
    state_dir: Path = field(default_factory=lambda: Path.cwd() / ".kmigrate")
    dry_run: bool = False
    checkpoint: Callable[[Record], None] = lambda record: None
    journal_lookup: Callable[[str], Record | None] = lambda action: None
    missing_topics_advice: Callable[[], str] = lambda: (
        "create them first (kmigrate provision SNAPSHOT --target …)"
    )
    step_id: str = "standalone"
    actions: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    secret_env: frozenset[str] = frozenset()


class Step:
    """Base class: subclasses set ``action`` and implement ``run``/``rollback``."""

    action: ClassVar[str] = ""
    #: How rollback undoes this step, shown by ``kmigrate plan``.
    rollback_summary: ClassVar[str] = "nothing to undo"

    def __init__(self, spec: Any) -> None:
        self.spec = spec

    def describe(self) -> str:
        """One line for tables."""
        return self.action

    def run(self, ctx: StepContext, previous: Record) -> Record:
        """Do the step; return its record.

        Args:
            previous: the record of an earlier, unfinished attempt (empty if none);
                a step that can resume uses it.

        Raises:
            kmigrate.errors.StepFailed: the step did not succeed (after
                checkpointing what it did do).
        """
        raise NotImplementedError

    def rollback(self, ctx: StepContext, record: Record) -> list[str]:
        """Undo what ``record`` says the step did; return one line per action.

        With ``ctx.dry_run`` nothing changes and the lines say what would.
        """
        return []

"""What every step is: a forward action and a rollback built from its record.

A step's ``run`` returns a *record*: plain JSON data that says exactly what it
did (topics created, offset ranges copied, the exit code of a command).  The
executor journals it; ``rollback`` later works from that record alone, never
from a recomputation.  Each step's record has a type (a
:class:`StepRecord`: ``to_json``, ``from_json``, ``summary``); ``status``, the
report and other steps read journaled records through it, by the journaled
action (:func:`kmigrate.steps.read_record`), never by guessing from their
keys.  A dry run goes through the same code with clusters that describe each
write (the dry-run wrapper of :mod:`kmigrate.clusters`) and effects that describe each local
one (:mod:`kmigrate.steps.effects`); a step never asks which run it is in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from kmigrate.clusters import kafka
from kmigrate.clusters.port import Cluster, ControlPlane
from kmigrate.permissions import ExactlyOnceWriter
from kmigrate.steps.effects import Effects
from kmigrate.ui import UI

#: A step's record as journaled: plain JSON data (the form :meth:`StepRecord.to_json` gives).
JsonRecord = dict[str, Any]


class StepRecord(ABC):
    """What one step did, typed; each step's record type subclasses this.

    The journal stores :meth:`to_json` (plain JSON, its shape fixed: an
    existing journal must still load), and readers rebuild the type with
    :meth:`from_json`, found by the journaled action
    (:func:`kmigrate.steps.read_record`).
    """

    @abstractmethod
    def to_json(self) -> JsonRecord:
        """The journal form: plain JSON data, the same keys the journal always held."""
        raise NotImplementedError

    @classmethod
    @abstractmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal form; None for no record, or one this type
        cannot read (a record from an older kmigrate).  Never raises on odd
        contents: absent keys take their defaults."""
        raise NotImplementedError

    @abstractmethod
    def summary(self) -> str:
        """One line for ``kmigrate status`` and the evidence report's step table
        (``6 partitions, 1,200 records in 6 runs``)."""
        raise NotImplementedError


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
        effects: the local side effects (shell commands, the operator's
            confirmation, files under ``state_dir``, refusals); a dry run's
            describe each instead (:mod:`kmigrate.steps.effects`).
        checkpoint: saves a running step's partial record to the journal.
        journal_lookup: ``action -> record`` (typed: the action's
            :class:`StepRecord`) of the latest successful step of that action in
            this plan (e.g. the mirror's offset ranges for verify); None when
            none ran or its type reads the record as none (an older format).
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
        acls: the plan's ``acls:`` block (an :class:`~kmigrate.plan.schema.AclsSpec`),
            None when it has none (provision-acls reads it).
        target_spec: the plan's target cluster spec (``auth``, ``cluster_arn``,
            ``namespace`` ...: which ACL translation applies), None outside a plan.
        mm2_plan: what MirrorMaker 2's connector configs are made from (a
            :class:`~kmigrate.engines.mirrormaker2.spec.Mm2Plan`: the plan's model, or
            a selection a plan-less command builds), secrets as references; None
            when no step runs MM2.
        exactly_once_writer: who writes MirrorMaker 2's records on the target with
            exactly-once source (KIP-618), when a mirror step of the plan uses it
            (check-connectivity checks its transactional-id ACLs); else None.
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
    effects: Effects = field(default_factory=Effects)
    checkpoint: Callable[[JsonRecord], None] = lambda record: None
    journal_lookup: Callable[[str], StepRecord | None] = lambda action: None
    missing_topics_advice: Callable[[], str] = lambda: (
        "create them first (kmigrate provision SNAPSHOT --target …)"
    )
    step_id: str = "standalone"
    actions: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    secret_env: frozenset[str] = frozenset()
    acls: Any = None
    target_spec: Any = None
    mm2_plan: Any = None
    exactly_once_writer: ExactlyOnceWriter | None = None


class Step:
    """Base class: subclasses set ``action`` and implement ``run``/``rollback``."""

    action: ClassVar[str] = ""
    #: The type of the record ``run`` returns (in its journal form).
    record_type: ClassVar[type[StepRecord]]
    #: How rollback undoes this step, shown by ``kmigrate plan``.
    rollback_summary: ClassVar[str] = "nothing to undo"

    def __init__(self, spec: Any) -> None:
        self.spec = spec

    def describe(self) -> str:
        """One line for tables."""
        return self.action

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        """Do the step; return its record (journal form: ``record_type(...).to_json()``).

        Args:
            previous: the record of an earlier, unfinished attempt (empty if none);
                a step that can resume uses it.

        Raises:
            kmigrate.errors.StepFailed: the step did not succeed (after
                checkpointing what it did do).
        """
        raise NotImplementedError

    def preview(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        """What a dry run does instead of :meth:`run` (``ctx``'s clusters and
        effects describe each write): by default :meth:`run` itself.  A read-only
        step that waits or reads records (verify, dual-write-check, the cutover
        checks) overrides it to say what it would read, and reads no records.

        Raises:
            kmigrate.errors.StepFailed: as :meth:`run`, for what can be read.
        """
        return self.run(ctx, previous)

    def rollback(self, ctx: StepContext, record: JsonRecord) -> list[str]:
        """Undo what ``record`` says the step did; return one line per action.

        With a dry run's clusters and effects nothing changes and the lines say
        what would.
        """
        return []

"""The steps a plan can hold, each a forward action with its rollback.

``build_step(spec)`` turns a validated step from the plan into its
:class:`~kmigrate.steps.base.Step`; ``read_record(action, data)`` a journaled
record into its step's :class:`~kmigrate.steps.base.StepRecord`, found by the
journaled action.
"""

from __future__ import annotations

from typing import Any

from kmigrate.plan.schema import ManualStep, ShellStep
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord
from kmigrate.steps.connectivity import CheckConnectivity
from kmigrate.steps.consumers_on_target import ConsumersOnTarget
from kmigrate.steps.dual_write_check import DualWriteCheck
from kmigrate.steps.export_topics import ExportTopics
from kmigrate.steps.manual import Manual
from kmigrate.steps.mirror import Mirror
from kmigrate.steps.provision_acls import ProvisionAcls
from kmigrate.steps.provision_topics import ProvisionTopics
from kmigrate.steps.shell import Shell
from kmigrate.steps.source_quiet import SourceQuiet
from kmigrate.steps.translate_offsets import TranslateOffsets
from kmigrate.steps.verify import Verify

REGISTRY: dict[str, type[Step]] = {
    cls.action: cls for cls in (CheckConnectivity, ExportTopics, ProvisionTopics, Mirror, Verify)
}
REGISTRY[DualWriteCheck.action] = DualWriteCheck
REGISTRY[TranslateOffsets.action] = TranslateOffsets
REGISTRY[SourceQuiet.action] = SourceQuiet
REGISTRY[ConsumersOnTarget.action] = ConsumersOnTarget
REGISTRY[ProvisionAcls.action] = ProvisionAcls

_ALL: list[type[Step]] = [*REGISTRY.values(), Manual, Shell]
#: The journaled action -> the type of its step's record.
RECORDS: dict[str, type[StepRecord]] = {cls.action: cls.record_type for cls in _ALL}


def record_of(action: str, data: Any) -> StepRecord | None:
    """The journaled record ``data`` of a step of ``action``, as that step's
    record type (what a step's ``ctx.journal_lookup`` gives); None when there
    is no record, the action is unknown, or the type reads it as none (a
    record from an older kmigrate).

    Raises:
        TypeError, ValueError, AttributeError, KeyError: the record's contents
            do not fit its type (a damaged journal): a step does not go on
            from a record it cannot read.
    """
    kind = RECORDS.get(action)
    if kind is None or not isinstance(data, dict) or not data:
        return None
    return kind.from_json(data)


def read_record(action: str, data: Any) -> StepRecord | None:
    """As :func:`record_of`, but None for a record whose contents do not fit
    its type: readers of the journal (``status``, the report, rollback's
    preview) show such a record as found and never fail on it."""
    try:
        return record_of(action, data)
    except (TypeError, ValueError, AttributeError, KeyError):
        return None


def build_step(spec: Any) -> Step:
    """The :class:`Step` for a validated step spec from the plan."""
    if isinstance(spec, ManualStep):
        return Manual(spec)
    if isinstance(spec, ShellStep):
        return Shell(spec)
    return REGISTRY[spec.action](spec)


__all__ = [
    "RECORDS",
    "REGISTRY",
    "JsonRecord",
    "Step",
    "StepContext",
    "StepRecord",
    "build_step",
    "read_record",
    "record_of",
]

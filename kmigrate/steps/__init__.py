"""The steps a plan can hold, each a forward action with its rollback.

``build_step(spec)`` turns a validated step from the plan into its
:class:`~kmigrate.steps.base.Step`.
"""

from __future__ import annotations

from typing import Any

from kmigrate.plan.schema import ManualStep, ShellStep
from kmigrate.steps.base import Step, StepContext
from kmigrate.steps.connectivity import CheckConnectivity
from kmigrate.steps.consumers_on_target import ConsumersOnTarget
from kmigrate.steps.dual_write_check import DualWriteCheck
from kmigrate.steps.export_topics import ExportTopics
from kmigrate.steps.manual import Manual
from kmigrate.steps.mirror import Mirror
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


def build_step(spec: Any) -> Step:
    """The :class:`Step` for a validated step spec from the plan."""
    if isinstance(spec, ManualStep):
        return Manual(spec)
    if isinstance(spec, ShellStep):
        return Shell(spec)
    return REGISTRY[spec.action](spec)


__all__ = ["REGISTRY", "Step", "StepContext", "build_step"]

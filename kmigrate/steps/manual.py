"""``manual``: an instruction for the operator, confirmed before the plan goes on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from kmigrate.errors import StepFailed
from kmigrate.journal import now_iso, whoami
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord


@dataclass
class ManualRecord(StepRecord):
    """What a manual step journals: the instruction, and who confirmed it when
    (``whoami()``, ISO 8601 UTC)."""

    instruction: str
    confirmed_by: str | None = None
    confirmed_at: str | None = None

    def to_json(self) -> JsonRecord:
        """The journal form: ``{"instruction", "confirmed_by", "confirmed_at"}``."""
        data: JsonRecord = {"instruction": self.instruction}
        if self.confirmed_by is not None:
            data["confirmed_by"] = self.confirmed_by
            data["confirmed_at"] = self.confirmed_at
        return data

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record."""
        if not data:
            return None
        return cls(
            str(data.get("instruction") or ""), data.get("confirmed_by"), data.get("confirmed_at")
        )

    def summary(self) -> str:
        """``confirmed by ops@host`` (or the instruction, while unconfirmed)."""
        if self.confirmed_by is not None:
            return f"confirmed by {self.confirmed_by}"
        return f"manual: {self.instruction}"


class Manual(Step):
    """Print the instruction and wait for confirmation (or ``--yes``).

    Raises:
        StepFailed: the operator did not confirm (or no one could: no TTY, no ``--yes``).
    """

    action = "manual"
    record_type = ManualRecord

    @property
    def rollback_summary(self) -> str:  # type: ignore[override]
        return f"manual: {self.spec.rollback}" if self.spec.rollback else "nothing to undo"

    def describe(self) -> str:
        return f"manual: {self.spec.manual}"

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        ctx.ui.line(f"MANUAL STEP: {self.spec.manual}")
        answer = ctx.effects.confirm(ctx.ui, "Done?")
        if answer is None:  # described, not asked (a dry run's effects)
            ctx.ui.line("would wait for the operator to confirm")
            return ManualRecord(self.spec.manual).to_json()
        if not answer:
            raise StepFailed(f"manual step not confirmed: {self.spec.manual}")
        return ManualRecord(self.spec.manual, whoami(), now_iso()).to_json()

    def rollback(self, ctx: StepContext, record: JsonRecord) -> list[str]:
        if not self.spec.rollback:
            return []
        ctx.ui.line(f"MANUAL ROLLBACK: {self.spec.rollback}")
        answer = ctx.effects.confirm(ctx.ui, "Done?")
        if answer is None:  # described, not asked
            return [f"would ask the operator to: {self.spec.rollback}"]
        if not answer:
            raise StepFailed(f"manual rollback not confirmed: {self.spec.rollback}")
        return [f"operator {whoami()} confirmed: {self.spec.rollback}"]

"""``manual``: an instruction for the operator, confirmed before the plan goes on."""

from __future__ import annotations

from kmigrate.errors import StepFailed
from kmigrate.journal import now_iso, whoami
from kmigrate.steps.base import Record, Step, StepContext


class Manual(Step):
    """Print the instruction and wait for confirmation (or ``--yes``).

    Raises:
        StepFailed: the operator did not confirm (or no one could: no TTY, no ``--yes``).
    """

    action = "manual"

    @property
    def rollback_summary(self) -> str:  # type: ignore[override]
        return f"manual: {self.spec.rollback}" if self.spec.rollback else "nothing to undo"

    def describe(self) -> str:
        return f"manual: {self.spec.manual}"

    def run(self, ctx: StepContext, previous: Record) -> Record:
        ctx.ui.line(f"MANUAL STEP: {self.spec.manual}")
        if ctx.dry_run:
            ctx.ui.line("would wait for the operator to confirm")
            return {"instruction": self.spec.manual}
        if not ctx.ui.confirm("Done?"):
            raise StepFailed(f"manual step not confirmed: {self.spec.manual}")
        return {
            "instruction": self.spec.manual,
            "confirmed_by": whoami(),
            "confirmed_at": now_iso(),
        }

    def rollback(self, ctx: StepContext, record: Record) -> list[str]:
        if not self.spec.rollback:
            return []
        ctx.ui.line(f"MANUAL ROLLBACK: {self.spec.rollback}")
        if ctx.dry_run:
            return [f"would ask the operator to: {self.spec.rollback}"]
        if not ctx.ui.confirm("Done?"):
            raise StepFailed(f"manual rollback not confirmed: {self.spec.rollback}")
        return [f"operator {whoami()} confirmed: {self.spec.rollback}"]

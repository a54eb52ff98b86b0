"""``shell``: run a command; its ``rollback`` command runs on rollback.

Commands run with ``/bin/sh`` in the plan's folder, with the operator's
environment minus the variables the plan's secret references name (unless the
step says ``env: inherit-secrets``); their output, secret values masked, goes
to ``<state_dir>/logs/<step>.log`` (0600, in a 0700 folder) and its last lines
to the terminal.  The journal keeps the command and its exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from kmigrate.errors import StepFailed
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord
from kmigrate.steps.effects import Command


@dataclass
class ShellRecord(StepRecord):
    """What a shell step journals: the command, its exit code and its log file."""

    command: str
    exit_code: int | None = None
    log: str | None = None

    def to_json(self) -> JsonRecord:
        """The journal form: ``{"command", "exit_code", "log"}``."""
        return {"command": self.command, "exit_code": self.exit_code, "log": self.log}

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record."""
        if not data:
            return None
        return cls(str(data.get("command") or ""), data.get("exit_code"), data.get("log"))

    def summary(self) -> str:
        """``exit code 0`` (or the command, before it ran)."""
        if self.exit_code is not None:
            return f"exit code {self.exit_code}"
        return f"shell: {self.command}"


class Shell(Step):
    """A shell command with an optional rollback command."""

    action = "shell"
    record_type = ShellRecord

    @property
    def rollback_summary(self) -> str:  # type: ignore[override]
        return f"runs: {self.spec.rollback}" if self.spec.rollback else "nothing to undo"

    def _command(self, ctx: StepContext, text: str, log_name: str) -> Command:
        """``text`` as the step runs it: in the plan's folder, logged to
        ``<state_dir>/logs/<log_name>``, without the plan's secrets unless
        ``env: inherit-secrets``."""
        inherit = getattr(self.spec, "env", None) == "inherit-secrets"
        return Command(
            text,
            self.spec.timeout_s,
            ctx.state_dir / "logs" / log_name,
            ctx.base_dir,
            frozenset() if inherit else ctx.secret_env,
        )

    def describe(self) -> str:
        return f"shell: {self.spec.shell}"

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        command = self._command(ctx, self.spec.shell, f"step-{ctx.step_id}.log")
        log = command.log
        code = ctx.effects.run_command(ctx.ui, command)
        if code is None:  # described, not run (a dry run's effects)
            ctx.ui.line(f"would run: {self.spec.shell}")
            return ShellRecord(self.spec.shell).to_json()
        record = ShellRecord(self.spec.shell, code, str(log)).to_json()
        if code != 0:
            ctx.checkpoint(record)
            raise StepFailed(f"command exited with {code}: {self.spec.shell} (log: {log})")
        return record

    def rollback(self, ctx: StepContext, record: JsonRecord) -> list[str]:
        if not self.spec.rollback:
            return []
        command = self._command(ctx, self.spec.rollback, f"step-{ctx.step_id}-rollback.log")
        log = command.log
        code = ctx.effects.run_command(ctx.ui, command)
        if code is None:  # described, not run
            return [f"would run: {self.spec.rollback}"]
        if code != 0:
            raise StepFailed(
                f"rollback command exited with {code}: {self.spec.rollback} (log: {log})"
            )
        return [f"ran: {self.spec.rollback} (exit code 0)"]

"""``shell``: run a command; its ``rollback`` command runs on rollback.

Commands run with ``/bin/sh`` in the plan's folder, with the operator's
environment minus the variables the plan's secret references name (unless the
step says ``env: inherit-secrets``); their output, secret values masked, goes
to ``<state_dir>/logs/<step>.log`` (0600, in a 0700 folder) and its last lines
to the terminal.  The journal keeps the command and its exit code.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from kmigrate.errors import StepFailed
from kmigrate.journal import now_iso
from kmigrate.redact import redact
from kmigrate.safefs import atomic_write
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord

TAIL_LINES = 20


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


def run_command(
    ctx: StepContext, command: str, timeout_s: int, log: Path, *, inherit_secrets: bool = False
) -> int:
    """Run ``command``; write its output (secrets masked) to ``log``; return its exit code.

    Args:
        inherit_secrets: keep the variables in ``ctx.secret_env`` in the
            command's environment (``env: inherit-secrets``).

    Raises:
        StepFailed: the command ran longer than ``timeout_s`` seconds.
    """
    ctx.ui.line(f"$ {command}")
    env = {k: v for k, v in os.environ.items() if inherit_secrets or k not in ctx.secret_env}
    try:
        done = subprocess.run(
            command,
            shell=True,
            cwd=ctx.base_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StepFailed(f"command timed out after {timeout_s} s: {command}") from None
    output = redact((done.stdout or "") + (done.stderr or ""))
    atomic_write(log, f"# {now_iso()} $ {command}\n{output}# exit code {done.returncode}\n")
    for line in output.splitlines()[-TAIL_LINES:]:
        ctx.ui.line(f"  | {line}")
    return done.returncode


class Shell(Step):
    """A shell command with an optional rollback command."""

    action = "shell"
    record_type = ShellRecord

    @property
    def rollback_summary(self) -> str:  # type: ignore[override]
        return f"runs: {self.spec.rollback}" if self.spec.rollback else "nothing to undo"

    @property
    def _inherit(self) -> bool:
        return getattr(self.spec, "env", None) == "inherit-secrets"

    def describe(self) -> str:
        return f"shell: {self.spec.shell}"

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        if ctx.dry_run:
            ctx.ui.line(f"would run: {self.spec.shell}")
            return {"command": self.spec.shell}
        log = ctx.state_dir / "logs" / f"step-{ctx.step_id}.log"
        code = run_command(
            ctx, self.spec.shell, self.spec.timeout_s, log, inherit_secrets=self._inherit
        )
        record = ShellRecord(self.spec.shell, code, str(log)).to_json()
        if code != 0:
            ctx.checkpoint(record)
            raise StepFailed(f"command exited with {code}: {self.spec.shell} (log: {log})")
        return record

    def rollback(self, ctx: StepContext, record: JsonRecord) -> list[str]:
        if not self.spec.rollback:
            return []
        if ctx.dry_run:
            return [f"would run: {self.spec.rollback}"]
        log = ctx.state_dir / "logs" / f"step-{ctx.step_id}-rollback.log"
        code = run_command(
            ctx, self.spec.rollback, self.spec.timeout_s, log, inherit_secrets=self._inherit
        )
        if code != 0:
            raise StepFailed(
                f"rollback command exited with {code}: {self.spec.rollback} (log: {log})"
            )
        return [f"ran: {self.spec.rollback} (exit code 0)"]

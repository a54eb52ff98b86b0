"""The local side effects a step makes besides cluster writes, as one swappable adapter.

A step never asks which kind of run it is in.  Cluster writes go through the
context's clusters (a dry run's are wrapped: the dry-run module of
:mod:`kmigrate.clusters`); everything else a step does to the world goes
through ``ctx.effects``, an :class:`Effects`:

- :meth:`Effects.run_command`: run a shell command (``shell`` steps);
- :meth:`Effects.confirm`: ask the operator (``manual`` steps);
- :meth:`Effects.write_state`: write a file under the state folder (the
  snapshot, the offset map);
- :meth:`Effects.refuse`: a gate that refuses the step (missing target topics,
  occupied partitions, refused consumer groups);
- :meth:`Effects.before_writes`: the point after a step's reads and before its
  first write, where a preview of the writes ends the step;
- :meth:`Effects.past`: the wording of a line about a change (``forgot`` /
  ``would forget``).

This class makes each effect; its describing twin ``DryRunEffects`` (in
:mod:`kmigrate.runtime`), which the runner swaps in for a dry run, describes
each instead.  Read-only steps that wait or read records (verify,
dual-write-check, the cutover checks) describe themselves in
:meth:`kmigrate.steps.base.Step.preview` instead.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kmigrate.errors import KmigrateError, StepFailed
from kmigrate.journal import now_iso
from kmigrate.redact import redact
from kmigrate.safefs import atomic_write

if TYPE_CHECKING:
    from kmigrate.ui import UI


#: The last lines of a command's output shown on the terminal.
TAIL_LINES = 20


@dataclass(frozen=True)
class Command:
    """A shell command a step runs.

    Attributes:
        text: the command, run with ``/bin/sh``.
        timeout_s: how long it may run, in seconds.
        log: the file its output goes to (secrets masked; 0600).
        cwd: the folder it runs in (the plan's).
        hidden_env: names of environment variables it runs without (the plan's
            secret references, unless the step says ``env: inherit-secrets``).
    """

    text: str
    timeout_s: int
    log: Path
    cwd: Path
    hidden_env: frozenset[str] = frozenset()


def run_command(ui: UI, command: Command) -> int:
    """Run ``command``; write its output (secrets masked) to its log; return its exit code.

    Raises:
        StepFailed: the command ran longer than its ``timeout_s`` seconds.
    """
    text = command.text
    ui.line(f"$ {text}")
    env = {k: v for k, v in os.environ.items() if k not in command.hidden_env}
    try:
        done = subprocess.run(
            text,
            shell=True,
            cwd=command.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=command.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StepFailed(f"command timed out after {command.timeout_s} s: {text}") from None
    output = redact((done.stdout or "") + (done.stderr or ""))
    atomic_write(command.log, f"# {now_iso()} $ {text}\n{output}# exit code {done.returncode}\n")
    for line in output.splitlines()[-TAIL_LINES:]:
        ui.line(f"  | {line}")
    return done.returncode


class Effects:
    """A real run's local side effects: each method makes its effect."""

    def run_command(self, ui: UI, command: Command) -> int | None:
        """Run ``command`` (:func:`run_command`); its exit code, or None when it was
        described and not run.

        Raises:
            kmigrate.errors.StepFailed: the command ran longer than its ``timeout_s``.
        """
        return run_command(ui, command)

    def confirm(self, ui: UI, question: str) -> bool | None:
        """Ask the operator (``--yes`` answers yes); None when described and not asked."""
        return ui.confirm(question)

    def write_state(self, write: Callable[[], None]) -> bool:
        """Call ``write`` (a write under the state folder); False when it was described
        and not made."""
        write()
        return True

    def refuse(self, ui: UI, error: KmigrateError, *, warn: bool = True) -> None:
        """A closed gate: raise ``error`` (a dry run warns that a real run would be
        refused, or with ``warn=False`` goes on silently, as a later check reports it).

        Raises:
            KmigrateError: ``error``, always in a real run.
        """
        raise error

    def before_writes(self, describe: Callable[[], None]) -> bool:
        """The step has read what it needs and is about to write: True when
        ``describe`` printed what it would write and the step should end there
        (a dry run), False to go on and write."""
        return False

    def past(self, done: str, would: str) -> str:
        """The verb of a line about a change: ``done`` (``forgot``) in a real run,
        ``would`` (``would forget``) when it was described."""
        return done

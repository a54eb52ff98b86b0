"""Rollback asks first, and status tells the truth (issue 18, part 5).

Plans of shell steps only (as tests/runtime/test_identity.py): no broker is dialled.
Shell steps append to ``log.txt`` in the plan's folder, which shows what ran.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.cli import cli
from kmigrate.commands.rollback import rollback
from kmigrate.errors import RefusedError
from kmigrate.ui import UI
from tests.support.shell_plans import SWITCH, log, one_phase, write


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_rollback_without_a_terminal_or_yes_refuses_with_exit_2_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """Fails on main before issue 18: the rollback ran the shell rollback at
    once, asking no one (exit 0)."""
    plan = write(tmp_path, one_phase(SWITCH))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0

    refused = run("rollback", str(plan))  # click's runner: stdin is not a terminal

    assert refused.exit_code == 2, refused.output
    assert (
        "refused to roll back without confirmation: it would change the target or run "
        "commands (step shell-echo-switch-log-txt-"
    ) in refused.output
    assert (
        f"runs echo undo-switch >> log.txt), and stdin is not a terminal; run "
        f"`kmigrate rollback {plan} --dry-run` to see every action, then add --yes"
    ) in refused.output
    assert log(tmp_path) == ["switch"]
    steps = json.loads(run("status", str(plan), "--output", "json").stdout)["steps"]
    assert [s["status"] for s in steps] == ["succeeded"]

    done = run("rollback", str(plan), "--yes")
    assert done.exit_code == 0, done.output
    assert log(tmp_path) == ["switch", "undo-switch"]


@pytest.mark.parametrize(("answer", "undone"), [("n", False), ("y", True)])
def test_rollback_in_a_terminal_shows_what_it_will_do_and_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, undone: bool
) -> None:
    """With a terminal: the dry run's actions, the list of changes, then a
    question; "n" changes nothing.  Fails on main before issue 18: no question."""
    plan = write(tmp_path, one_phase(SWITCH))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{answer}\n"))
    monkeypatch.setattr(sys, "stdout", out)  # click.confirm's prompt
    ui = UI(interactive=True, out=out)

    if undone:
        assert rollback(str(plan), ui) == 0
    else:
        with pytest.raises(RefusedError, match="rollback not confirmed: nothing was changed"):
            rollback(str(plan), ui)

    text = out.getvalue()
    assert "rollback: dry run, nothing will change" in text
    assert "would run: echo undo-switch >> log.txt" in text
    assert "this rollback will:\n  step shell-echo-switch-log-txt-" in text
    assert "Roll back as shown above? [y/N]" in text
    assert log(tmp_path) == (["switch", "undo-switch"] if undone else ["switch"])


def test_status_says_a_step_is_running_while_another_run_holds_the_lock(tmp_path: Path) -> None:
    """While ``execute`` runs a step, status shows it running, by whom and
    since when; once that run is gone (killed), the step is "interrupted".
    Fails on main before issue 18: status called the running step interrupted."""
    plan = write(
        tmp_path,
        one_phase("      - shell: echo start >> log.txt && sleep 20\n"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "kmigrate", "execute", str(plan), "--phase", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while log(tmp_path) != ["start"] and time.monotonic() < deadline:
            time.sleep(0.1)
        shown = run("status", str(plan))
        data = json.loads(run("status", str(plan), "--output", "json").stdout)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its shell step
        proc.wait(10)

    assert shown.exit_code == 0, shown.output
    assert f"a run holds the lock now: pid {proc.pid}, " in shown.output
    [step] = data["steps"]
    assert step["running"] is True and step["status"] == "started"
    assert f"step {step['id']} is running: pid {proc.pid}, " in shown.output
    assert ", since 20" in shown.output
    assert "interrupted" not in shown.output
    assert data["lock"].startswith(f"pid {proc.pid}, ")

    after = run("status", str(plan))
    assert f"step {step['id']} was left 'started' (interrupted)" in after.output
    assert "a run holds the lock" not in after.output

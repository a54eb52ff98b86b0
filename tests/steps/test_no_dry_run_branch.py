"""Dry run as an adapter (issue 16): no step asks which run it is in.

A dry run swaps the context's clusters (``kmigrate.clusters.dry_run``) and
effects (``kmigrate.runtime.dry_run.DryRunEffects``) and calls each step's
``preview``; the step modules themselves never name ``dry_run``, so a branch
on it cannot come back.  On the code before this change the guard fails: 34
lines in 12 step modules named it (21 of them ``ctx.dry_run`` checks)."""

from __future__ import annotations

from pathlib import Path

import pytest

import kmigrate.steps
from kmigrate.errors import StepFailed
from kmigrate.plan.schema import ManualStep, ShellStep
from kmigrate.runtime.dry_run import DryRunEffects
from kmigrate.steps.base import StepContext
from kmigrate.steps.effects import Effects
from kmigrate.steps.manual import Manual
from kmigrate.steps.shell import Shell
from kmigrate.ui import UI

STEPS = Path(kmigrate.steps.__file__).parent


def test_no_step_module_mentions_dry_run() -> None:
    """Every module of ``kmigrate/steps`` is free of the text ``dry_run``: no
    ``ctx.dry_run`` check, no import of a dry-run module, no record key."""
    modules = sorted(STEPS.rglob("*.py"))
    assert len(modules) > 10  # the guard reads the step modules, not an empty folder
    offenders = [
        f"{path.relative_to(STEPS)}:{n}: {line.strip()}"
        for path in modules
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "dry_run" in line
    ]
    assert offenders == []


def _context(tmp_path: Path, effects: Effects) -> StepContext:
    """A context whose clusters no step below touches (None would fail loudly)."""
    return StepContext(
        source=None,  # type: ignore[arg-type]
        target=None,  # type: ignore[arg-type]
        ui=UI(json_mode=True),
        base_dir=tmp_path,
        state_dir=tmp_path / "state",
        effects=effects,
    )


def test_dry_run_effects_describe_a_shell_command_without_running_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shell step and its rollback under the dry-run effects run nothing and
    say ``would run``; the real effects run the command (the file appears)."""
    marker = tmp_path / "ran"
    step = Shell(ShellStep(shell=f"touch {marker}", rollback=f"rm {marker}"))

    record = step.run(_context(tmp_path, DryRunEffects()), {})
    lines = step.rollback(_context(tmp_path, DryRunEffects()), record)

    assert not marker.exists()
    assert record["command"] == f"touch {marker}" and record["exit_code"] is None
    assert f"would run: touch {marker}" in capsys.readouterr().err
    assert lines == [f"would run: rm {marker}"]

    real = step.run(_context(tmp_path, Effects()), {})
    assert marker.exists() and real["exit_code"] == 0


def test_dry_run_effects_ask_no_one_refuse_nothing_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manual step under the dry-run effects asks nothing (a real run with no
    answer fails); a refusal is warned about, not raised; no state file is written."""
    manual = Manual(ManualStep(manual="switch the DNS"))
    assert manual.run(_context(tmp_path, DryRunEffects()), {}) == {"instruction": "switch the DNS"}
    assert "would wait for the operator to confirm" in capsys.readouterr().err
    with pytest.raises(StepFailed, match="not confirmed"):
        manual.run(_context(tmp_path, Effects()), {})

    dry = DryRunEffects()
    ui = UI(json_mode=True)
    dry.refuse(ui, StepFailed("occupied"))
    assert "a real run would be refused: occupied" in capsys.readouterr().err
    with pytest.raises(StepFailed, match="occupied"):
        Effects().refuse(ui, StepFailed("occupied"))

    written: list[str] = []
    assert dry.write_state(lambda: written.append("x")) is False and written == []
    assert Effects().write_state(lambda: written.append("x")) is True and written == ["x"]
    assert (dry.past("forgot", "would forget"), Effects().past("forgot", "would forget")) == (
        "would forget",
        "forgot",
    )

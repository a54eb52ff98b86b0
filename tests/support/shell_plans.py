"""Plans of shell (and manual) steps only, on clusters never dialled: what ran shows in
``log.txt`` in the plan's folder, where each shell step appends a word."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.conftest import offline_plan_head

HEADER = offline_plan_head("identity", state_dir="state")


SWITCH = """\
      - shell: echo switch >> log.txt
        rollback: echo undo-switch >> log.txt
"""


def write(tmp_path: Path, phases: str) -> Path:
    """``tmp_path/plan.yaml``: the offline head (name ``identity``, ``state_dir: state``) and
    ``phases`` (YAML, dedented)."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(HEADER + textwrap.dedent(phases))
    return plan


def one_phase(*steps: str) -> str:
    """``phases:`` YAML of one phase, ``switch``, holding these step items (as ``SWITCH``)."""
    return "phases:\n  - name: switch\n    steps:\n" + "".join(steps)


def log(tmp_path: Path) -> list[str]:
    """The words the shell steps appended to ``log.txt``, in order (none: no file yet)."""
    path = tmp_path / "log.txt"
    return path.read_text().split() if path.exists() else []

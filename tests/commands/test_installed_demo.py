"""``kmigrate demo`` from an installed package, outside any checkout.

Builds a wheel from a copy of this checkout, installs it (with the
``sandbox`` extra, from the package index) into a fresh virtualenv, and runs
``kmigrate demo`` from an empty folder: the sandbox plan and the report
templates must come from the installed package, not from the source tree.
Slow (about a minute, most of it pip), and run by CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
SKIP = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".kmigrate*")


def sh(
    *args: object,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; assert it exits 0 (showing the end of its output when not)."""
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_runs_from_an_installed_wheel_outside_the_checkout(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(CHECKOUT, source, ignore=shutil.ignore_patterns(*SKIP))
    wheels = tmp_path / "wheels"
    sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, source)
    (wheel,) = wheels.glob("kmigrate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"kmigrate/data/sandbox.yaml", "kmigrate/report/templates/evidence.html.j2"} <= names

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv)
    sh(venv / "bin" / "pip", "install", "--quiet", f"kmigrate[sandbox] @ {wheel.as_uri()}")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "tmp").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", TMPDIR=str(elsewhere / "tmp")
    )
    where = sh(
        venv / "bin" / "python",
        "-c",
        "import kmigrate; print(kmigrate.__file__)",
        cwd=elsewhere,
        env=env,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)

    demo = sh(
        venv / "bin" / "kmigrate", "demo", "--records", "50", cwd=elsewhere, env=env, timeout=600
    )

    assert "verdict: VERIFIED" in demo.stdout
    assert "demo complete" in demo.stdout
    match = re.search(r"^report: (\S+evidence\.html)$", demo.stdout, re.MULTILINE)
    assert match, demo.stdout[-2000:]
    report = Path(match.group(1))
    assert report.is_relative_to(elsewhere / "tmp")
    assert 'data-verdict="VERIFIED"' in report.read_text()

"""Secrets never leak: planted values, real brokers, success and failure paths.

Two secret values are planted: one in an environment variable (``${VAR}``),
one in a file (``${file:…}``).  kmigrate runs as a subprocess, so that what
the client library prints to the process's stderr is captured too.  After a
successful migration and after every failure that can be provoked here (a
snapshot path naming the secret file, an unreachable cluster, a setting the
client library quotes back, a failed step), one check greps every output,
the log (``$KMIGRATE_LOG``), the journal, snapshots and reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import STANDARD_PHASES, Brokers, create_topic, produce, write_plan

pytestmark = pytest.mark.broker

ENV_SECRET = "planted-env-s3cr3t-4711"
FILE_SECRET = "planted-file-s3cr3t-0815"


class Runner:
    """Runs ``python -m kmigrate`` in ``folder`` with the planted secrets; keeps every output."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "kmigrate.log"
        self.outputs: list[str] = []

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> int:
        environ = {
            **os.environ,
            "KMIGRATE_LOG": str(self.log),
            "KM_PLANTED_SECRET": ENV_SECRET,
            **(env or {}),
        }
        done = subprocess.run(
            [sys.executable, "-m", "kmigrate", *args],
            cwd=self.folder,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        self.outputs.append(done.stdout + done.stderr)
        return done.returncode

    def assert_no_secret_anywhere(self, *state_dirs: Path) -> int:
        """Grep outputs, the log and every state file; returns how many files were read."""
        texts = list(self.outputs)
        files = [self.log] if self.log.exists() else []
        for state in state_dirs:
            files += [p for p in state.rglob("*") if p.is_file()]
        texts += [p.read_text(errors="replace") for p in files]
        for secret in (ENV_SECRET, FILE_SECRET):
            leaks = [t for t in texts if secret in t]
            assert not leaks, f"{secret} leaked into: {leaks[0][:500]}"
        return len(files)


def _plan(folder: Path, brokers: Brokers, include: str, *, source: str, target: str) -> Path:
    """A plan in ``folder`` with ``source``/``target`` client settings, and the secret file."""
    (folder / "secret.txt").write_text(FILE_SECRET + "\n", encoding="utf-8")
    plan = write_plan(folder, brokers, [include], STANDARD_PHASES, source_config=source)
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("    config: {}\n", f"    config: {target}\n", 1), "utf-8")
    return plan


SOURCE_REFS = "{sasl.password: '${KM_PLANTED_SECRET}'}"
TARGET_REFS = "{ssl.key.password: '${file:secret.txt}'}"


def test_secrets_stay_out_of_everything_on_success(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}orders"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"key": b"k", "value": b"v", "partition": 0}])
    plan = _plan(tmp_path, brokers, f"{prefix}*", source=SOURCE_REFS, target=TARGET_REFS)
    run = Runner(tmp_path)
    assert [run("execute", str(plan), "--phase", p) for p in ("1", "2", "3")] == [0, 0, 0]
    assert run("status", str(plan), "--output", "json") == 0
    assert run("plan", str(plan)) == 0
    assert run("rollback", str(plan), "--dry-run") == 0
    state = tmp_path / "state"
    assert (state / "journal.json").exists()
    assert (state / "snapshots" / "topics.yaml").exists()
    assert (state / "reports" / "verify.json").exists()
    assert run.assert_no_secret_anywhere(state) >= 3


def test_secrets_stay_out_of_everything_on_failure(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    run = Runner(tmp_path)
    states = []

    # 1. a snapshot path naming the secret file: refused as not a snapshot, not quoted
    one = tmp_path / "snapshot-is-secret"
    one.mkdir()
    plan = _plan(one, brokers, f"{prefix}*", source=SOURCE_REFS, target=TARGET_REFS)
    plan.write_text(
        plan.read_text().replace(
            "      - action: provision-topics\n",
            f"      - action: provision-topics\n        snapshot: {one / 'secret.txt'}\n",
        )
    )
    assert run("execute", str(plan), "--phase", "2", "--force") == 2
    assert "secret.txt:1: (top level): expected a mapping" in run.outputs[-1]
    states.append(one / "state")

    # 2. the target unreachable (a closed loopback port), secrets in its settings
    two = tmp_path / "unreachable"
    two.mkdir()
    plan = _plan(two, brokers, f"{prefix}*", source=SOURCE_REFS, target=TARGET_REFS)
    plan.write_text(plan.read_text().replace(brokers.target, "127.0.0.1:9"))
    assert run("execute", str(plan), "--phase", "1") == 1
    assert "127.0.0.1:9" in run.outputs[-1]
    states.append(two / "state")

    # 3. a secret in a setting the client library refuses and quotes back in its error
    three = tmp_path / "quoted-back"
    three.mkdir()
    plan = _plan(
        three,
        brokers,
        f"{prefix}*",
        source="{security.protocol: '${KM_PLANTED_SECRET}'}",
        target="{ssl.endpoint.identification.algorithm: '${file:secret.txt}'}",
    )
    assert run("execute", str(plan), "--phase", "1") == 1
    assert "(secret not shown)" in run.outputs[-1]
    states.append(three / "state")

    # 4. a failed step (a shell command that exits 3) with the secrets configured
    four = tmp_path / "failed-step"
    four.mkdir()
    plan = _plan(four, brokers, f"{prefix}*", source=SOURCE_REFS, target=TARGET_REFS)
    plan.write_text(
        plan.read_text().replace(
            "      - action: check-connectivity\n",
            "      - action: check-connectivity\n      - shell: exit 3\n",
        )
    )
    assert run("execute", str(plan), "--phase", "1") == 1
    states.append(four / "state")

    assert run.assert_no_secret_anywhere(*states) >= 3

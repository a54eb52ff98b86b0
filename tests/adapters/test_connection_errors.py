"""A broker that does not answer (issue 18, part 3): one clear line, the Kafka
client's own log in kmigrate's log file (never on the terminal), the error
journaled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kmigrate.adapters import sandbox
from tests.conftest import Brokers, write_plan

pytestmark = pytest.mark.broker

PHASES = """\
phases:
  - name: preflight
    steps:
      - action: check-connectivity
"""


def kmigrate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmigrate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_a_wrong_target_port_is_one_clear_line_logged_and_journaled(
    brokers: Brokers, tmp_path: Path
) -> None:
    """Fails on main before issue 18: stderr held about 290 raw librdkafka
    ``%3|…|FAIL|…`` lines before "unreachable within 15 s … Broker transport
    failure", which named no plan key."""
    port = sandbox.free_port()  # nothing listens there
    wrong = Brokers(brokers.source, f"127.0.0.1:{port}")
    plan = write_plan(tmp_path, wrong, ["*"], PHASES)
    log = tmp_path / "kmigrate.log"
    env = {"KMIGRATE_LOG": str(log)}

    ran = kmigrate("execute", str(plan), "--phase", "1", env=env)

    assert ran.returncode == 1, ran.stderr
    assert "%3|" not in ran.stderr and "%3|" not in ran.stdout
    [line] = ran.stderr.splitlines()
    assert line.startswith(
        f"FAILED: the target cluster at 127.0.0.1:{port} does not answer: reading its "
        "Metadata got no connection in 15 s ("
    ), line
    assert f"Connect to ipv4#127.0.0.1:{port} failed: Connection refused" in line
    assert line.endswith(
        f"Is the address right and the broker up? Check clusters.target.bootstrap_servers "
        f"in {plan}."
    ), line
    # librdkafka's own lines went to the log file (0600), not to the terminal.
    assert f"Connect to ipv4#127.0.0.1:{port} failed" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600

    status = kmigrate("status", str(plan), "--output", "json", env=env)
    [step] = json.loads(status.stdout)["steps"]
    assert step["status"] == "failed"
    assert step["error"] == line.removeprefix("FAILED: ")
    assert step["record"]["source"]["broker_count"] == 1  # what was found is kept
    shown = kmigrate("status", str(plan), env=env)
    assert f"check-connectivity error: the target cluster at 127.0.0.1:{port}" in shown.stdout

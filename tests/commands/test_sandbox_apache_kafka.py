"""``kmigrate sandbox up --broker apache-kafka``: real Apache Kafka from Maven jars,
the plan it writes run phase by phase as a user would, and ``sandbox down``
stopping every JVM it started, by pid.

Starts its own two clusters (about 20 s), so it runs only with ``--broker
apache-kafka`` (CI), where the jars are cached already.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.adapters import apache_kafka
from kmigrate.cli import cli
from kmigrate.commands.sandbox import PASSWORD_ENV
from tests.conftest import Brokers

pytestmark = pytest.mark.broker


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


def free_run(count: int) -> int:
    """The first of ``count`` consecutive free ports."""
    for _ in range(50):
        first = apache_kafka.free_ports(1)[0]
        if first + count < 65536 and all(_free(first + i) for i in range(count)):
            return first
    raise AssertionError("no run of free ports")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.timeout(400)
def test_sandbox_up_writes_a_plan_that_migrates_and_down_stops_every_jvm(
    brokers: Brokers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not brokers.real:
        pytest.skip("starts its own Apache Kafka clusters: runs with --broker apache-kafka")
    monkeypatch.chdir(tmp_path)
    source_port, target_port = free_run(1), free_run(3)

    up = run(
        "sandbox",
        "up",
        "--broker",
        "apache-kafka",
        "--source-port",
        str(source_port),
        "--target-port",
        str(target_port),
    )
    state = tmp_path / ".kmigrate-sandbox"
    assert up.exit_code == 0, up.output
    clusters = apache_kafka.load(state / "apache-kafka.json")
    pids = [n.pid for c in clusters for n in c.nodes]
    try:
        assert up.exit_code == 0, up.output
        assert f"source: Apache Kafka {apache_kafka.SOURCE_VERSION} (ZooKeeper mode)" in up.output
        assert "SASL_SSL (SCRAM-SHA-512)" in up.output
        assert len(pids) == 5 and all(pids)
        # Secrets stay in 0600 files, never in the output.
        password = clusters[1].users[apache_kafka.MIGRATION_USER]
        assert password not in up.output
        for name in ("credentials.env", "apache-kafka.json", "plan.yaml"):
            assert (state / name).stat().st_mode & 0o777 == 0o600, name
        assert f"${{{PASSWORD_ENV}}}" in (state / "plan.yaml").read_text()

        seeded = run("sandbox", "seed", "--bootstrap-servers", f"127.0.0.1:{source_port}")
        assert seeded.exit_code == 0, seeded.output
        env = {PASSWORD_ENV: password}
        plan = str(state / "plan.yaml")
        for phase in ("1", "2", "3", "4"):
            done = run("execute", plan, "--phase", phase, "--ignore-window", "--yes", env=env)
            assert done.exit_code == 0, (phase, done.output)
            assert password not in done.output
        last = run("execute", plan, "--phase", "5", "--yes", env=env)
        assert last.exit_code == 0, last.output
        assert "all 30 partitions match (14,000 records)" in last.output
        journal = json.loads((state / "state" / "journal.json").read_text())
        assert {k for k, e in journal["steps"].items() if e["status"] == "succeeded"} >= {
            "check-connectivity",
            "provision-topics",
            "mirror",
            "translate-offsets",
            "verify",
        }
    finally:
        down = run("sandbox", "down")
    assert down.exit_code == 0, down.output
    assert down.output.count("stopped ") == 5
    assert not any(apache_kafka.alive(pid) for pid in pids)
    assert not (state / "apache-kafka.json").exists()

"""Crash and resume, the run lock, secrets, exit codes: against real local brokers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.cli import cli
from kmigrate.commands.execute import execute
from kmigrate.journal import Journal
from kmigrate.ui import UI, Progress
from tests.conftest import STANDARD_PHASES, Brokers, create_topic, produce, read_all, write_plan

pytestmark = pytest.mark.broker


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


def fields(records: list) -> list[tuple]:
    return [(r.partition, r.offset, r.key, r.value, r.headers, r.timestamp_ms) for r in records]


class CrashingUI(UI):
    """A UI whose progress bar raises KeyboardInterrupt after ``limit`` records,
    as an operator's Ctrl-C would in the middle of a mirror."""

    def __init__(self, limit: int) -> None:
        super().__init__(assume_yes=True, interactive=False)
        self.limit = limit

    @contextmanager
    def progress(self, total: int, label: str, **kw: Any) -> Iterator[Progress]:
        with super().progress(total, label, **kw) as bar:
            advance = bar.advance

            def crash_after(records: int, nbytes: int) -> None:
                advance(records, nbytes)
                if bar.records >= self.limit:
                    raise KeyboardInterrupt

            bar.advance = crash_after  # type: ignore[method-assign]
            yield bar


def seeded_plan(brokers: Brokers, prefix: str, tmp_path: Path, records: int) -> tuple[Path, str]:
    topic = f"{prefix}resume"
    create_topic(brokers.source, topic, 3)
    produce(
        brokers.source,
        topic,
        [
            {
                "key": f"k{i}".encode(),
                "value": f"value-{i}".encode() * 5,
                "partition": i % 3,
                "timestamp": 1_700_000_000_000 + i,
                "headers": [("seq", str(i).encode())],
            }
            for i in range(records)
        ],
    )
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    for phase in ("1", "2"):
        assert run("execute", str(plan), "--phase", phase).exit_code == 0
    return plan, topic


def test_an_interrupted_mirror_resumes_without_duplicates_or_gaps(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Ctrl-C (KeyboardInterrupt from the progress bar) once 7,000 records are
    reported copied: the step is journaled interrupted, the target holds part of the
    copy, and a re-run keeps it and copies the rest, no duplicate, no gap.  100,000
    records: worker progress comes at most every 0.1 s, and a CI run copied all of
    20,000 before the first report past 7,000 reached the bar."""
    plan, topic = seeded_plan(brokers, prefix, tmp_path, 100_000)

    with pytest.raises(KeyboardInterrupt):
        execute(str(plan), "3", CrashingUI(limit=7_000))

    journal = json.loads((tmp_path / "state" / "journal.json").read_text())
    step = journal["steps"]["mirror"]
    assert (step["status"], step["error"]) == ("failed", "interrupted")
    partial = len(read_all(brokers.target, topic, 3))
    assert 7_000 <= partial < 100_000

    result = run("execute", str(plan), "--phase", "3")

    assert result.exit_code == 0, result.output
    assert f"resuming: {partial:,} records are already on the target and are kept" in result.output
    assert fields(read_all(brokers.target, topic, 3)) == fields(read_all(brokers.source, topic, 3))
    assert "all 3 partitions match (100,000 records)" in result.output


def test_a_killed_mirror_is_left_started_and_resumes(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """SIGKILL the real CLI process mid-copy, as a crashed host would.

    The kill is timed by watching the target fill up, so on a very fast
    machine the copy might finish first; the test then says so and skips.
    """
    plan, topic = seeded_plan(brokers, prefix, tmp_path, 150_000)
    target = KafkaCluster("target", brokers.target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kmigrate", "execute", str(plan), "--phase", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (
                sum(
                    h for _l, h in target.watermark_offsets([(topic, p) for p in range(3)]).values()
                )
                >= 5_000
            ):
                break
            time.sleep(0.01)
        if proc.poll() is not None:
            pytest.skip("the mirror finished before it could be killed")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    journal = json.loads((tmp_path / "state" / "journal.json").read_text())
    assert journal["steps"]["mirror"]["status"] == "started"
    status = run("status", str(plan))
    assert "step mirror was left 'started' (interrupted)" in status.output

    result = run("execute", str(plan), "--phase", "3")

    assert result.exit_code == 0, result.output
    assert "resuming:" in result.output
    assert fields(read_all(brokers.target, topic, 3)) == fields(read_all(brokers.source, topic, 3))


def test_a_second_run_is_refused_while_one_holds_the_lock(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    with Journal(tmp_path / "state", "test-migration").lock():
        result = run("execute", str(plan), "--phase", "1")
    assert result.exit_code == 1
    assert f"another kmigrate run holds the lock on {tmp_path / 'state'} (pid {os.getpid()}" in (
        result.output
    )
    assert run("execute", str(plan), "--phase", "1").exit_code == 0


def test_secrets_never_reach_output_journal_or_reports(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    secret = "pa55-w0rd-never-shown"
    create_topic(brokers.source, f"{prefix}s", 1)
    plan = write_plan(
        tmp_path,
        brokers,
        [f"{prefix}*"],
        STANDARD_PHASES,
        source_config="{sasl.username: app, sasl.password: '${KM_TEST_SECRET}'}",
    )
    env = {"KM_TEST_SECRET": secret}
    outputs = [run("execute", str(plan), "--phase", p, env=env).output for p in ("1", "2", "3")]
    outputs.append(run("status", str(plan), "--output", "json", env=env).output)
    outputs.append(run("plan", str(plan), "--output", "json", env=env).output)
    outputs.append(run("rollback", str(plan), "--dry-run", env=env).output)
    assert all(secret not in out for out in outputs)
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_an_unset_secret_variable_is_named_without_a_value(
    brokers: Brokers, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        brokers,
        ["x*"],
        STANDARD_PHASES,
        source_config="{sasl.password: '${KM_UNSET_SECRET}'}",
    )
    result = run("execute", str(plan), "--phase", "1", env={"KM_UNSET_SECRET": None})  # type: ignore[dict-item]
    assert result.exit_code == 2
    assert (
        f"{plan}:8: clusters.source.config.sasl.password: environment variable "
        "KM_UNSET_SECRET is not set"
    ) in result.output


def test_invalid_plan_exits_2_with_file_and_line(tmp_path: Path) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text("version: 1\nname: x\nclusters: {}\ntopics: {include: [a]}\nphases: []\n")
    result = run("plan", str(plan), "--offline")
    assert result.exit_code == 2
    assert f"{plan}:3: clusters: missing required key 'source'" in result.output
    assert "Traceback" not in result.output


def test_an_internal_error_exits_3_and_logs_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error handler's boundary: an unexpected exception in a command."""
    from kmigrate.commands import status as status_cmd

    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(status_cmd, "status", broken)
    log = tmp_path / "kmigrate.log"
    result = run("status", "whatever.yaml", env={"KMIGRATE_LOG": str(log)})
    assert result.exit_code == 3
    assert f"internal error: RuntimeError: boom\nthe traceback is in {log}" in result.output
    assert "Traceback" in log.read_text() and "Traceback" not in result.output


def test_ctrl_c_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kmigrate.commands import status as status_cmd

    def interrupted(*_args: object, **_kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(status_cmd, "status", interrupted)
    result = run("status", "whatever.yaml")
    assert result.exit_code == 130
    assert "interrupted" in result.output


def test_plan_previews_provisioning_with_dropped_vendor_keys(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A Redpanda-style source topic (vendor keys set on a local broker).

    Needs a broker that accepts Redpanda's topic keys: Tansu does; Apache Kafka
    refuses them (INVALID_CONFIG), so there the test is skipped, and the same rule
    (drop_vendor_keys) is proven offline by tests/targets/test_target_rules.py."""
    if brokers.real:
        pytest.skip("Apache Kafka refuses Redpanda's topic keys (INVALID_CONFIG): no Redpanda here")
    new, existing = f"{prefix}from-redpanda", f"{prefix}already-there"
    create_topic(
        brokers.source,
        new,
        3,
        {
            "redpanda.remote.read": "true",
            "write.caching": "true",
            "compression.type": "none",
            "retention.ms": "86400000",
        },
    )
    create_topic(brokers.source, existing, 3)
    create_topic(brokers.target, existing, 2)
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    plan.write_text(
        plan.read_text().replace(
            f"type: kafka\n    bootstrap_servers: {brokers.source}",
            f"type: redpanda\n    bootstrap_servers: {brokers.source}",
        )
    )

    result = run("plan", str(plan), "--output", "json")

    assert result.exit_code == 1, result.output  # the existing topic cannot hold the source's
    data = json.loads(result.stdout)
    by_topic = {t["name"]: t for t in data["topics"]}
    assert by_topic[new]["action"] == "create"
    assert by_topic[new]["configs"] == {
        "compression.type": "uncompressed",
        "retention.ms": "86400000",
    }
    dropped = {d["key"] for d in by_topic[new]["decisions"] if d["decision"] == "dropped"}
    assert dropped == {"redpanda.remote.read", "write.caching"}
    assert by_topic[existing]["action"] == "refuse"
    assert [d["rule"] for d in by_topic[existing]["decisions"]] == ["partitions_not_fewer"]
    assert [s["step"] for s in data["steps"]] == [
        "check-connectivity",
        "export-topics",
        "provision-topics",
        "mirror",
        "verify",
    ]
    assert KafkaCluster("target", brokers.target).topics().get(new) is None


def test_demo_runs_a_whole_migration(tmp_path: Path) -> None:
    result = run("demo", "--records", "60", "--keep", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    # 420 seeded records plus what the live producer wrote while the mirror followed.
    matched = re.search(r"all 30 partitions match \(([\d,]+) records\)", result.output)
    assert matched and int(matched[1].replace(",", "")) > 420
    assert "phase 5 (cutover) complete" in result.output
    assert (tmp_path / "demo" / "app.env").read_text().startswith("KAFKA_BROKER_URL=127.0.0.1:")

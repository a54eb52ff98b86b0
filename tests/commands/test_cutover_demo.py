"""``kmigrate sandbox produce`` and the live-cutover part of ``kmigrate demo``; plan checks
of the new steps."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.adapters import sandbox
from kmigrate.cli import cli
from tests.conftest import Brokers, read_all, write_plan


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.broker
def test_sandbox_produce_writes_live_records_to_every_seed_topic(tmp_path: Path) -> None:
    broker = sandbox.start_broker("source", sandbox.free_port(), tmp_path / "b.log")
    try:
        sandbox.seed(broker.bootstrap, 7)
        # Whole milliseconds, as record timestamps are: a record produced within the
        # same millisecond is not counted as older than the run.
        before = int(time.time() * 1000)
        result = run(
            "sandbox", "produce", "--source", broker.bootstrap,
            "--rate", "350", "--duration", "1",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        total = int(re.search(r"produced ([\d,]+) records", result.output)[1].replace(",", ""))  # type: ignore[index]
        assert 300 <= total <= 400
        live = 0
        for topic, (partitions, _) in sandbox.SEED_TOPICS.items():
            records = read_all(broker.bootstrap, topic, partitions)
            fresh = [r for r in records if r.timestamp_ms >= before]
            assert fresh, topic
            assert all(dict(r.headers)["event-type"] == topic.encode() for r in fresh)
            live += len(fresh)
        assert live == total
    finally:
        sandbox.stop_pid(broker.pid)


@pytest.mark.broker
def test_demo_follows_a_live_producer_and_every_group_resumes_at_the_next_record(
    tmp_path: Path,
) -> None:
    t0 = time.monotonic()
    result = run("demo", "--records", "200", "--keep", str(tmp_path / "demo"))
    elapsed = time.monotonic() - t0

    assert result.exit_code == 0, result.output
    assert elapsed < 60
    assert "live producer wrote" in result.output
    assert "mirror ended: caught up" in result.output
    resumed = [line for line in result.output.splitlines() if line.endswith("same record")]
    assert len(resumed) == 9  # eventsearch-indexer: 6 event-created + 3 purchase-created
    assert "DIFFERS" not in result.output
    assert re.search(r"producers stopped -> caught up: [\d.]+ s", result.output)
    assert re.search(r"producers stopped -> groups translated: [\d.]+ s", result.output)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("{action: dual-write-check}", "expected since and until, or duration_s; found neither"),
        (
            "{action: dual-write-check, since: 5, until: 5}",
            "expected since before until; found since 5, until 5",
        ),
        (
            "{action: dual-write-check, since: '2026-01-01T00:00:00', until: 9}",
            "expected an ISO-8601 time with a UTC offset",
        ),
        ("{action: translate-offsets}", "groups"),
    ],
)
def test_new_steps_are_validated_at_load(
    brokers: Brokers, tmp_path: Path, step: str, message: str
) -> None:
    plan = write_plan(
        tmp_path,
        brokers,
        ["x"],
        f"""\
        phases:
          - name: one
            steps:
              - {step}
        """,
    )
    result = run("plan", str(plan), "--offline")
    assert result.exit_code == 2, result.output
    assert f"{plan}:" in result.output and message in result.output

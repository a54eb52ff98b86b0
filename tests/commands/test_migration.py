"""End-to-end migrations between two real local brokers, through the CLI.

Each test writes a real plan file, runs ``kmigrate`` commands in-process with
click's runner, and checks the clusters directly with its own reads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.cli import cli
from tests.conftest import (
    STANDARD_PHASES,
    Brokers,
    create_on_both,
    create_topic,
    produce,
    read_all,
    source_and_target,
    write_plan,
)

pytestmark = pytest.mark.broker

ONE_MB = 1024 * 1024


def run(*args: str) -> Result:
    """Run ``kmigrate ARGS`` in-process; returns click's result (exit code, output)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def awkward_records() -> list[dict[str, object]]:
    """Records that break naive copiers: nulls, empties, binary, duplicate headers, 1 MB.

    No null key: the topic they go to is compacted, and Kafka refuses a record
    without a key there (LogValidator: "Compacted topic cannot accept message
    without key"); Tansu accepts it (sandbox-broker.md fact 12).
    """
    return [
        {"key": b"k-null-value", "value": None, "partition": 0, "timestamp": 1_600_000_000_001},
        {"key": b"k-empty-value", "value": b"", "partition": 0, "timestamp": 1_600_000_000_002},
        {"key": b"", "value": b"empty key", "partition": 1, "timestamp": 1_600_000_000_004},
        {
            "key": bytes(range(256)),
            "value": b"\x00\xff\x10binary",
            "partition": 2,
            "timestamp": 1_600_000_000_005,
        },
        {
            "key": b"dup-headers",
            "value": b"{}",
            "partition": 2,
            "timestamp": 1_600_000_000_006,
            "headers": [("retry", b"1"), ("retry", b"2"), ("trace", None), ("retry", b"")],
        },
        {"key": b"big", "value": b"x" * ONE_MB, "partition": 0, "timestamp": 1_600_000_000_007},
        *[
            {
                "key": f"order-{i}".encode(),
                "value": json.dumps({"n": i}).encode(),
                "partition": i % 3,
                "timestamp": 1_700_000_000_000 + i,
            }
            for i in range(300)
        ],
    ]


def fields(records: list) -> list[tuple]:
    return [(r.partition, r.offset, r.key, r.value, r.headers, r.timestamp_ms) for r in records]


def test_export_provision_mirror_verify_copies_every_record_exactly(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}orders"
    create_topic(
        brokers.source,
        topic,
        3,
        {"cleanup.policy": "compact", "retention.ms": "1209600000", "max.message.bytes": "4194304"},
    )
    produce(brokers.source, topic, awkward_records())
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)

    for phase in ("1", "2", "3"):
        result = run("execute", str(plan), "--phase", phase)
        assert result.exit_code == 0, result.output

    source = read_all(brokers.source, topic, 3)
    target = read_all(brokers.target, topic, 3)
    assert len(source) == len(awkward_records())
    assert fields(target) == fields(source)
    assert "all 3 partitions match" in result.output
    report = json.loads((tmp_path / "state" / "reports" / "verify.json").read_text())
    assert report["summary"] == {
        "partitions": 3,
        "matched": 3,
        "mismatched": 0,
        "source_records": len(source),
        "target_records": len(source),
    }
    snapshot = (tmp_path / "state" / "snapshots" / "topics.yaml").read_text()
    assert "cleanup.policy: compact" in snapshot and "retention.ms: '1209600000'" in snapshot


def test_provisioned_topic_has_source_partitions_and_customised_configs(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}events"
    create_topic(
        brokers.source, topic, 6, {"cleanup.policy": "compact", "retention.ms": "259200000"}
    )
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    assert run("execute", str(plan), "--phase", "2").exit_code == 0

    from kmigrate.adapters.kafka import KafkaCluster

    target = KafkaCluster("target", brokers.target)
    assert target.topics()[topic].partitions == 6
    configs = {k: v.value for k, v in target.topic_configs([topic])[topic].items()}
    assert configs["cleanup.policy"] == "compact"
    assert configs["retention.ms"] == "259200000"


def numbered(count: int, partition: int) -> list[dict[str, object]]:
    """``count`` records for :func:`produce` to one partition: key ``k<i>``, value ``v<i>``,
    timestamp 1_700_000_000_000 + i ms."""
    return [
        {
            "key": f"k{i}".encode(),
            "value": f"v{i}".encode(),
            "partition": partition,
            "timestamp": 1_700_000_000_000 + i,
        }
        for i in range(count)
    ]


def test_verify_names_partition_and_offset_of_a_missing_record(
    brokers: Brokers, prefix: str
) -> None:
    topic = f"{prefix}missing"
    records = numbered(6, partition=0)
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, records)
    produce(brokers.target, topic, records[:3] + records[4:])  # offset 3 never arrived

    result = run("verify", *source_and_target(brokers), "--topic", topic)

    assert result.exit_code == 1
    assert (
        f"1 of 1 partitions differ; first: {topic}[0] at source offset 3, target offset 3 "
        "(key, value, timestamp differ)"
    ) in result.output


def test_verify_names_the_offset_of_a_record_whose_value_differs(
    brokers: Brokers, prefix: str
) -> None:
    topic = f"{prefix}differs"
    records = numbered(5, partition=1)
    changed = [dict(r) for r in records]
    changed[2]["value"] = b"tampered"
    create_on_both(brokers, topic, 2)
    produce(brokers.source, topic, records)
    produce(brokers.target, topic, changed)

    pair = [*source_and_target(brokers), "--topic", topic]
    result = run("verify", *pair, "--details")  # every partition, the equal one too

    assert result.exit_code == 1
    assert f"first: {topic}[1] at source offset 2, target offset 2 (value differs)" in result.output
    assert re.search(rf"{re.escape(topic)}\s+0\s+0\s+-\s+0\s+-\s+\w+\s+\w+\s+OK", result.output)


def test_verify_reports_a_record_missing_at_the_end_of_the_target(
    brokers: Brokers, prefix: str
) -> None:
    topic = f"{prefix}short"
    records = [
        {"key": b"k", "value": f"v{i}".encode(), "partition": 0, "timestamp": 1_700_000_000_000 + i}
        for i in range(4)
    ]
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, records)
    produce(brokers.target, topic, records[:3])

    result = run("verify", *source_and_target(brokers), "--topic", topic)

    assert result.exit_code == 1
    assert f"{topic}[0] at source offset 3, target offset None (missing on target)" in result.output


def test_rollback_deletes_only_what_kmigrate_created_and_never_touches_the_source(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    created, preexisting = f"{prefix}created", f"{prefix}preexisting"
    for name in (created, preexisting):
        create_topic(brokers.source, name, 2)
        produce(
            brokers.source,
            name,
            [
                {"key": b"a", "value": b"1", "partition": 0},
                {"key": b"b", "value": b"2", "partition": 1},
            ],
        )
    create_topic(brokers.target, preexisting, 2)
    produce(brokers.target, preexisting, [{"key": b"theirs", "value": b"keep me", "partition": 0}])
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    for phase in ("1", "2"):
        assert run("execute", str(plan), "--phase", phase).exit_code == 0
    # The pre-existing target topic already holds a record, so the mirror refuses.
    mirrored = run("execute", str(plan), "--phase", "3")
    assert mirrored.exit_code == 1
    assert f"target partitions already hold records: {preexisting}[0]" in mirrored.output
    source_before = {n: fields(read_all(brokers.source, n, 2)) for n in (created, preexisting)}
    target_pre_before = fields(read_all(brokers.target, preexisting, 2))

    dry = run("rollback", str(plan), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would delete target topic {created} (created by kmigrate)" in dry.output
    assert f"would leave target topic {preexisting} untouched" in dry.output
    from kmigrate.adapters.kafka import KafkaCluster

    target = KafkaCluster("target", brokers.target)
    assert created in target.topics(), "a dry run must not delete anything"

    result = run("rollback", str(plan), "--yes")

    assert result.exit_code == 0, result.output
    topics_now = target.topics()
    assert created not in topics_now
    assert preexisting in topics_now
    assert fields(read_all(brokers.target, preexisting, 2)) == target_pre_before
    assert {n: fields(read_all(brokers.source, n, 2)) for n in source_before} == source_before
    status = json.loads(run("status", str(plan), "--output", "json").stdout)
    assert {s["step"]: s["status"] for s in status["steps"]}["provision-topics"] == "rolled_back"


def test_execute_refuses_a_phase_before_the_earlier_ones_are_complete(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)

    result = run("execute", str(plan), "--phase", "3")

    assert result.exit_code == 1
    assert (
        "refused to run phase 3 (mirror): earlier steps are not complete: "
        "check-connectivity (not run); export-topics (not run); "
        "provision-topics (not run) (--force overrides, and is journaled)"
    ) in result.output
    assert (
        not (tmp_path / "state" / "journal.json").exists()
        or json.loads((tmp_path / "state" / "journal.json").read_text())["steps"] == {}
    )


def test_execute_refuses_outside_the_window_and_journals_the_override(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    today = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[datetime.now(UTC).weekday()]
    other = "sun" if today != "sun" else "mon"
    # Closed all of today, open only on another day.
    phases = f"""\
phases:
  - name: preflight
    window: {{days: [{other}], start: "00:00", end: "00:01", timezone: UTC}}
    steps:
      - action: check-connectivity
"""
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], phases)

    refused = run("execute", str(plan), "--phase", "preflight")
    assert refused.exit_code == 1
    assert (
        f"refused to run phase 1 (preflight) outside its window {other} 00:00-00:01 UTC"
        in refused.output
    )

    allowed = run("execute", str(plan), "--phase", "preflight", "--ignore-window")
    assert allowed.exit_code == 0, allowed.output
    journal = json.loads((tmp_path / "state" / "journal.json").read_text())
    assert [e["event"] for e in journal["events"]] == ["ignored-window"]
    assert journal["steps"]["check-connectivity"]["status"] == "succeeded"


def test_a_completed_step_is_skipped_on_rerun(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    assert run("execute", str(plan), "--phase", "1").exit_code == 0

    again = run("execute", str(plan), "--phase", "1")

    assert again.exit_code == 0
    assert "already succeeded" in again.output
    journal = json.loads((tmp_path / "state" / "journal.json").read_text())
    assert journal["steps"]["check-connectivity"]["attempts"] == 1


def test_unreachable_cluster_fails_the_step_with_exit_1(tmp_path: Path) -> None:
    from tests.conftest import Brokers as B

    dead = B("127.0.0.1:1", "127.0.0.1:9")  # two clusters: one broker as both is refused
    plan = write_plan(tmp_path, dead, ["x"], STANDARD_PHASES)

    result = run("execute", str(plan), "--phase", "1")

    assert result.exit_code == 1
    assert (
        "FAILED: the source cluster at 127.0.0.1:1 does not answer: reading its Metadata got "
        "no connection in 15 s ("
    ) in result.output
    assert f"Check clusters.source.bootstrap_servers in {plan}." in result.output
    journal = json.loads((tmp_path / "state" / "journal.json").read_text())
    assert journal["steps"]["check-connectivity"]["status"] == "failed"
    assert (
        "Check clusters.source.bootstrap_servers" in journal["steps"]["check-connectivity"]["error"]
    )


def test_mirroring_again_after_a_mirror_rollback_is_refused_not_duplicated(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}twice"
    create_topic(brokers.source, topic, 2)
    produce(
        brokers.source, topic, [{"key": b"k", "value": b"v", "partition": i % 2} for i in range(10)]
    )
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    for phase in ("1", "2", "3"):
        assert run("execute", str(plan), "--phase", phase).exit_code == 0
    assert run("rollback", str(plan), "--phase", "3", "--yes").exit_code == 0

    again = run("execute", str(plan), "--phase", "3")

    assert again.exit_code == 1
    assert (
        f"target partitions already hold records: {topic}[0] (5 offsets), {topic}[1] "
        "(5 offsets); a second copy would duplicate them"
    ) in again.output
    assert len(read_all(brokers.target, topic, 2)) == 10


def test_standalone_mirror_refuses_a_second_copy_and_verify_catches_a_forced_one(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A re-run with the same --state-dir resumes from the offset map (copies
    nothing new); one without that map finds the copies and refuses."""
    topic = f"{prefix}append"
    create_on_both(brokers, topic, 1)
    produce(
        brokers.source,
        topic,
        [{"key": b"k", "value": f"{i}".encode(), "partition": 0} for i in range(3)],
    )
    args = ("mirror", *source_and_target(brokers), "--topic", topic)
    first = ("--state-dir", str(tmp_path / "first"))
    other = ("--state-dir", str(tmp_path / "other"))
    assert run(*args, *first).exit_code == 0
    resumed = run(*args, *first)
    assert resumed.exit_code == 0, resumed.output
    assert "resuming: 3 records are already on the target and are kept" in resumed.output
    assert len(read_all(brokers.target, topic, 1)) == 3

    assert run(*args, *other).exit_code == 1
    assert run(*args, *other, "--append").exit_code == 0

    verified = run("verify", *source_and_target(brokers), "--topic", topic)
    assert verified.exit_code == 1
    assert f"{topic}[0] at source offset None, target offset 3 (extra record on target)" in (
        verified.output
    )


def test_dry_run_says_what_a_real_run_would_refuse_and_writes_nothing(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    create_topic(brokers.source, f"{prefix}dry", 1)
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)

    result = run("execute", str(plan), "--phase", "2", "--dry-run")

    assert result.exit_code == 0, result.output
    assert (
        "a real run would be refused to run phase 2 (provision): earlier steps are not "
        "complete: check-connectivity (not run)"
    ) in result.output
    assert f"would create topic {prefix}dry (1 partitions, RF {brokers.target_rf})" in result.output
    assert not (tmp_path / "state" / "journal.json").exists()
    from kmigrate.adapters.kafka import KafkaCluster

    assert f"{prefix}dry" not in KafkaCluster("target", brokers.target).topics()


def test_force_runs_a_phase_out_of_order_and_journals_it(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)

    result = run("execute", str(plan), "--phase", "provision", "--force")

    assert result.exit_code == 0, result.output
    assert "--force: running phase 2 (provision) although earlier steps are incomplete" in (
        result.output
    )
    journal = json.loads((tmp_path / "state" / "journal.json").read_text())
    assert [(e["event"], e["phase"], e["incomplete"]) for e in journal["events"]] == [
        ("forced", "provision", ["check-connectivity (not run)"])
    ]


def test_export_records_consumer_groups_and_committed_offsets(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    from confluent_kafka import Consumer, TopicPartition

    topic, group = f"{prefix}grouped", f"{prefix}billing"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"value": b"v", "partition": i % 2} for i in range(8)])
    consumer = Consumer({"bootstrap.servers": brokers.source, "group.id": group})
    consumer.commit(
        offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 4)], asynchronous=False
    )
    consumer.close()
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)

    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    assert run("execute", str(plan), "--phase", "2").exit_code == 0

    import yaml

    snapshot = yaml.safe_load((tmp_path / "state" / "snapshots" / "topics.yaml").read_text())
    assert snapshot["consumer_groups"] == {group: {topic: {0: 3, 1: 4}}}


def test_verify_reports_a_topic_missing_on_the_target(brokers: Brokers, prefix: str) -> None:
    topic = f"{prefix}absent"
    create_topic(brokers.source, topic, 1)
    produce(brokers.source, topic, [{"key": b"k", "value": b"v", "partition": 0}])

    result = run("verify", *source_and_target(brokers), "--topic", topic)

    assert result.exit_code == 1
    assert (
        f"first: {topic}[0] at source offset 0, target offset None (partition missing on target)"
    ) in result.output

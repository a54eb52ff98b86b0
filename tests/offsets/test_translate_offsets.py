"""translate-offsets against the real local brokers, read back with a plain confluent-kafka client.

The source is written by a transactional producer, so each transaction leaves a
commit marker at an offset the target does not have (sandbox-broker fact 6):
source offsets 0-4, 6-10, 12-16 (markers 5, 11, 17, log end 18) land at target
offsets 0-14 (log end 15).  Groups are committed at the start, in the middle,
in a gap and at the end of each partition.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Consumer, Producer, TopicPartition

from kmigrate.cli import cli
from kmigrate.errors import StepFailed
from tests.conftest import Brokers, create_on_both, create_topic, produce, write_plan
from tests.support.clients import commit, committed

pytestmark = pytest.mark.broker

PHASES = """\
phases:
  - name: copy
    steps:
      - action: provision-topics
      - action: mirror
  - name: cutover
    steps:
      - action: translate-offsets
        groups: {include: ["PREFIX*"]}
"""
# group -> committed source offset (same on both partitions), and the target offset it maps to
COMMITS = {"start": (0, 0), "middle": (8, 7), "gap": (11, 10), "end": (18, 15)}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def transactional_source(bootstrap: str, topic: str) -> None:
    """Three transactions of 5 records per partition: markers at 5, 11, 17."""
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-tx"})
    producer.init_transactions(30)
    n = 0
    for _txn in range(3):
        producer.begin_transaction()
        for _ in range(5):
            for partition in (0, 1):
                producer.produce(
                    topic,
                    key=f"k{n}".encode(),
                    value=f"v{n}".encode(),
                    headers=[("n", str(n).encode())],
                    partition=partition,
                    timestamp=1_700_000_000_000 + n,
                )
                n += 1
        producer.commit_transaction(30)


def next_records(bootstrap: str, group: str, topic: str) -> dict[int, tuple | None]:
    """What a consumer of ``group`` reads first on each partition (None: nothing)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    positions = committed(bootstrap, group)
    consumer.assign([TopicPartition(topic, p, positions[(topic, p)]) for p in (0, 1)])
    return first_per_partition(consumer)


def source_next(bootstrap: str, topic: str, offset: int) -> dict[int, tuple | None]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "reader", "enable.partition.eof": True}
    )
    consumer.assign([TopicPartition(topic, p, offset) for p in (0, 1)])
    return first_per_partition(consumer)


def first_per_partition(consumer: Consumer) -> dict[int, tuple | None]:
    """The first record (key, value, headers, timestamp) the assigned ``consumer`` reads
    on each of partitions 0 and 1 within 20 s (None: an error, such as the partition's
    end, came first); closes the consumer."""
    out: dict[int, tuple | None] = {}
    deadline = time.monotonic() + 20
    while len(out) < 2 and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.partition() in out:
            continue
        out[msg.partition()] = (
            None if msg.error() else (msg.key(), msg.value(), msg.headers(), msg.timestamp()[1])
        )
    consumer.close()
    return out


def test_groups_resume_on_the_target_at_exactly_the_next_record_and_roll_back(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}orders"
    create_topic(brokers.source, topic, 2)
    transactional_source(brokers.source, topic)
    for name, (offset, _) in COMMITS.items():
        commit(brokers.source, f"{prefix}{name}", {(topic, 0): offset, (topic, 1): offset})
    plan = write_plan(tmp_path, brokers, [topic], PHASES.replace("PREFIX", prefix))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    # "middle" already had offsets on the target: rollback must put them back.
    commit(brokers.target, f"{prefix}middle", {(topic, 0): 2, (topic, 1): 1})

    planned = run("plan", str(plan))
    assert planned.exit_code == 0, planned.output
    assert "offset translation preview" in planned.output
    dry = run("execute", str(plan), "--phase", "2", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert committed(brokers.target, f"{prefix}start") == {}
    result = run("execute", str(plan), "--phase", "2")

    assert result.exit_code == 0, result.output
    for name, (source_offset, target_offset) in COMMITS.items():
        group = f"{prefix}{name}"
        assert committed(brokers.target, group) == {
            (topic, 0): target_offset,
            (topic, 1): target_offset,
        }, name
        # A consumer of the group on the target reads exactly the source's next record.
        assert next_records(brokers.target, group, topic) == source_next(
            brokers.source, topic, source_offset
        ), name
    assert "ok (both at end)" in dry.output
    table_line = next(line for line in dry.output.splitlines() if f"{prefix}gap" in line)
    assert table_line.split()[1:8] == [topic, "0", "11", "10", "7", "5", "ok"]

    undo = run("rollback", str(plan), "--phase", "2", "--yes")

    assert undo.exit_code == 0, undo.output
    # Done actions in the past tense, as "deleted target topic …" (issue 18).
    assert f"deleted consumer group {prefix}gap on the target (created by kmigrate)" in undo.output
    assert f"restored 2 previous offsets of consumer group {prefix}middle on the target" in (
        undo.output
    )
    assert committed(brokers.target, f"{prefix}middle") == {(topic, 0): 2, (topic, 1): 1}
    for name in ("start", "gap", "end"):
        assert committed(brokers.target, f"{prefix}{name}") == {}, name
    assert committed(brokers.source, f"{prefix}gap") == {(topic, 0): 11, (topic, 1): 11}


def test_a_group_active_on_the_target_is_refused_and_the_others_applied(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}orders"
    create_topic(brokers.source, topic, 2)
    transactional_source(brokers.source, topic)
    for name in ("idle", "busy"):
        commit(brokers.source, f"{prefix}{name}", {(topic, 0): 3, (topic, 1): 3})
    plan = write_plan(tmp_path, brokers, [topic], PHASES.replace("PREFIX", prefix))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    stop = threading.Event()
    assigned = threading.Event()

    def busy_consumer() -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": brokers.target,
                "group.id": f"{prefix}busy",
                "client.id": "billing-app",
                "enable.auto.commit": False,
                "max.poll.interval.ms": 6000,
                "session.timeout.ms": 6000,
            }
        )
        consumer.subscribe([topic])
        while not stop.is_set():
            consumer.poll(0.2)
            if consumer.assignment():
                assigned.set()
        consumer.close()

    thread = threading.Thread(target=busy_consumer, daemon=True)
    thread.start()
    try:
        assert assigned.wait(30), "the target consumer never got partitions"
        result = run("execute", str(plan), "--phase", "2")
    finally:
        stop.set()
        thread.join(10)

    assert result.exit_code == 1, result.output
    assert f"1 of 2 consumer groups refused: {prefix}busy: the group is active on the target" in (
        result.output
    )
    assert committed(brokers.target, f"{prefix}idle") == {(topic, 0): 3, (topic, 1): 3}
    assert committed(brokers.target, f"{prefix}busy") == {}
    status = json.loads(run("status", str(plan), "--output", "json").stdout)
    (step,) = [s for s in status["steps"] if s["description"] == "translate-offsets"]
    assert [(g["group"], g["status"]) for g in step["record"]["groups"]] == [
        (f"{prefix}busy", "refused"),
        (f"{prefix}idle", "translated"),
    ]
    assert "2 groups: 1 refused, 1 translated" in run("status", str(plan)).output


def test_groups_the_map_cannot_answer_or_whose_next_record_differs_are_refused(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}orders"
    create_topic(brokers.source, topic, 2)
    transactional_source(brokers.source, topic)
    plan = write_plan(tmp_path, brokers, [topic], PHASES.replace("PREFIX", prefix))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    # After the mirror: the source grows (18-22 on partition 0) and a consumer there moves on;
    # someone writes a record the source does not have to the target's partition 1.
    produce(brokers.source, topic, [{"key": b"late", "value": b"x", "partition": 0}] * 5)
    commit(brokers.source, f"{prefix}ahead", {(topic, 0): 20, (topic, 1): 3})
    produce(brokers.target, topic, [{"key": b"stray", "value": b"y", "partition": 1}])
    commit(brokers.source, f"{prefix}tampered", {(topic, 0): 0, (topic, 1): 18})

    result = run("execute", str(plan), "--phase", "2")

    assert result.exit_code == 1, result.output
    assert (
        f"{prefix}ahead: {topic}[0] at source offset 20: the mirror has copied up to source "
        "offset 18 but the group committed 20 and the source log ends at 23: run the mirror "
        "until it is caught up"
    ) in result.output
    assert (
        f"{prefix}tampered: next-record check failed at {topic}[1] source offset 18 -> "
        "target offset 15: the source is at its end but the target holds a record there"
    ) in result.output
    assert committed(brokers.target, f"{prefix}ahead") == {}
    assert committed(brokers.target, f"{prefix}tampered") == {}


def test_rollback_names_offsets_it_cannot_remove_from_a_group_that_existed(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """confluent-kafka's AdminClient has no DeleteConsumerGroupOffsets (KIP-496): rollback
    restores what it can, names the rest with the command that removes it, and exits 1."""
    topic = f"{prefix}orders"
    create_topic(brokers.source, topic, 2)
    transactional_source(brokers.source, topic)
    commit(brokers.source, f"{prefix}mixed", {(topic, 0): 6, (topic, 1): 6})
    plan = write_plan(tmp_path, brokers, [topic], PHASES.replace("PREFIX", prefix))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    commit(brokers.target, f"{prefix}mixed", {(topic, 0): 1})
    assert run("execute", str(plan), "--phase", "2").exit_code == 0
    assert committed(brokers.target, f"{prefix}mixed") == {(topic, 0): 5, (topic, 1): 5}

    undo = run("rollback", str(plan), "--phase", "2", "--yes")

    assert undo.exit_code == 1, undo.output
    assert committed(brokers.target, f"{prefix}mixed") == {(topic, 0): 1, (topic, 1): 5}
    assert (
        f"kafka-consumer-groups.sh --bootstrap-server {brokers.target} --delete-offsets "
        f"--group {prefix}mixed --topic {topic}:1"
    ) in undo.output


def test_the_refusal_names_the_active_members(
    brokers: Brokers, prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """On Apache Kafka DescribeGroups names the members: the refusal names each
    member's client id.  Tansu 0.6 lists no members for a STABLE group
    (sandbox-broker.md fact 12): a strict xfail there."""
    if not brokers.real:
        request.applymarker(
            pytest.mark.xfail(
                reason="Tansu lists no members of a STABLE group (sandbox-broker.md fact 12)",
                strict=True,
            )
        )
    topic = f"{prefix}orders"
    create_on_both(brokers, topic, 1)
    consumer = Consumer(
        {
            "bootstrap.servers": brokers.target,
            "group.id": f"{prefix}busy",
            "client.id": "billing-app",
            "max.poll.interval.ms": 6000,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.2)
    try:
        from kmigrate.adapters.kafka import KafkaCluster

        state = KafkaCluster("target", brokers.target).group_members(f"{prefix}busy")
    finally:
        consumer.close()
    assert state.active
    assert any(m.startswith("billing-app ") for m in state.members)


def test_a_group_whose_source_offsets_move_while_translating_is_refused(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A consumer still running on the source commits between the read and the apply:
    the race is made real by committing on the source when the step reads the offsets
    a second time."""
    from kmigrate.adapters.kafka import KafkaCluster
    from kmigrate.steps.base import StepContext
    from kmigrate.steps.translate_offsets import translate_groups
    from kmigrate.ui import UI

    topic = f"{prefix}orders"
    create_topic(brokers.source, topic, 2)
    transactional_source(brokers.source, topic)
    group = f"{prefix}running"
    commit(brokers.source, group, {(topic, 0): 2, (topic, 1): 2})
    plan = write_plan(tmp_path, brokers, [topic], PHASES.replace("PREFIX", prefix))
    copied = run("execute", str(plan), "--phase", "1")
    assert copied.exit_code == 0, copied.output

    class StillConsuming(KafkaCluster):
        reads = 0

        def group_offsets_of(self, g: str) -> dict[tuple[str, int], int]:
            self.reads += 1
            if self.reads == 2:  # the consumer on the source moves on
                commit(brokers.source, g, {(topic, 0): 4, (topic, 1): 2})
            return super().group_offsets_of(g)

    ctx = StepContext(
        source=StillConsuming("source", brokers.source),
        target=KafkaCluster("target", brokers.target),
        ui=UI(interactive=False),
        state_dir=tmp_path / "state",
    )
    with pytest.raises(StepFailed) as failed:
        translate_groups(ctx, [group], [])

    assert str(failed.value) == (
        f"1 of 1 consumer groups refused: {group}: its committed offsets on the source moved "
        f"while translating ({topic}[0] 2 -> 4); stop its consumers on the source first"
    )
    assert committed(brokers.target, group) == {}

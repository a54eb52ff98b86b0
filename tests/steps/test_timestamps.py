"""Exact timestamps (issue 18, part 1): the mirror keeps every timestamp the
source holds, refuses before producing one its client cannot send (0), and
verify compares a LogAppendTime target topic without timestamps, saying so.

Records with timestamp 0 are written to the source with kafka-python, whose
producer sends the value given (librdkafka, behind confluent-kafka, turns a
produce timestamp of 0 into "now"); the target is read back with a plain
confluent-kafka Consumer, not through kmigrate's reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Consumer, TopicPartition
from kafka import KafkaProducer

from kmigrate.cli import cli
from tests.conftest import Brokers, create_topic, produce, source_and_target

pytestmark = pytest.mark.broker

LARGEST = 2**63 - 1  # the largest timestamp a record batch can hold (int64 ms)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def produce_exact(bootstrap: str, topic: str, records: list[tuple[bytes, int]]) -> None:
    """Write ``(value, timestamp ms)`` records to partition 0 with kafka-python,
    which sends every timestamp as given, 0 included."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for value, ts in records:
            producer.send(topic, value=value, key=b"k", partition=0, timestamp_ms=ts).get(10)
    finally:
        producer.close()


def read_back(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, int, int]]:
    """``(offset, value, timestamp type, timestamp ms)`` of partition 0, read by
    a plain confluent-kafka Consumer (an independent client)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "test-read-back",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    out = []
    try:
        consumer.assign([TopicPartition(topic, 0, -2)])
        while True:
            msg = consumer.poll(10)
            assert msg is not None, f"no end of partition for {topic}[0]"
            if msg.error() is not None:
                break
            kind, ts = msg.timestamp()
            out.append((int(msg.offset() or 0), msg.value(), kind, ts))
    finally:
        consumer.close()
    return out


def test_mirror_keeps_timestamps_1_and_largest_and_refuses_0_before_producing_it(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Fails on main before issue 18: the mirror copied the timestamp-0 record
    stamped with the time of the copy and said it succeeded (exit 0)."""
    topic = f"{prefix}odd-ts"
    create_topic(brokers.source, topic, 1)
    # As provision-topics creates it from a 3.x source: a Kafka 4 target's brokers
    # refuse records stamped over an hour ahead unless the topic says otherwise.
    create_topic(brokers.target, topic, 1, {"message.timestamp.after.max.ms": str(LARGEST)})
    produce_exact(
        brokers.source, topic, [(b"one", 1), (b"largest", LARGEST), (b"zero", 0), (b"after", 7)]
    )
    assert [r[3] for r in read_back(brokers.source, topic)] == [1, LARGEST, 0, 7]
    common = [*source_and_target(brokers), "--topic", topic]

    for _attempt in range(2):  # a re-run resumes at the same record and refuses again
        mirrored = run("mirror", *common, "--state-dir", str(tmp_path / "state"))
        assert mirrored.exit_code == 1, mirrored.output
        assert f"refused to copy {topic}[0] offset 2: its timestamp is 0" in mirrored.output
        assert f"exclude topic {topic} from the mirror" in mirrored.output
        # Exactly the records before it, timestamps kept (CreateTime, type 1).
        assert read_back(brokers.target, topic) == [
            (0, b"one", 1, 1),
            (1, b"largest", 1, LARGEST),
        ]


def test_verify_compares_a_log_append_time_target_without_timestamps_and_says_so(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A target topic with message.timestamp.type=LogAppendTime holds the
    target's append times, not the source's timestamps: verify passes on
    key, value, headers and order and says timestamps were not compared; a
    real difference there is still found.  (The sandbox broker keeps the
    producer's timestamp whatever the config, so the test writes the target
    records with other timestamps, as a stamping broker would hold them.)
    Fails on main before issue 18: verify reported 'timestamp differs'."""
    stamped = {"message.timestamp.type": "LogAppendTime"}
    same, changed = f"{prefix}lat-same", f"{prefix}lat-changed"
    for topic in (same, changed):
        create_topic(brokers.source, topic, 1)
        create_topic(brokers.target, topic, 1, stamped)
        produce(
            brokers.source,
            topic,
            [{"value": f"v{i}".encode(), "partition": 0, "timestamp": 1000 + i} for i in range(5)],
        )
    produce(
        brokers.target,
        same,
        [{"value": f"v{i}".encode(), "partition": 0, "timestamp": 9000 + i} for i in range(5)],
    )
    produce(
        brokers.target,
        changed,
        [{"value": f"w{i}".encode(), "partition": 0, "timestamp": 9000 + i} for i in range(5)],
    )
    report = tmp_path / "report.json"
    common = [*source_and_target(brokers)]

    ok = run("verify", *common, "--topic", same, "--details", "--report", str(report))
    assert ok.exit_code == 0, ok.output
    assert f"timestamps not compared on {same}: the target topic has " in ok.output
    assert "message.timestamp.type=LogAppendTime" in ok.output
    assert "OK (timestamps not compared)" in ok.output
    data = json.loads(report.read_text())
    assert list(data["timestamps_not_compared"]) == [same]
    assert data["partitions"][0]["timestamps_compared"] is False

    bad = run("verify", *common, "--topic", changed, "--report", str(report))
    assert bad.exit_code == 1, bad.output
    assert "value differs" in bad.output


def test_mirror_into_a_log_append_time_target_warns_before_copying(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The mirror says, before copying, that a LogAppendTime target topic
    stamps its own time (expected, not a loss); the copy is read back with an
    independent client.  Fails on main before issue 18: no word of it."""
    topic = f"{prefix}lat-mirror"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1, {"message.timestamp.type": "LogAppendTime"})
    produce(brokers.source, topic, [{"value": b"a", "partition": 0, "timestamp": 5}])
    mirrored = run(
        "mirror",
        *source_and_target(brokers),
        "--topic",
        topic,
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert mirrored.exit_code == 0, mirrored.output
    assert f"target topics {topic} have message.timestamp.type=LogAppendTime" in mirrored.output
    assert [(o, v) for o, v, _k, _t in read_back(brokers.target, topic)] == [(0, b"a")]

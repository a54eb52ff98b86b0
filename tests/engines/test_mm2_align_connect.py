"""The offset map of a real MirrorMaker 2 copy, by alignment, and MM2's own offset
syncs checked against it (issue 14), on a real Kafka Connect cluster.

Runs only with ``--broker apache-kafka`` (the Connect cluster of
``tests/support/mm2_connect.py``, started once for this module: 2 workers from Maven Central
jars).  The source partitions hold transaction markers, so source and target
offsets differ; MM2 runs at-least-once (no exactly-once), one task.  The map is
checked by an independent read-back (kafka-python, offsets included): the record
at the target offset the map gives each source offset is that source record.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from kafka import KafkaConsumer, TopicPartition

from kmigrate.adapters import kafka_connect
from kmigrate.adapters.connect_rest import ConnectRest
from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.engines.mirrormaker2 import config as mm2
from kmigrate.engines.mirrormaker2.offset_syncs import (
    disagreements,
    offset_syncs_topic,
    read_offset_syncs,
)
from kmigrate.offsets.build import build_offset_map
from kmigrate.offsets.map import OffsetMap
from kmigrate.verify.compare import ranges_for
from kmigrate.verify.ordered import verify
from tests.conftest import Brokers, create_topic, produce
from tests.support.mm2_connect import TARGET_PASSWORD, mirror_plan

pytestmark = pytest.mark.timeout(600)

PARTITIONS = 3


def with_offsets(bootstrap: str, topic: str) -> dict[int, list[tuple[int, Any, Any, int]]]:
    """Every committed record per partition as (offset, key, value, timestamp),
    read with kafka-python."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", group_id=None
    )
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: dict[int, list[tuple[int, Any, Any, int]]] = {p: [] for p in range(PARTITIONS)}
        idle = 0
        while idle < 4 and any(consumer.position(tp) < ends[tp] for tp in parts):
            batch = consumer.poll(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for tp, recs in batch.items():
                out[tp.partition] += [(r.offset, r.key, r.value, r.timestamp) for r in recs]
        return out
    finally:
        consumer.close()


def write_source(bootstrap: str, topic: str, prefix: str) -> int:
    """Per partition: 300 plain records, then 20 transactions of 10 (markers between
    them), then 100 plain; returns the record count."""
    plain = [
        {
            "partition": i % PARTITIONS,
            "key": b"p%d" % i,
            "value": b"v%d" % i,
            "timestamp": 1_700_000_000_000 + i,
        }
        for i in range(900)
    ]
    produce(bootstrap, topic, plain)
    tx = Producer({"bootstrap.servers": bootstrap, "transactional.id": prefix + "mm2-align"})
    tx.init_transactions(30)
    for t in range(20):
        tx.begin_transaction()
        for p in range(PARTITIONS):
            for i in range(10):
                n = t * 100 + p * 10 + i
                tx.produce(
                    topic,
                    key=b"t%d" % n,
                    value=b"x%d" % n,
                    partition=p,
                    timestamp=1_700_000_100_000 + n,
                )
        tx.commit_transaction(30)
    produce(bootstrap, topic, [{**r, "key": b"q" + r["key"]} for r in plain[:300]])  # type: ignore[operator]
    return 900 + 600 + 300


def test_a_real_mm2_copy_is_aligned_exactly_and_its_offset_syncs_agree(
    connect: kafka_connect.ConnectCluster,  # noqa: F811
    brokers: Brokers,
    prefix: str,
    tmp_path: Path,
) -> None:
    """MM2 copies a source with transaction markers (its offsets differ from the
    target's); the aligned map sends each source offset to the target offset of the
    same record (independent read-back), with no duplicate, missing or unmatched
    record; verify matches through it; every offset sync MM2 wrote for the topic
    agrees with the map (none named)."""
    topic = prefix + "aligned"
    create_topic(brokers.source, topic, PARTITIONS)
    create_topic(brokers.target, topic, PARTITIONS)
    total = write_source(brokers.source, topic, prefix)
    plan = mirror_plan(tmp_path, brokers, topic, TARGET_PASSWORD)
    opts = mm2.Mm2Options(name=prefix + "align", tasks_max=1, replication_factor=3)
    config = mm2.source_connector(plan, opts)
    rest = ConnectRest(connect.live_url())
    rest.put_config(config["name"], config)
    try:
        rest.wait_running(config["name"], tasks=1, timeout_s=120)
        want = with_offsets(brokers.source, topic)
        assert sum(len(v) for v in want.values()) == total
        deadline = time.monotonic() + 240
        while True:
            got = with_offsets(brokers.target, topic)
            if all(len(got[p]) >= len(want[p]) for p in want):
                break
            assert time.monotonic() < deadline, "MM2 did not copy every record in 240 s"
            time.sleep(2)
        target = KafkaCluster("target", brokers.target)
        syncs_topic = offset_syncs_topic(opts.source_alias)
        deadline = time.monotonic() + 60
        while True:  # the syncs are written as the task's records are acknowledged
            syncs = [s for s in read_offset_syncs(target, syncs_topic).syncs if s.topic == topic]
            if {s.partition for s in syncs} == set(range(PARTITIONS)):
                break
            assert time.monotonic() < deadline, (
                f"no offset sync of every partition in {syncs_topic}"
            )
            time.sleep(2)
    finally:
        rest.delete(config["name"])

    source = KafkaCluster("source", brokers.source)
    omap = OffsetMap.load(tmp_path)
    parts = [(topic, p) for p in range(PARTITIONS)]
    began = time.monotonic()
    report = build_offset_map(source, target, parts, omap)
    print(f"\naligned {report.records:,} records in {time.monotonic() - began:.2f} s")
    assert report.problems() == []
    at_target = {p: {o: (k, v, ts) for o, k, v, ts in got[p]} for p in got}
    for p, records in want.items():
        assert [o for o, *_ in records] != list(range(len(records)))  # markers: offsets differ
        for o, k, v, ts in records:
            t = omap.to_target(topic, p, o)
            assert t is not None and at_target[p][t] == (k, v, ts), (p, o, t)
    results = verify(source, target, ranges_for(source, [topic], None, omap), workers=1)
    assert all(r.match for r in results)
    print(f"{len(syncs)} offset syncs of {topic}, e.g. {syncs[:3]}")
    assert disagreements(syncs, omap) == []

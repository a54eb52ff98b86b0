"""build_offset_map on real brokers: a copy with offset gaps and a replayed range,
written the way an at-least-once MirrorMaker 2 writes it, aligned exactly; verify
then reports the duplicates; MM2-format offset syncs are checked against the map.

The "copy" is written by the test with a plain producer (key, value, headers and
timestamp of each source record, read back with the adapter's reader), so what
the target holds is known exactly; the source has transaction markers
(sandbox-broker.md fact 6: they leave offset gaps on Tansu as on Kafka).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.engines.mirrormaker2.offset_syncs import (
    OffsetSync,
    check_offset_syncs,
    encode_offset_sync,
    offset_syncs_topic,
    read_offset_syncs,
)
from kmigrate.offsets.build import build_offset_map, observe_source
from kmigrate.offsets.gaps import SourceMark
from kmigrate.offsets.map import OffsetMap, OffsetRun
from kmigrate.offsets.translate import RECORD, translate_offset
from kmigrate.verify.compare import ranges_for
from kmigrate.verify.ordered import verify
from tests.conftest import Brokers, create_topic, produce, read_all

pytestmark = pytest.mark.broker


def transactional_source(bootstrap: str, topic: str, prefix: str) -> None:
    """Three committed transactions of 5 records: offsets 0-4, 6-10, 12-16 (markers 5, 11, 17)."""
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{prefix}tx"})
    producer.init_transactions(30)
    n = 0
    for _ in range(3):
        producer.begin_transaction()
        for _ in range(5):
            producer.produce(
                topic,
                key=b"k%d" % n,
                value=b"v%d" % n,
                headers=[("h", b"%d" % n)],
                timestamp=1_700_000_000_000 + n,
                partition=0,
            )
            n += 1
        producer.commit_transaction(30)


def copy_as(bootstrap: str, topic: str, records: list, order: list[int]) -> None:
    """Write source records (by index) to the target in ``order``, fields kept."""
    produce(
        bootstrap,
        topic,
        [
            {
                "key": records[i].key,
                "value": records[i].value,
                "headers": records[i].headers,
                "timestamp": records[i].timestamp_ms,
                "partition": 0,
            }
            for i in order
        ],
    )


def test_an_at_least_once_copy_is_aligned_exactly_and_verify_reports_its_duplicates(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Source offsets 0-4, 6-10, 12-16 (markers between); the target got records
    0-9, then 5-9 again (a task restart), then 10-14: the map keeps the first
    copies, names the 5 duplicates, translation lands on first copies, and verify
    reports the partition as differing because of the duplicates.  A second topic
    copied once is VERIFIED through the same path."""
    dup, clean = f"{prefix}dup", f"{prefix}clean"
    for name in (dup, clean):
        create_topic(brokers.source, name, 1)
        create_topic(brokers.target, name, 1)
        transactional_source(brokers.source, name, prefix + name)
    src = read_all(brokers.source, dup, 1)
    assert [r.offset for r in src] == [*range(5), *range(6, 11), *range(12, 17)]
    copy_as(brokers.target, dup, src, [*range(10), *range(5, 10), *range(10, 15)])
    copy_as(brokers.target, clean, read_all(brokers.source, clean, 1), list(range(15)))

    source, target = KafkaCluster("source", brokers.source), KafkaCluster("target", brokers.target)
    omap = OffsetMap.load(tmp_path)
    report = build_offset_map(source, target, [(dup, 0), (clean, 0)], omap)
    part = omap.get(dup, 0)
    assert part is not None
    assert part.runs == [OffsetRun(0, 0, 5), OffsetRun(6, 5, 5), OffsetRun(12, 15, 5)]
    assert part.duplicates == [OffsetRun(6, 10, 5)]
    assert part.source_position == 18 and part.target_position == 20  # marker at 17
    assert OffsetMap.load(tmp_path).get(dup, 0).duplicates == part.duplicates  # saved
    assert any("copied twice" in line for line in report.problems())
    t = translate_offset(part.runs, 12, source_position=18, target_position=20, source_end=18)
    assert (t.kind, t.target_offset) == (RECORD, 15)

    results = {
        r.topic: r
        for r in verify(source, target, ranges_for(source, [dup, clean], None, omap), workers=1)
    }
    assert results[clean].match
    assert not results[dup].match
    assert results[dup].duplicate_target_records == 5
    assert results[dup].foreign_target_records == 0
    assert "second copies" in results[dup].first_difference["reason"]

    # MM2-format offset syncs: one true, one at the second copy, one wrong, and
    # one of a partition this migration did not copy (not checked).
    syncs_topic = offset_syncs_topic(f"{prefix}src")
    create_topic(brokers.target, syncs_topic, 1)
    syncs = [
        OffsetSync(dup, 0, 0, 0),
        OffsetSync(dup, 0, 6, 10),
        OffsetSync(dup, 0, 13, 17),
        OffsetSync("elsewhere", 0, 1, 1),
    ]
    produce(
        brokers.target,
        syncs_topic,
        [dict(zip(("key", "value"), encode_offset_sync(s), strict=True)) for s in syncs],
    )
    read = read_offset_syncs(target, syncs_topic)
    assert [(s.upstream, s.downstream) for s in read.syncs] == [(0, 0), (6, 10), (13, 17), (1, 1)]
    checked = check_offset_syncs(target, omap, f"{prefix}src")
    assert (checked["read"], checked["checked"], checked["malformed"]) == (4, 3, [])
    found = checked["disagreements"]
    assert [(x["upstream"], x["downstream"], x["exact"]) for x in found] == [
        (6, 10, 5),
        (13, 17, 16),
    ]
    assert "second copy" in found[0]["reason"]
    report.offset_syncs = checked
    assert sum("MM2's offset sync" in line for line in report.problems()) == 2


def plain_records(bootstrap: str, topic: str, n: int, first: int = 0) -> None:
    produce(
        bootstrap,
        topic,
        [
            {
                "key": b"k%d" % i,
                "value": b"v%d" % i,
                "timestamp": 1_700_000_000_000 + i,
                "partition": 0,
            }
            for i in range(first, first + n)
        ],
    )


def one_partition_on_both(
    brokers: Brokers, topic: str, n: int
) -> tuple[KafkaCluster, KafkaCluster]:
    """``topic`` with 1 partition on both clusters, ``n`` plain records on the
    source's: the (source, target) clusters."""
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    plain_records(brokers.source, topic, n)
    return KafkaCluster("source", brokers.source), KafkaCluster("target", brokers.target)


def mark(cluster: KafkaCluster, topic: str) -> SourceMark:
    """What the mirror step records of the source partition now."""
    return observe_source(cluster, [(topic, 0)])[(topic, 0)]


def test_retention_past_the_copy_is_named_as_a_lost_range(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """MM2 had copied offsets 0-39 of 100 when the source's log start moved to 70
    (set up with DeleteRecords, as retention would: the test prepares the source,
    kmigrate never writes to it); its consumer reset to 70 and copied 70-99.  The
    aligned map holds 70-99, and verify names offsets 40..69 as lost."""
    if not brokers.real:
        pytest.skip("Tansu has no DeleteRecords (sandbox-broker.md fact 7); --broker apache-kafka")
    topic = f"{prefix}ret"
    source, target = one_partition_on_both(brokers, topic, 100)
    at_start = mark(source, topic)
    src = read_all(brokers.source, topic, 1)
    copy_as(brokers.target, topic, src, list(range(40)))
    admin = AdminClient({"bootstrap.servers": brokers.source})
    admin.delete_records([TopicPartition(topic, 0, 70)])[TopicPartition(topic, 0, 70)].result()
    copy_as(brokers.target, topic, src, list(range(70, 100)))

    omap = OffsetMap.load(tmp_path)
    report = build_offset_map(source, target, [(topic, 0)], omap, marks={(topic, 0): [at_start]})
    part = omap.get(topic, 0)
    assert part is not None and part.runs == [OffsetRun(70, 40, 30)]
    assert [(d["first"], d["last"]) for d in report.lost] == [(40, 69)]
    (result,) = verify(source, target, ranges_for(source, [topic], None, omap), workers=1)
    assert not result.match
    assert result.first_difference["source_offset"] == 40
    assert "40..69 lost" in result.first_difference["reason"]
    assert result.lost_source_ranges[0]["first"] == 40


def test_a_recreated_source_topic_is_detected_and_its_lost_range_named(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The source topic held 80 records when it was deleted and re-created (a new
    topic id, KIP-516) while MM2 had copied 50 of them; MM2 then copied the new
    topic's 10 records.  The map aligns the new topic; verify names offsets 50..79
    of the deleted topic, with both topic ids."""
    topic = f"{prefix}re"
    source, target = one_partition_on_both(brokers, topic, 80)
    first = mark(source, topic)
    if first.topic_id is None:
        pytest.skip(f"{brokers.kind} reports no topic ids (DescribeTopics)")
    copy_as(brokers.target, topic, read_all(brokers.source, topic, 1), list(range(50)))
    admin = AdminClient({"bootstrap.servers": brokers.source})
    admin.delete_topics([topic])[topic].result()
    deadline = time.monotonic() + 60
    while True:  # the deletion completes asynchronously
        try:
            create_topic(brokers.source, topic, 1)
            break
        except KafkaException:
            assert time.monotonic() < deadline, "the source topic was not re-created in 60 s"
            time.sleep(0.5)
    plain_records(brokers.source, topic, 10, first=1000)
    second = mark(source, topic)
    assert second.topic_id not in (None, first.topic_id)
    copy_as(brokers.target, topic, read_all(brokers.source, topic, 1), list(range(10)))

    omap = OffsetMap.load(tmp_path)
    report = build_offset_map(
        source, target, [(topic, 0)], omap, marks={(topic, 0): [first, second]}
    )
    part = omap.get(topic, 0)
    assert part is not None and part.runs == [OffsetRun(0, 50, 10)]
    assert [(d["first"], d["last"]) for d in report.lost] == [(50, 79)]
    assert f"{first.topic_id} -> {second.topic_id}" in report.lost[0]["reason"]
    (result,) = verify(source, target, ranges_for(source, [topic], None, omap), workers=1)
    assert not result.match and "50..79 lost" in result.first_difference["reason"]


def test_many_partitions_through_one_consumer_with_small_buffers(
    brokers: Brokers, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four partitions aligned through one consumer per side while a side may run
    only 5 records ahead (BUFFER_LIMIT): the readers take turns, nothing stalls,
    and every partition's map is exact (a replay in partition 2 named)."""
    from kmigrate.offsets import build

    monkeypatch.setattr(build, "BUFFER_LIMIT", 5)
    topic = f"{prefix}many"
    create_topic(brokers.source, topic, 4)
    create_topic(brokers.target, topic, 4)
    rows = [
        {
            "key": b"k%d" % i,
            "value": b"v%d" % i,
            "timestamp": 1_700_000_000_000 + i,
            "partition": i % 4,
        }
        for i in range(400)
    ]
    produce(brokers.source, topic, rows)
    again = [r for r in rows if r["partition"] == 2][40:50]
    produce(brokers.target, topic, rows[:300] + again + rows[300:])
    source, target = KafkaCluster("source", brokers.source), KafkaCluster("target", brokers.target)
    omap = OffsetMap.load(tmp_path)
    report = build_offset_map(source, target, [(topic, p) for p in range(4)], omap, workers=1)
    assert [p.copies for p in report.partitions] == [100] * 4
    assert [p.duplicate_records for p in report.partitions] == [0, 0, 10, 0]
    assert omap.runs(topic, 0) == [OffsetRun(0, 0, 100)]
    assert omap.runs(topic, 2) == [OffsetRun(0, 0, 75), OffsetRun(75, 85, 25)]
    assert omap.get(topic, 2).duplicates == [OffsetRun(40, 75, 10)]

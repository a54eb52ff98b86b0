"""The Kafka adapter's read paths on a real broker: ``watermark_offsets`` (the one
name for a partition's offsets) and ``read`` with stop offsets, which run on the
adapter's one consume loop (``RawReader``)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.clusters.port import PartitionEnd, Record
from tests.conftest import Brokers, create_topic, produce

pytestmark = pytest.mark.broker


def test_watermark_offsets_read_end_is_the_offset_the_next_record_gets(
    brokers: Brokers, prefix: str
) -> None:
    """With ``read_end`` the end is read to the end of the partition, so it is the
    offset the broker gives the next record, also where ListOffsets lags (Tansu,
    sandbox-broker.md facts 1 and 11); the log start offset is ListOffsets'."""
    topic = f"{prefix}ends"
    create_topic(brokers.source, topic, 1)
    producer = Producer({"bootstrap.servers": brokers.source, "linger.ms": 50})
    for _ in range(10):  # ten produce batches of 100 records
        for _ in range(100):
            producer.produce(topic, value=b"v", partition=0)
        assert producer.flush(30) == 0
    source = KafkaCluster("source", brokers.source)

    marks = source.watermark_offsets([(topic, 0)], read_end=True)

    offsets: list[int] = []
    producer.produce(
        topic, value=b"next", partition=0, on_delivery=lambda _e, m: offsets.append(m.offset())
    )
    assert producer.flush(30) == 0
    assert marks == {(topic, 0): (0, offsets[0])}
    assert offsets == [1000]


def test_read_finishes_each_partition_at_its_stop_offset(brokers: Brokers, prefix: str) -> None:
    """``read`` yields a partition's records below its stop offset in order, then its
    end at the stop offset; a partition that starts at its stop offset ends before
    any fetch; one without a stop offset ends at the end of the partition."""
    topic = f"{prefix}stops"
    create_topic(brokers.source, topic, 3)
    produce(
        brokers.source, topic, [{"value": f"{i}".encode(), "partition": i % 3} for i in range(30)]
    )
    source = KafkaCluster("source", brokers.source)

    items = list(
        source.read(
            [(topic, 0, 0), (topic, 1, 4), (topic, 2, 0)],
            stop_offsets={(topic, 0): 4, (topic, 1): 4},
        )
    )

    records = {
        p: [r.offset for r in items if isinstance(r, Record) and r.partition == p] for p in range(3)
    }
    ends = {e.partition: e.offset for e in items if isinstance(e, PartitionEnd)}
    assert records == {0: [0, 1, 2, 3], 1: [], 2: list(range(10))}
    assert ends == {0: 4, 1: 4, 2: 10}
    assert items.index(PartitionEnd(topic, 1, 4)) == 0  # before any fetch


def test_a_partition_finished_twice_is_finished_once(brokers: Brokers, prefix: str) -> None:
    """A read loop may finish a partition its end-of-partition event already
    finished (a later message of the same ``consume()`` batch past the stop offset,
    as in ``verify/locate.py``); the second ``finish`` only returns the end marker,
    where it used to unassign again and fail ("Can't subtract from empty
    assignment")."""
    topic = f"{prefix}twice"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"value": b"v", "partition": i % 2} for i in range(6)])
    source = KafkaCluster("source", brokers.source)

    with source.raw_reader([(topic, 0, 0), (topic, 1, 0)]) as reader:
        while (topic, 0) in reader.pending:
            for msg in reader.consume():
                if msg.error() is not None:
                    reader.event(msg)
        again = reader.finish(topic, 0, 3)
        assert (topic, 0) not in reader.pending

    assert again == PartitionEnd(topic, 0, 3)


def _first_batch(source: KafkaCluster, topic: str, eager: bool) -> tuple[list[int], float]:
    """Offsets of the records in the first non-empty ``consume(5 s)`` batch of a
    ``raw_reader(batch=1000)`` over ``topic`` partition 0, and its seconds."""
    with source.raw_reader([(topic, 0, 0)], eager=eager) as reader:
        while True:
            started = time.monotonic()
            msgs = reader.consume(5.0)
            if msgs:
                took = time.monotonic() - started
                return [int(m.offset() or 0) for m in msgs if m.error() is None], took


def test_an_eager_reader_returns_what_has_come_without_waiting_for_a_full_batch(
    brokers: Brokers, prefix: str
) -> None:
    """A short read (issue 17: the next record at a committed offset, the final
    verify's tail) must not sit out ``consume``'s timeout: librdkafka's batch consume
    waits the whole timeout unless the batch fills, so three records read with a
    batch of 1,000 and a 5 s timeout took 5 s.  The eager reader returns them at
    once (fails on the code before: it had no eager read).  The default reader
    still waits for a full batch (the bulk path is unchanged)."""
    topic = f"{prefix}eager"
    create_topic(brokers.source, topic, 1)
    produce(brokers.source, topic, [{"value": b"v", "partition": 0} for _ in range(3)])
    source = KafkaCluster("source", brokers.source)

    offsets, took = _first_batch(source, topic, eager=True)
    assert offsets == [0, 1, 2]
    assert took < 2.5

    offsets, took = _first_batch(source, topic, eager=False)
    assert offsets == [0, 1, 2]
    assert took >= 4.5

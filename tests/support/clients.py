"""The tests' own plain confluent-kafka clients: what a cluster holds and which offsets
a group committed, read without kmigrate's adapter (so a test never checks kmigrate
with kmigrate)."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

Row = tuple[int, int, bytes | None, bytes | None, tuple[Any, ...], int]


def plain_read(bootstrap: str, topic: str, partitions: int) -> dict[int, list[Row]]:
    """Every record per partition, read by a plain consumer: (partition, offset, key,
    value, headers, timestamp)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "test-plain-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, -2) for p in range(partitions)])
    out: dict[int, list[Row]] = {p: [] for p in range(partitions)}
    done: set[int] = set()
    deadline = time.monotonic() + 60
    try:
        while len(done) < partitions and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.2):
                err = msg.error()
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, err
                    done.add(msg.partition())
                    continue
                out[msg.partition()].append(
                    (
                        msg.partition(),
                        msg.offset(),
                        msg.key(),
                        msg.value(),
                        tuple(msg.headers() or ()),
                        msg.timestamp()[1],
                    )
                )
    finally:
        consumer.close()
    assert len(done) == partitions, "plain reader did not reach the end"
    return out


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit ``{(topic, partition): offset}`` for ``group`` (AdminClient, not a consumer).

    Retried for up to 60 s while the group's coordinator is not ready (on a fresh
    Apache Kafka cluster ``__consumer_offsets`` is still loading): such an error can
    come back per partition inside a result that does not raise, so each
    partition's error is checked.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
    deadline = time.monotonic() + 60
    while True:
        req = ConsumerGroupTopicPartitions(group, tps)
        try:
            for f in admin.alter_consumer_group_offsets([req], request_timeout=10).values():
                errors = [tp.error for tp in f.result(timeout=20).topic_partitions if tp.error]
                if errors:
                    raise KafkaException(errors[0])
            return
        except (KafkaException, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """``{(topic, partition): offset}`` that ``group`` has committed (none: left out)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    result = next(iter(fut.values())).result()
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0}

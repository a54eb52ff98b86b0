"""The Kafka-API adapter over confluent-kafka, split by job:

* :mod:`~kmigrate.adapters.kafka.admin`: :class:`KafkaCluster`, the control and
  metadata calls (and the doors to reading and writing);
* :mod:`~kmigrate.adapters.kafka.groups`: consumer-group calls;
* :mod:`~kmigrate.adapters.kafka.reader`: :class:`RawReader`, the one consume
  loop, and the read paths built on it;
* :mod:`~kmigrate.adapters.kafka.writer`: :class:`RecordWriter`, the target's
  idempotent producer;
* :mod:`~kmigrate.adapters.kafka.batch_copy`: :func:`copy_batch`, the mirror's
  per-record path;
* :mod:`~kmigrate.adapters.kafka.client` and :mod:`~kmigrate.adapters.kafka.errors`:
  shared client settings, and client errors mapped to kmigrate's.

The neutral value types (:class:`~kmigrate.clusters.port.Record`,
:class:`~kmigrate.clusters.port.PartitionEnd`...) belong to
:mod:`kmigrate.clusters.port`; this adapter builds them.

References: confluent-kafka-python API docs (AdminClient, Consumer, Producer);
librdkafka CONFIGURATION.md for the settings used.
"""

from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

from kmigrate.adapters.kafka.admin import KafkaCluster
from kmigrate.adapters.kafka.batch_copy import BatchTally, copy_batch
from kmigrate.adapters.kafka.client import FETCH_WAIT_MS
from kmigrate.adapters.kafka.errors import unreachable
from kmigrate.adapters.kafka.reader import READ_BATCH, READER_SETTINGS, RawMessage, RawReader
from kmigrate.adapters.kafka.writer import (
    MAX_RECORD_BYTES,
    UNSENDABLE_TIMESTAMP_MS,
    WRITER_SETTINGS,
    RecordWriter,
    unsendable_timestamp,
)

__all__ = [
    "FETCH_WAIT_MS",
    "MAX_RECORD_BYTES",
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "READER_SETTINGS",
    "READ_BATCH",
    "UNSENDABLE_TIMESTAMP_MS",
    "WRITER_SETTINGS",
    "BatchTally",
    "KafkaCluster",
    "RawMessage",
    "RawReader",
    "RecordWriter",
    "copy_batch",
    "unreachable",
    "unsendable_timestamp",
]

"""The Kafka adapter's cluster: :class:`KafkaCluster`, the control and metadata
calls (Metadata, DescribeConfigs, ListOffsets, CreateTopics, DeleteTopics, ACL
operations), and the doors to its reader and writer.

Every ``KafkaException`` is translated into :class:`~kmigrate.errors.ClusterError`
naming the cluster's role and bootstrap servers.  Only the ``target`` role may
write: a :class:`KafkaCluster` opened with ``role="source"`` refuses every write
call, so kmigrate cannot write to or delete from the source by mistake.

References: confluent-kafka-python API docs (AdminClient, Consumer, Producer);
librdkafka CONFIGURATION.md for the settings used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import ConfigResource, ConfigSource, NewTopic

from kmigrate.adapters.kafka.client import ADMIN_TIMEOUT_S
from kmigrate.adapters.kafka.errors import READ_ATTEMPTS, TRANSIENT
from kmigrate.adapters.kafka.groups import ConsumerGroups, authorized_operations
from kmigrate.adapters.kafka.reader import (
    READ_BATCH,
    RawReader,
    first_records,
    follow_records,
    read_records,
)
from kmigrate.adapters.kafka.writer import RecordWriter
from kmigrate.clusters.port import (
    ClusterInfo,
    ConfigValue,
    CreateOutcome,
    PartitionEnd,
    Record,
    Tick,
    TopicMeta,
)
from kmigrate.errors import ClusterError

#: Seconds a Metadata answer listing no topic is asked again (KafkaCluster.topics).
EMPTY_METADATA_S = 1.0


@dataclass
class KafkaCluster(ConsumerGroups):
    """One cluster, opened in a role (``source`` or ``target``).

    Args:
        role: ``"source"`` (read-only) or ``"target"``.
        bootstrap_servers: comma-separated ``host:port`` list.
        config: extra librdkafka settings, secrets already resolved.  They are
            never printed; errors name only ``role`` and ``bootstrap_servers``.
    """

    _warm_writer: RecordWriter | None = field(default=None, init=False, repr=False)

    # -- reads ---------------------------------------------------------------------

    def describe(self) -> ClusterInfo:
        """Cluster id, broker count and topic count.

        Raises:
            ClusterError: unreachable, or authentication failed.
        """
        try:
            md = self.admin.list_topics(timeout=ADMIN_TIMEOUT_S)
        except KafkaException as exc:
            raise self._fail("reading its Metadata", exc) from None
        topics = [t for t in md.topics if not t.startswith("__")]
        return ClusterInfo(md.cluster_id, len(md.brokers), len(topics))

    def topics(self) -> dict[str, TopicMeta]:
        """Every topic's partition count and replication factor (from Metadata).

        An answer without any topic is asked again for up to
        :data:`EMPTY_METADATA_S` seconds: a ZooKeeper-mode broker that has just
        started answers Metadata from a cache the controller has not filled yet
        (its UpdateMetadata request), listing itself and no topic (measured
        here: for about 50 ms after a restart of Apache Kafka 3.9; a request
        sent while it was down gets exactly that answer).  Taken as it is, a
        verify after such a restart compared no partition and said all matched.

        Raises:
            ClusterError: the Metadata request failed.
        """
        deadline = None
        while True:
            try:
                md = self.admin.list_topics(timeout=ADMIN_TIMEOUT_S)
            except KafkaException as exc:
                raise self._fail("listing topics", exc) from None
            # From the first answer: the request itself may have waited for the broker.
            deadline = deadline or time.monotonic() + EMPTY_METADATA_S
            if md.topics or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        out = {}
        for name, tm in md.topics.items():
            if tm.error is not None and tm.error.code() != KafkaError.NO_ERROR:
                continue
            rf = max((len(p.replicas) for p in tm.partitions.values()), default=0)
            out[name] = TopicMeta(name, len(tm.partitions), rf)
        return out

    def topic_configs(self, names: Iterable[str]) -> dict[str, dict[str, ConfigValue]]:
        """DescribeConfigs for each topic: ``{topic: {key: ConfigValue}}``.

        Raises:
            ClusterError: the request failed for any topic.
        """
        resources = [ConfigResource("topic", n) for n in names]
        if not resources:
            return {}
        out: dict[str, dict[str, ConfigValue]] = {}
        try:
            futures = self.admin.describe_configs(resources, request_timeout=ADMIN_TIMEOUT_S)
            for res, fut in futures.items():
                entries = fut.result()
                out[res.name] = {
                    key: ConfigValue(
                        value=entry.value,
                        source=source_name(entry.source),
                        is_sensitive=bool(entry.is_sensitive),
                        is_read_only=bool(entry.is_read_only),
                    )
                    for key, entry in entries.items()
                }
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError._TIMED_OUT:
                # A ZooKeeper-mode broker answers DescribeConfigs of a topic from
                # ZooKeeper (its Metadata from its own cache): with ZooKeeper down
                # the request waits until the client gives up.
                raise ClusterError(
                    f"{self.label}: describing topic configs failed: the cluster did not "
                    f"answer within {ADMIN_TIMEOUT_S:.0f} s ({err.name()}: {err.str()}); a "
                    "broker in ZooKeeper mode reads topic configs from ZooKeeper: is the "
                    "cluster's ZooKeeper up?"
                ) from None
            raise self._fail("describing topic configs", exc) from None
        return out

    def broker_configs(self, keys: Iterable[str]) -> dict[str, str]:
        """Values of ``keys`` in one broker's configuration (DescribeConfigs on the
        lowest broker id): ``{key: value}``, keys the broker does not report left out.

        Best effort: a broker that refuses or lacks DescribeConfigs on the cluster
        gives ``{}`` (the caller then decides without these values).
        """
        wanted = set(keys)
        try:
            md = self.admin.list_topics(timeout=ADMIN_TIMEOUT_S)
            if not md.brokers:
                return {}
            resource = ConfigResource("broker", str(min(md.brokers)))
            futures = self.admin.describe_configs([resource], request_timeout=ADMIN_TIMEOUT_S)
            entries = next(iter(futures.values())).result()
        except KafkaException:
            return {}
        return {k: e.value for k, e in entries.items() if k in wanted and e.value is not None}

    def watermark_offsets(
        self, partitions: Iterable[tuple[str, int]], *, read_end: bool = False
    ) -> dict[tuple[str, int], tuple[int, int]]:
        """``{(topic, partition): (log_start_offset, end)}``: ``end`` is the high
        watermark from ListOffsets, or with ``read_end`` the offset the next
        record written to the partition will get, read from the high watermark
        to the end-of-partition event (one consumer for all), so that it is right
        even where ListOffsets lags behind the log (see docs/sandbox-broker.md).

        A ListOffsets request cut off by a dropped connection (a transient client
        error, see :data:`~kmigrate.adapters.kafka.errors.TRANSIENT`) is asked
        again, up to :data:`~kmigrate.adapters.kafka.errors.READ_ATTEMPTS` times:
        it only reads.

        Raises:
            ClusterError: the request failed, or kept failing transiently, or
                (``read_end``) a partition could not be read.
        """
        marks = self._list_offsets(partitions)
        if not read_end:
            return marks
        ends: dict[tuple[str, int], tuple[int, int]] = {}
        for item in self.read([(t, p, high) for (t, p), (_low, high) in marks.items()]):
            if isinstance(item, PartitionEnd):
                ends[(item.topic, item.partition)] = (
                    marks[(item.topic, item.partition)][0],
                    item.offset,
                )
        return ends

    def _list_offsets(
        self, partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[int, int]]:
        """``{(topic, partition): (log_start_offset, high_watermark)}`` from ListOffsets
        (see :meth:`watermark_offsets`)."""
        consumer = self._consumer()
        out: dict[tuple[str, int], tuple[int, int]] = {}
        try:
            for topic, partition in partitions:
                for attempt in range(1, READ_ATTEMPTS + 1):
                    try:
                        low, high = consumer.get_watermark_offsets(
                            TopicPartition(topic, partition), timeout=ADMIN_TIMEOUT_S
                        )
                        break
                    except KafkaException as exc:
                        err = exc.args[0] if exc.args else None
                        code = err.code() if isinstance(err, KafkaError) else None
                        if code not in TRANSIENT or attempt == READ_ATTEMPTS:
                            raise
                        time.sleep(0.2 * attempt)
                out[(topic, partition)] = (int(low), int(high))
        except KafkaException as exc:
            raise self._fail("reading partition offsets", exc) from None
        finally:
            consumer.close()
        return out

    def read(
        self,
        starts: Iterable[tuple[str, int, int]],
        *,
        stop_offsets: Mapping[tuple[str, int], int] | None = None,
        batch: int = 1000,
        idle_timeout_s: float = 60.0,
    ) -> Iterator[Record | PartitionEnd]:
        """Read partitions from given offsets, yielding records in offset order.

        A partition finishes at its end-of-partition event (the fetch reached
        the high watermark the broker reported, so never before the high
        watermark seen when the read started) or at its stop offset, whichever
        comes first; its end is then yielded as :class:`PartitionEnd`.  Records
        of one partition come in offset order; partitions interleave.

        Args:
            starts: ``(topic, partition, start_offset)``; ``start_offset`` may be
                ``OFFSET_BEGINNING`` or ``OFFSET_END``.
            stop_offsets: finish a partition once its position reaches this
                offset (exclusive); records at or past it are not yielded.
            batch: records per ``consume`` call.
            idle_timeout_s: give up when no record and no end-of-partition
                event arrives for this many seconds.

        Raises:
            ClusterError: a fetch failed, a start offset is out of range (the
                log start offset moved past it), or the read made no progress
                for ``idle_timeout_s``.
        """
        return read_records(
            self,
            starts,
            stop_offsets=stop_offsets,
            batch=batch,
            idle_timeout_s=idle_timeout_s,
        )

    def follow(
        self,
        starts: Iterable[tuple[str, int, int]],
        *,
        batch: int = 1000,
        tick_s: float = 0.25,
    ) -> Iterator[Record | PartitionEnd | Tick]:
        """Read partitions from given offsets and keep reading new records (follow mode).

        Unlike :meth:`read`, a partition never finishes: reaching its end yields
        a :class:`PartitionEnd` (the offset the next record will get, past any
        transaction markers) and reading goes on.  About every ``tick_s``
        seconds, and whenever a ``consume`` call returns nothing, a
        :class:`Tick` carries the high watermarks last seen in fetch responses
        (cached by librdkafka: no request per tick), so the caller can compute
        lag and decide to stop; closing the generator closes the consumer.

        Raises:
            OffsetOutOfRange: a position the partition no longer holds (the
                log start offset passed it, e.g. retention).
            ClusterError: a fetch failed.
        """
        return follow_records(self, starts, batch=batch, tick_s=tick_s)

    def raw_reader(
        self,
        starts: Iterable[tuple[str, int, int]],
        *,
        follow: bool = False,
        batch: int = READ_BATCH,
        idle_timeout_s: float = 60.0,
        eager: bool = False,
    ) -> RawReader:
        """A :class:`RawReader` over partitions from given offsets (the fast path).

        Use it as a context manager; it closes its consumer on exit.

        Args:
            starts: ``(topic, partition, start_offset)``.
            follow: keep partitions assigned at their end (follow mode) instead
                of finishing them.
            batch: records per ``consume`` call (at most, with ``eager``).
            idle_timeout_s: as in :meth:`read` (not in follow mode).
            eager: a short read (a few thousand records, say): each ``consume``
                returns what has come instead of waiting for a full batch
                (:meth:`RawReader.consume`).
        """
        return RawReader(self, list(starts), follow, batch, idle_timeout_s, eager=eager)

    # -- writes (target only) ----------------------------------------------------

    def create_topics(
        self,
        topics: Iterable[tuple[str, int, int, Mapping[str, str]]],
        *,
        validate_only: bool = False,
    ) -> list[CreateOutcome]:
        """CreateTopics, one outcome per topic (a call can partly succeed).

        Args:
            topics: ``(name, partitions, replication_factor, configs)``.
            validate_only: ask the broker to check the request without creating
                anything (CreateTopics ``validate_only``, KIP-108); a topic that
                passes is reported ``created``.

        Raises:
            ClusterError: on the source role, or if the request could not be sent.
        """
        self._require_target("create topics")
        new = [NewTopic(n, p, rf, config=dict(c)) for n, p, rf, c in topics]
        if not new:
            return []
        outcomes = []
        try:
            futures = self.admin.create_topics(
                new, request_timeout=ADMIN_TIMEOUT_S, validate_only=validate_only
            )
        except KafkaException as exc:
            raise self._fail("creating topics", exc) from None
        for name, fut in futures.items():
            try:
                fut.result()
                outcomes.append(CreateOutcome(name, "created"))
            except KafkaException as exc:
                err = exc.args[0]
                if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    outcomes.append(CreateOutcome(name, "exists", err.str()))
                else:
                    outcomes.append(CreateOutcome(name, "failed", f"{err.name()}: {err.str()}"))
        if not validate_only:
            self._await_visible({o.topic for o in outcomes if o.status == "created"})
        return outcomes

    def _await_visible(self, names: set[str], timeout_s: float = 30.0) -> None:
        """Wait (at most ``timeout_s`` seconds) until Metadata shows every topic of
        ``names`` with a leader for each partition, three answers in a row: a
        successful CreateTopics means the controller created them, and the other
        brokers learn of them a little later (Kafka's ``Admin.createTopics``
        javadoc: "it may take several seconds ... for all the brokers to become
        aware that the topics have been created"), so a step right after would
        otherwise find them missing.  Returns quietly at the deadline."""
        if not names:
            return
        deadline = time.monotonic() + timeout_s
        seen = 0
        while seen < 3 and time.monotonic() < deadline:
            try:
                meta = self.admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics
            except KafkaException:
                meta = {}
            ready = all(
                n in meta
                and meta[n].error is None
                and meta[n].partitions
                and all(p.leader >= 0 for p in meta[n].partitions.values())
                for n in names
            )
            seen = seen + 1 if ready else 0
            if seen < 3:
                time.sleep(0.05)

    def delete_topic(self, name: str) -> str:
        """Delete one topic; returns ``deleted`` or ``absent``.

        Raises:
            ClusterError: on the source role, or the broker refused.
        """
        self._require_target("delete topics")
        try:
            self.admin.delete_topics([name], request_timeout=ADMIN_TIMEOUT_S)[name].result()
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                return "absent"
            raise self._fail(f"deleting topic {name}", exc) from None
        return "deleted"

    def writer(
        self, on_error: Callable[[str], None], partitions: Iterable[tuple[str, int]] = ()
    ) -> RecordWriter:
        """An idempotent producer that keeps partition, key, value, headers, timestamp.

        ``partitions`` (``(topic, partition)`` pairs it will write) are checked
        against the target's metadata when the target confirms nothing (see
        :class:`RecordWriter`).  Returns the writer :meth:`prepare_writer`
        started, if there is one (each is handed out once), or a new one.

        Raises:
            ClusterError: on the source role.
        """
        self._require_target("produce records")
        warm, self._warm_writer = self._warm_writer, None
        if warm is not None:
            warm.adopt(on_error, partitions)
            return warm
        return RecordWriter(self, on_error, partitions)

    def prepare_writer(self) -> None:
        """Start the next :meth:`writer` now, so that it is ready when records come.

        A new idempotent producer sends nothing until it has a producer id
        (InitProducerId, KIP-98), and librdkafka asks for one only when a broker
        connection is up: at creation none is, so it retries on a 500 ms timer
        (``debug=eos`` logs "No brokers available for Idempotent producer",
        "Starting PID FSM timer: Coordinator not up").  Measured on the local
        brokers: a record produced at the writer's creation is confirmed after
        0.50 s, against 0.004 s without idempotence.  Created a few
        milliseconds before its first record, with ``enable.sparse.connections``
        off (:data:`WRITER_SETTINGS`), the writer has its id by then: the first
        record is confirmed 0.007-0.05 s after creation (0.5-1.0 s with sparse
        connections).  Created before the copy's own lookups, the writer is
        ready when the first records come.  Nothing is
        produced before :meth:`writer` hands it out, so no delivery can fail
        before then; a fatal client error is kept and raised by its first call.

        Raises:
            ClusterError: on the source role.
        """
        self._require_target("produce records")
        if self._warm_writer is None:
            self._warm_writer = RecordWriter(self, lambda _line: None)

    def close(self) -> None:
        """Release the admin client (librdkafka frees it when garbage-collected)."""
        self._admin = None

    # -- lookups by time and ACL operations (added for translate-offsets, the
    # -- dual-write check and preflight; reads work on both roles) -----------------

    def offsets_for_times(
        self, partitions: Iterable[tuple[str, int]], timestamp_ms: int
    ) -> dict[tuple[str, int], int | None]:
        """The earliest offset whose record timestamp is >= ``timestamp_ms``, per partition.

        ListOffsets by timestamp (KIP-79, ``Consumer.offsets_for_times``).
        ``None`` when no record is that recent.  Records before the returned
        offset may still carry later timestamps (CreateTime is set by
        producers), so callers filter records by timestamp as well.

        Raises:
            ClusterError: the request failed.
        """
        wanted = [TopicPartition(t, p, max(int(timestamp_ms), 0)) for t, p in partitions]
        if not wanted:
            return {}
        consumer = self._consumer()
        try:
            found = consumer.offsets_for_times(wanted, timeout=ADMIN_TIMEOUT_S)
        except KafkaException as exc:
            raise self._fail("looking up offsets by timestamp", exc) from None
        finally:
            consumer.close()
        out: dict[tuple[str, int], int | None] = {}
        for tp in found:
            if tp.error is not None:
                raise ClusterError(
                    f"{self.label}: looking up offsets by timestamp for "
                    f"{tp.topic}[{tp.partition}] failed: {tp.error.str()}"
                )
            out[(tp.topic, tp.partition)] = int(tp.offset) if tp.offset >= 0 else None
        return out

    def first_records(
        self, starts: Iterable[tuple[str, int, int]], *, idle_timeout_s: float = 30.0
    ) -> dict[tuple[str, int], Record | None]:
        """The first record at or after each start offset, or None at the partition's end.

        This is the record a consumer positioned at that offset reads next
        (offsets without a record, such as transaction markers, are passed).
        One consumer for all partitions; each is released after its first record.

        Raises:
            OffsetOutOfRange: a start offset the partition no longer holds.
            ClusterError: a fetch failed, or no answer for ``idle_timeout_s``.
        """
        return first_records(self, starts, idle_timeout_s=idle_timeout_s)

    def topic_operations(self, topics: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """Per topic, the ACL operations this client's principal may perform on it
        (``READ``, ``WRITE``, ``DESCRIBE``...): DescribeTopics with
        ``include_authorized_operations`` (KIP-430).

        Returns ``{topic: operations}``; ``frozenset()`` for a topic the principal may
        not even describe (TOPIC_AUTHORIZATION_FAILED), ``None`` for a topic that
        does not exist or a broker that does not report operations.

        Raises:
            ClusterError: the request failed otherwise.
        """
        futures = self._describe_topics(topics, include_authorized_operations=True)
        return authorized_operations(futures, KafkaError.TOPIC_AUTHORIZATION_FAILED, self._fail)

    def _describe_topics(self, topics: Iterable[str], **options: Any) -> dict[str, Any]:
        """DescribeTopics of each distinct name: ``{topic: future}`` (``{}`` for none).

        Raises:
            ClusterError: the request could not be sent.
        """
        names = sorted(set(topics))
        if not names:
            return {}
        try:
            return dict(
                self.admin.describe_topics(
                    TopicCollection(names), request_timeout=ADMIN_TIMEOUT_S, **options
                )
            )
        except KafkaException as exc:
            raise self._fail("describing topics", exc) from None

    def topic_ids(self, topics: Iterable[str]) -> dict[str, str | None]:
        """Each topic's id (KIP-516: a UUID a topic keeps for life, a new one when
        it is deleted and re-created), from DescribeTopics, as base64 text;
        ``None`` for a topic that does not exist, or a broker that gives no id
        (the all-zero UUID: a broker without KIP-516 ids).

        Raises:
            ClusterError: the request failed otherwise.
        """
        futures = self._describe_topics(topics)
        out: dict[str, str | None] = {}
        for name, fut in futures.items():
            try:
                uuid = fut.result().topic_id
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise self._fail(f"describing {name}", exc) from None
                out[name] = None
                continue
            zero = uuid is None or (
                uuid.get_most_significant_bits() == 0 and uuid.get_least_significant_bits() == 0
            )
            out[name] = None if zero else str(uuid)
        return out

    def cluster_operations(self) -> frozenset[str] | None:
        """The ACL operations this client's principal may perform on the cluster
        (DescribeCluster with ``include_authorized_operations``, KIP-430); ``None``
        when the broker does not report them (a broker without Kafka's authorizer
        semantics, such as Tansu).

        Raises:
            ClusterError: the request failed.
        """
        try:
            desc = self.admin.describe_cluster(
                request_timeout=ADMIN_TIMEOUT_S, include_authorized_operations=True
            ).result()
        except KafkaException as exc:
            raise self._fail("describing the cluster", exc) from None
        ops = desc.authorized_operations
        return None if ops is None else frozenset(op.name for op in ops)


def source_name(source: Any) -> str:
    """A DescribeConfigs source as its KIP-226 name (``DEFAULT_CONFIG``); confluent-kafka
    hands out the enum's number."""
    try:
        return ConfigSource(int(source)).name
    except (TypeError, ValueError):
        return str(getattr(source, "name", source))

"""The Kafka-API adapter: admin, read and write calls over confluent-kafka.

Every ``KafkaException`` is translated here into :class:`~kmigrate.errors.ClusterError`
naming the cluster's role and bootstrap servers.  Only the ``target`` role may
write: a :class:`KafkaCluster` opened with ``role="source"`` refuses every write
call, so kmigrate cannot write to or delete from the source by mistake.

References: confluent-kafka-python API docs (AdminClient, Consumer, Producer);
librdkafka CONFIGURATION.md for the settings used below.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

from kmigrate.adapters.malloc import keep_large_buffers_mapped
from kmigrate.errors import ClusterError, OffsetOutOfRange, Unreachable
from kmigrate.logs import client_logger, last_failure

#: Seconds an admin request may take before it counts as unreachable.
ADMIN_TIMEOUT_S = 15.0
#: Seconds a Metadata answer listing no topic is asked again (KafkaCluster.topics).
EMPTY_METADATA_S = 1.0
Headers = list[tuple[str, bytes | None]]
#: Client-side errors of a request cut off by a dropped or reset connection
#: (librdkafka's local error codes); a read-only request may be asked again.
TRANSIENT = frozenset({KafkaError._TRANSPORT, KafkaError._DESTROY_BROKER})
#: How many times a read-only request is tried when it fails transiently.
READ_ATTEMPTS = 3
#: Client-side errors that mean no broker answered at all (librdkafka's local
#: codes: transport failure, all brokers down, request timed out).
NO_ANSWER = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT})

#: Milliseconds a fetch may wait on the broker for data (librdkafka's default
#: 500): every kmigrate consumer sets it, so that a read of the end of a
#: partition, or a follow, answers quickly.
FETCH_WAIT_MS = 50

#: Records per ``consume()`` call of the fast path (mirror's copy loop and
#: verify).  Each batch is held twice while it is converted (librdkafka's
#: messages and Python's) and the consumer refills its queue meanwhile:
#: 10,000 cost 11-28 MiB more peak RSS per process than 1,000 (200 B and
#: 1 KB records), and 1,000 measured no slower (bench/README.md).
READ_BATCH = 1000


@dataclass(frozen=True)
class ClusterInfo:
    """What ``describe`` reports: cluster id, number of brokers, number of topics."""

    cluster_id: str | None
    broker_count: int
    topic_count: int


@dataclass(frozen=True)
class TopicMeta:
    """A topic's shape from Metadata: partition count and replication factor."""

    name: str
    partitions: int
    replication_factor: int


@dataclass(frozen=True)
class ConfigValue:
    """One DescribeConfigs entry.  ``source`` is the broker's word (KIP-226)."""

    value: str | None
    source: str
    is_sensitive: bool = False
    is_read_only: bool = False


@dataclass(slots=True)
class Record:
    """One record as read: topic, partition, offset, key, value, headers, timestamp (ms).

    ``key``/``value`` keep the difference between ``None`` (null) and ``b""``.
    ``headers`` keeps order, duplicate names and null values.  (A slotted,
    unfrozen dataclass: one is built per record read, and frozen ones cost
    four times as much to build.)
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int

    @property
    def size(self) -> int:
        """Bytes of key, value and headers."""
        size = len(self.key or b"") + len(self.value or b"")
        if self.headers:
            size += sum(len(k) + len(v or b"") for k, v in self.headers)
        return size


@dataclass
class PartitionEnd:
    """Reached-end marker from a multi-partition read: ``offset`` is the partition end."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class GroupState:
    """A consumer group as DescribeGroups reports it.

    ``state``: the broker's word (``EMPTY``, ``STABLE``, ``PREPARING_REBALANCE``,
    ``COMPLETING_REBALANCE``, ``DEAD``, ``UNKNOWN``); ``members``: one
    ``client-id (member-id on host)`` line per active member.
    """

    group: str
    state: str
    members: list[str]

    @property
    def active(self) -> bool:
        """True when the group has members or is not idle (``EMPTY``/``DEAD``)."""
        return bool(self.members) or self.state not in ("EMPTY", "DEAD")


@dataclass
class Tick:
    """A pause in a follow read: ``highs`` maps ``(topic, partition)`` to the high
    watermark last seen (librdkafka's cached value; may lag, see sandbox-broker.md)."""

    highs: dict[tuple[str, int], int]


@dataclass
class CreateOutcome:
    """Per-topic outcome of ``create_topics``: ``created``, ``exists`` or ``failed``."""

    topic: str
    status: str
    error: str | None = None


@dataclass
class KafkaCluster:
    """One cluster, opened in a role (``source`` or ``target``).

    Args:
        role: ``"source"`` (read-only) or ``"target"``.
        bootstrap_servers: comma-separated ``host:port`` list.
        config: extra librdkafka settings, secrets already resolved.  They are
            never printed; errors name only ``role`` and ``bootstrap_servers``.
    """

    role: str
    bootstrap_servers: str
    config: Mapping[str, str] = field(default_factory=dict)
    _admin: AdminClient | None = field(default=None, init=False, repr=False)
    _warm_writer: RecordWriter | None = field(default=None, init=False, repr=False)

    # -- plumbing -----------------------------------------------------------------

    def _conf(self, **extra: Any) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "log.connection.close": False,
            # librdkafka's log to kmigrate's log file, never to stderr (kmigrate.logs).
            "logger": client_logger(self.role),
        }
        conf.update(self.config)
        conf.update(extra)
        return conf

    @property
    def label(self) -> str:
        """``source (127.0.0.1:19092)``: how errors name this cluster."""
        return f"{self.role} ({self.bootstrap_servers})"

    def _fail(self, what: str, exc: BaseException) -> ClusterError:
        detail = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
        if isinstance(detail, KafkaError):
            if detail.code() in NO_ANSWER:
                if self._admin is not None:
                    self._admin.poll(0)  # hand over librdkafka's queued log lines
                return unreachable(
                    self.role, self.bootstrap_servers, what, ADMIN_TIMEOUT_S, detail.str()
                )
            detail = f"{detail.name()}: {detail.str()}"
        return ClusterError(f"{self.label}: {what} failed: {detail}")

    @property
    def admin(self) -> AdminClient:
        """The cluster's AdminClient, created on first use.  Each use first
        hands librdkafka's queued log lines to the log (``poll(0)``), so they
        do not pile up in a long-lived client."""
        if self._admin is None:
            self._admin = AdminClient(self._conf())
        else:
            self._admin.poll(0)
        return self._admin

    def _require_target(self, what: str) -> None:
        if self.role != "target":
            raise ClusterError(
                f"{self.label}: refused to {what}: kmigrate never writes to the source cluster"
            )

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
                        source=_source_name(entry.source),
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

    def min_insync_replicas(self, topics: Iterable[str], timeout_s: float = 5.0) -> dict[str, int]:
        """Each topic's effective ``min.insync.replicas`` (DescribeConfigs):
        ``{topic: replicas}``.

        Best effort, for error messages: a topic whose config cannot be read
        within ``timeout_s`` seconds is left out; never raises.
        """
        resources = [ConfigResource("topic", t) for t in topics]
        out: dict[str, int] = {}
        if not resources:
            return out
        try:
            futures = self.admin.describe_configs(resources, request_timeout=timeout_s)
        except KafkaException:
            return out
        for res, fut in futures.items():
            with contextlib.suppress(KafkaException, TimeoutError, ValueError, TypeError, KeyError):
                out[res.name] = int(fut.result(timeout=timeout_s)["min.insync.replicas"].value)
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

    def group_offsets(self, topics: Iterable[str]) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets of every consumer group on the given topics.

        Returns ``{group_id: {(topic, partition): committed_offset}}``; groups
        with no commit on these topics are left out.

        Raises:
            ClusterError: ListConsumerGroups or OffsetFetch failed.
        """
        wanted = set(topics)
        try:
            listing = self.admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT_S).result()
            out: dict[str, dict[tuple[str, int], int]] = {}
            for group in sorted(g.group_id for g in listing.valid):
                if group.startswith("kmigrate-"):
                    continue
                futures = self.admin.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(group)], request_timeout=ADMIN_TIMEOUT_S
                )
                for fut in futures.values():
                    result = fut.result()
                    offsets = {
                        (tp.topic, tp.partition): tp.offset
                        for tp in result.topic_partitions
                        if tp.topic in wanted and tp.offset >= 0
                    }
                    if offsets:
                        out[group] = offsets
        except KafkaException as exc:
            raise self._fail("reading consumer group offsets", exc) from None
        return out

    def _consumer(self, **extra: Any) -> Consumer:
        keep_large_buffers_mapped()  # flat memory over a long read (see its module)
        return Consumer(
            self._conf(
                **{
                    # A private group id that never joins or commits: assign() only.
                    "group.id": f"kmigrate-reader-{uuid.uuid4().hex[:12]}",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "enable.partition.eof": True,
                    # Never jump silently: a start offset the log no longer holds
                    # (retention moved the log start past it) is an error.
                    "auto.offset.reset": "error",
                    "fetch.wait.max.ms": FETCH_WAIT_MS,
                    **extra,
                }
            )
        )

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """``(log_start_offset, high_watermark)`` of one partition; see :meth:`offsets`."""
        return self.offsets([(topic, partition)])[(topic, partition)]

    def offsets(
        self, partitions: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], tuple[int, int]]:
        """``{(topic, partition): (log_start_offset, high_watermark)}`` from ListOffsets.

        On brokers whose ListOffsets lags (see docs/sandbox-broker.md), use
        :meth:`log_ends` for the true end.

        A request cut off by a dropped connection (a transient client error,
        see :data:`TRANSIENT`) is asked again, up to :data:`READ_ATTEMPTS`
        times: it only reads.

        Raises:
            ClusterError: the request failed, or kept failing transiently.
        """
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

    def log_ends(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The offset the next record written to each partition will get.

        Reads from each high watermark to the end-of-partition event (one
        consumer for all), so the answer is right even where ListOffsets lags
        behind the log.

        Raises:
            ClusterError: a partition could not be read.
        """
        marks = self.offsets(partitions)
        ends: dict[tuple[str, int], int] = {}
        for item in self.read([(t, p, high) for (t, p), (_low, high) in marks.items()]):
            if isinstance(item, PartitionEnd):
                ends[(item.topic, item.partition)] = item.offset
        return ends

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
        label = self.label
        starts = list(starts)
        stops = dict(stop_offsets or {})
        pending = {(t, p) for t, p, _ in starts}
        if not pending:
            return
        consumer = self._consumer()
        try:
            consumer.incremental_assign([TopicPartition(t, p, o) for t, p, o in starts])
            # A partition already at its stop offset is finished before any fetch.
            for t, p, o in starts:
                stop = stops.get((t, p))
                if stop is not None and o >= 0 and o >= stop:
                    pending.discard((t, p))
                    consumer.incremental_unassign([TopicPartition(t, p)])
                    yield PartitionEnd(t, p, o)
            last_progress = time.monotonic()
            while pending:
                msgs = consumer.consume(num_messages=batch, timeout=0.05)
                if msgs:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > idle_timeout_s:
                    names = ", ".join(f"{t}[{p}]" for t, p in sorted(pending)[:5])
                    raise ClusterError(
                        f"{label}: no record and no end of partition for "
                        f"{idle_timeout_s:.0f} s while reading {names}"
                    )
                for msg in msgs:
                    tp = (str(msg.topic()), int(msg.partition() or 0))
                    if tp not in pending:
                        continue
                    offset = int(msg.offset() or 0)
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._AUTO_OFFSET_RESET:
                            raise _out_of_range(label, tp, offset, err)
                        if err.code() == KafkaError._PARTITION_EOF:
                            pending.discard(tp)
                            consumer.incremental_unassign([TopicPartition(*tp)])
                            yield PartitionEnd(tp[0], tp[1], offset)
                            continue
                        raise ClusterError(f"{label}: reading {tp[0]}[{tp[1]}] failed: {err.str()}")
                    stop = stops.get(tp)
                    if stop is not None and offset >= stop:
                        pending.discard(tp)
                        consumer.incremental_unassign([TopicPartition(*tp)])
                        yield PartitionEnd(tp[0], tp[1], stop)
                        continue
                    yield _record(msg)
        except KafkaException as exc:
            raise self._fail("reading records", exc) from None
        finally:
            consumer.close()

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
        label = self.label
        starts = list(starts)
        if not starts:
            return
        tps = [TopicPartition(t, p) for t, p, _ in starts]
        consumer = self._consumer()
        try:
            consumer.incremental_assign([TopicPartition(t, p, o) for t, p, o in starts])
            next_tick = time.monotonic() + tick_s
            while True:
                msgs = consumer.consume(num_messages=batch, timeout=0.05)
                for msg in msgs:
                    err = msg.error()
                    if err is not None:
                        tp = (str(msg.topic()), int(msg.partition() or 0))
                        offset = int(msg.offset() or 0)
                        if err.code() == KafkaError._PARTITION_EOF:
                            yield PartitionEnd(tp[0], tp[1], offset)
                            continue
                        if err.code() == KafkaError._AUTO_OFFSET_RESET:
                            raise _out_of_range(label, tp, offset, err)
                        raise ClusterError(f"{label}: reading {tp[0]}[{tp[1]}] failed: {err.str()}")
                    yield _record(msg)
                now = time.monotonic()
                if not msgs or now >= next_tick:
                    next_tick = now + tick_s
                    highs: dict[tuple[str, int], int] = {}
                    for tp_ in tps:
                        _low, high = consumer.get_watermark_offsets(tp_, cached=True)
                        if high >= 0:
                            highs[(tp_.topic, tp_.partition)] = int(high)
                    yield Tick(highs)
        except KafkaException as exc:
            raise self._fail("reading records", exc) from None
        finally:
            consumer.close()

    def raw_reader(
        self,
        starts: Iterable[tuple[str, int, int]],
        *,
        follow: bool = False,
        batch: int = READ_BATCH,
        idle_timeout_s: float = 60.0,
    ) -> RawReader:
        """A :class:`RawReader` over partitions from given offsets (the fast path).

        Use it as a context manager; it closes its consumer on exit.

        Args:
            starts: ``(topic, partition, start_offset)``.
            follow: keep partitions assigned at their end (follow mode) instead
                of finishing them.
            batch: records per ``consume`` call.
            idle_timeout_s: as in :meth:`read` (not in follow mode).
        """
        return RawReader(self, list(starts), follow, batch, idle_timeout_s)

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
        return outcomes

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

    # -- consumer groups and lookups by time (added for translate-offsets and the
    # -- dual-write check; reads work on both roles, writes on the target only) ----

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
        out: dict[tuple[str, int], Record | None] = {}
        pending = list(starts)
        if not pending:
            return out
        consumer = self._consumer()
        left = {(t, p) for t, p, _ in pending}
        try:
            consumer.assign([TopicPartition(t, p, o) for t, p, o in pending])
            last_progress = time.monotonic()
            while left:
                msgs = consumer.consume(num_messages=100, timeout=0.05)
                if msgs:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > idle_timeout_s:
                    names = ", ".join(f"{t}[{p}]" for t, p in sorted(left)[:5])
                    raise ClusterError(
                        f"{self.label}: no record and no end of partition for "
                        f"{idle_timeout_s:.0f} s while reading {names}"
                    )
                for msg in msgs:
                    tp = (str(msg.topic()), int(msg.partition() or 0))
                    if tp not in left:
                        continue
                    err = msg.error()
                    if err is not None and err.code() == KafkaError._AUTO_OFFSET_RESET:
                        raise _out_of_range(self.label, tp, int(msg.offset() or 0), err)
                    if err is not None and err.code() != KafkaError._PARTITION_EOF:
                        raise ClusterError(
                            f"{self.label}: reading {tp[0]}[{tp[1]}] failed: {err.str()}"
                        )
                    out[tp] = None if err is not None else _record(msg)
                    left.discard(tp)
                    consumer.incremental_unassign([TopicPartition(*tp)])
        except KafkaException as exc:
            raise self._fail("reading records", exc) from None
        finally:
            consumer.close()
        return out

    def group_offsets_of(self, group: str) -> dict[tuple[str, int], int]:
        """One consumer group's committed offsets: ``{(topic, partition): offset}``.

        Partitions without a committed offset are left out; an unknown group
        gives ``{}`` (OffsetFetch answers so for groups it does not know).

        Raises:
            ClusterError: OffsetFetch failed.
        """
        try:
            futures = self.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=ADMIN_TIMEOUT_S
            )
            result = next(iter(futures.values())).result()
        except KafkaException as exc:
            raise self._fail(f"reading the offsets of consumer group {group}", exc) from None
        return {
            (tp.topic, tp.partition): int(tp.offset)
            for tp in result.topic_partitions or []
            if tp.offset >= 0
        }

    def group_ids(self) -> list[str]:
        """Every consumer group id the cluster lists (ListGroups), sorted.

        Raises:
            ClusterError: ListGroups failed.
        """
        try:
            listing = self.admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT_S).result()
        except KafkaException as exc:
            raise self._fail("listing consumer groups", exc) from None
        return sorted(g.group_id for g in listing.valid)

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
        names = sorted(set(topics))
        if not names:
            return {}
        try:
            futures = self.admin.describe_topics(
                TopicCollection(names),
                request_timeout=ADMIN_TIMEOUT_S,
                include_authorized_operations=True,
            )
        except KafkaException as exc:
            raise self._fail("describing topics", exc) from None
        return _operations(futures, KafkaError.TOPIC_AUTHORIZATION_FAILED, self._fail)

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

    def group_operations(self, groups: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """Per consumer group, the ACL operations this client's principal may perform
        on it (DescribeGroups, KIP-430): ``frozenset()`` for a group it may not
        describe (GROUP_AUTHORIZATION_FAILED), ``None`` where the broker reports none
        (a group it does not know, a broker without KIP-430).

        Raises:
            ClusterError: the request failed otherwise.
        """
        names = sorted(set(groups))
        if not names:
            return {}
        try:
            futures = self.admin.describe_consumer_groups(
                names, request_timeout=ADMIN_TIMEOUT_S, include_authorized_operations=True
            )
        except KafkaException as exc:
            raise self._fail("describing consumer groups", exc) from None
        return _operations(futures, KafkaError.GROUP_AUTHORIZATION_FAILED, None)

    def group_members(self, group: str) -> GroupState:
        """DescribeGroups for one group: its state and active members.

        Raises:
            ClusterError: DescribeGroups failed.
        """
        try:
            desc = self.admin.describe_consumer_groups([group], request_timeout=ADMIN_TIMEOUT_S)[
                group
            ].result()
        except KafkaException as exc:
            raise self._fail(f"describing consumer group {group}", exc) from None
        state = str(getattr(desc.state, "name", desc.state)).upper()
        members = [f"{m.client_id or '?'} ({m.member_id} on {m.host})" for m in desc.members or []]
        return GroupState(group, state, members)

    def alter_group_offsets(self, group: str, offsets: Mapping[tuple[str, int], int]) -> None:
        """AlterConsumerGroupOffsets (KIP-222): set the group's committed offsets.

        The broker refuses while the group has active members.

        Raises:
            ClusterError: on the source role, or the broker refused any partition.
        """
        self._require_target("alter consumer group offsets")
        if not offsets:
            return
        tps = [TopicPartition(t, p, int(o)) for (t, p), o in sorted(offsets.items())]
        try:
            futures = self.admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, tps)], request_timeout=ADMIN_TIMEOUT_S
            )
            result = next(iter(futures.values())).result()
        except KafkaException as exc:
            raise self._fail(f"altering the offsets of consumer group {group}", exc) from None
        failed = [
            f"{tp.topic}[{tp.partition}]: {tp.error.str()}"
            for tp in result.topic_partitions or []
            if tp.error is not None
        ]
        if failed:
            raise ClusterError(
                f"{self.label}: altering the offsets of consumer group {group} failed for "
                + "; ".join(failed)
            )

    def delete_group(self, group: str) -> str:
        """DeleteGroups for one group without members; returns ``deleted`` or ``absent``.

        Raises:
            ClusterError: on the source role, or the broker refused (e.g. the
                group is not empty).
        """
        self._require_target("delete consumer groups")
        try:
            self.admin.delete_consumer_groups([group], request_timeout=ADMIN_TIMEOUT_S)[
                group
            ].result()
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.GROUP_ID_NOT_FOUND:
                return "absent"
            raise self._fail(f"deleting consumer group {group}", exc) from None
        return "deleted"


def _operations(
    futures: Mapping[Any, Any],
    denied: int,
    fail: Callable[[str, KafkaException], ClusterError] | None,
) -> dict[str, frozenset[str] | None]:
    """Authorized operations (KIP-430) per resource from DescribeTopics/DescribeGroups
    futures: ``frozenset()`` where the broker answered ``denied`` (no DESCRIBE at
    all), ``None`` for an unknown resource or a broker that reports none; any other
    error raises through ``fail`` (or counts as unknown when ``fail`` is None)."""
    out: dict[str, frozenset[str] | None] = {}
    for name, fut in futures.items():
        try:
            ops = fut.result().authorized_operations
        except KafkaException as exc:
            code = exc.args[0].code()
            if code == denied:
                out[name] = frozenset()
            elif fail is None or code == KafkaError.UNKNOWN_TOPIC_OR_PART:
                out[name] = None
            else:
                raise fail(f"describing {name}", exc) from None
            continue
        out[name] = None if ops is None else frozenset(op.name for op in ops)
    return out


def unreachable(
    role: str, bootstrap_servers: str, tried: str, timeout_s: float, detail: str = ""
) -> Unreachable:
    """The one line saying a cluster did not answer: the cluster, its address,
    what was tried for how long, and why: librdkafka's last word on a
    connection (its log line, kept by :func:`kmigrate.logs.last_failure`),
    else ``detail`` (the client's error text)."""
    why = last_failure(role)
    if why is not None:
        # librdkafka's line: "[thrd:…]: host:port/bootstrap: Connect to … failed:
        # Connection refused (after 0ms in state CONNECT)": from the address on.
        why = re.sub(r" \(after \d+ms in state \w+\)", "", why.rsplit("]: ", 1)[-1])
    why = why or detail
    return Unreachable(
        f"the {role} cluster at {bootstrap_servers} does not answer: {tried} got no "
        f"connection in {timeout_s:g} s" + (f" ({why})" if why else "") + ". Is the address "
        "right and the broker up?",
        role,
        bootstrap_servers,
    )


def _source_name(source: Any) -> str:
    """A DescribeConfigs source as its KIP-226 name (``DEFAULT_CONFIG``); confluent-kafka
    hands out the enum's number."""
    try:
        return ConfigSource(int(source)).name
    except (TypeError, ValueError):
        return str(getattr(source, "name", source))


def _out_of_range(
    label: str, tp: tuple[str, int], offset: int, err: KafkaError
) -> OffsetOutOfRange:
    return OffsetOutOfRange(
        f"{label}: {tp[0]}[{tp[1]}] no longer holds the records to be read from its start "
        f"offset (the log start offset moved past it, e.g. by retention): {err.str()}",
        tp[0],
        tp[1],
        offset,
    )


def _record(msg: Message) -> Record:
    headers = cast(Headers, msg.headers() or [])
    return Record(
        topic=str(msg.topic()),
        partition=int(msg.partition() or 0),
        offset=int(msg.offset() or 0),
        key=msg.key(),
        value=msg.value(),
        headers=list(headers),
        timestamp_ms=msg.timestamp()[1],
    )


#: The largest record the writer takes (bytes, librdkafka's ``message.max.bytes``
#: on the producer: key, value, headers and the batch framing).
MAX_RECORD_BYTES = 16 * 1024 * 1024

#: The target producer's settings (librdkafka CONFIGURATION.md): idempotent with
#: acks=all, so per-partition order holds and retries never duplicate (KIP-98);
#: records are written uncompressed as the target topic's compression.type decides.
#: Every delivery is reported (not only errors): the writer counts, per
#: partition, the records the target confirmed.
WRITER_SETTINGS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    "batch.num.messages": 10000,
    # A bounded producer queue (records queued or in flight, until the target
    # confirms them), librdkafka's defaults 100,000 records and 1 GiB.
    # 50,000 records.  Chosen while a new writer still waited 0.5 s for its
    # producer id (a deep queue let the reader run ahead: mirror of 300,000 x
    # 200 B 0.59 -> 0.70 of the raw bound against 20,000); the id now comes
    # in milliseconds (enable.sparse.connections below).  Kept because a
    # writer's queue must hold the records of one round trip to the target:
    # 20,000 is 100 ms at 200,000 records/s, thin for a managed target in
    # another region.  20,000 would lower the peak RSS by a few MiB (series
    # 100k / 1M / 3M: 58-59 / 68-69 / 69-72 MiB against 58-59 / 68-72 /
    # 72-73 MiB; bench/README.md).
    "queue.buffering.max.messages": 50000,
    # 16 MiB (32 MiB before): 300,000 x 1 KB, raw produce 116-118 -> 84-88 MiB,
    # the mirror about 10 MiB lower per process, same speed.  16 MiB is the
    # floor: librdkafka refuses a record larger than the whole queue with
    # "Queue full" for ever, and this writer takes records up to
    # message.max.bytes.
    "queue.buffering.max.kbytes": MAX_RECORD_BYTES // 1024,
    "message.max.bytes": MAX_RECORD_BYTES,
    "compression.type": "none",
    "delivery.report.only.error": False,
    # Never create a topic by producing to it (librdkafka's producer default is
    # true): a target broker restarted empty would otherwise get the topic back
    # with the broker's default partitions and configs, and the copy would go
    # on into it.  Provisioning is the only step that creates topics; a missing
    # topic fails the records (_UNKNOWN_TOPIC / _UNKNOWN_PARTITION) instead.
    "allow.auto.create.topics": False,
    # Connect to every target broker at once (librdkafka's default, true,
    # connects only to brokers it has a request for; CONFIGURATION.md).  A new
    # idempotent producer asks for its producer id only when a broker
    # connection is up, else it retries on a 500 ms timer
    # (src/rdkafka_idempotence.c); with sparse connections the bootstrap
    # connection is closed once the brokers are known and the next one opens
    # only at that timer, so the id came after 0.5 s or, often, 1.0 s.  With
    # this setting the id comes within milliseconds when the first record is
    # produced a few milliseconds after the writer was created, as
    # KafkaCluster.prepare_writer arranges: first record confirmed 0.5-1.0 s
    # -> 0.007-0.05 s, mirror of 300,000 x 200 B 2.23 -> 1.37 s
    # (bench/README.md).  The writer writes to every partition's leader
    # anyway, so it holds no connection it would not open.
    "enable.sparse.connections": False,
    # librdkafka doubles its reconnect backoff up to 10 s (CONFIGURATION.md,
    # reconnect.backoff.max.ms): after a 5 s outage the next attempt could come
    # seconds after the target is back, and the quiet then passed STALL_S.  At
    # most 1 s between attempts, a target that returns confirms within about a
    # second, as the stall limit below assumes.
    "reconnect.backoff.max.ms": 1000,
}

#: Seconds without any delivery report, while records wait, after which the
#: writer asks the target's metadata what is wrong (topic or partition gone?).
STALL_PROBE_S = 3.0
#: Seconds without any delivery report, while records wait, after which the
#: writer gives up (a ClusterError naming the target and what it found): a
#: target broker that is gone, or answers but confirms nothing (a restarted
#: broker that lost the idempotent producer's state).  librdkafka itself would
#: keep such records for message.timeout.ms (300 s by default, CONFIGURATION.md)
#: and a full queue would block the copy that long.  A dropped connection that
#: reconnects confirms records again within a second or two.
STALL_S = 15.0

#: What a delivery or produce error means for a migration, in words an operator
#: can act on (librdkafka error codes, rdkafka.h / CONFIGURATION.md).
_ERROR_HINTS = {
    KafkaError._UNKNOWN_TOPIC: "the topic does not exist on the target",
    KafkaError.UNKNOWN_TOPIC_OR_PART: "the topic or partition does not exist on the target",
    KafkaError._UNKNOWN_PARTITION: "the target topic has no such partition",
    KafkaError._MSG_TIMED_OUT: "the target did not confirm the record within message.timeout.ms",
}
#: Appended to every message about records the target lost or never confirmed.
TARGET_LOST_HINT = (
    "was the target broker restarted empty or the topic deleted? Only records the "
    "target confirmed count as written"
)


class RecordWriter:
    """Writes records to the same topic and partition on the target.

    Idempotent (``enable.idempotence=true``), so per-partition order holds and a
    retry never duplicates a record (KIP-98).

    librdkafka calls back into Python from inside ``produce``/``poll``/``flush``
    (delivery reports, client errors).  Those callbacks never raise and call
    nothing that could: they only count and collect.  What they collected is
    acted on after the C call has returned:

    * a *fatal* producer error (``KafkaError.fatal()``, e.g. UNKNOWN_PRODUCER_ID
      or OUT_OF_ORDER_SEQUENCE_NUMBER after the target broker restarted and
      forgot the producer's state; librdkafka INTRODUCTION.md, "Idempotent
      Producer", "Fatal errors") raises :class:`ClusterError` naming the target
      and the error, from :meth:`write`, :meth:`poll` or :meth:`flush`; the
      producer cannot continue, and every later call raises it again;
    * a failed delivery of one record is passed to ``on_error`` as one line
      (``target (host:port): writing topic[p] failed: NAME: text``, with what
      it means where known: a topic or partition gone from the target);
    * records that wait while the target confirms nothing for
      :data:`STALL_PROBE_S` seconds make the writer read the target's
      metadata: a topic or partition it writes to that is gone raises
      :class:`ClusterError` at once; after :data:`STALL_S` seconds without a
      confirmation it raises anyway, saying whether the target answered.
      Checked in :meth:`poll` (so also while a full queue is waited out) and
      :meth:`flush`; :meth:`drain` gives up on the same condition.

    :meth:`delivered` says how many records of a partition the target
    confirmed: a count, kept per partition, of the unbroken run of confirmed
    records before the first failed one in that partition.

    Args:
        cluster: the target.
        on_error: called with one line per failed record (after the C call).
        partitions: the ``(topic, partition)`` pairs this writer will write,
            checked against the target's metadata when nothing is confirmed.
    """

    def __init__(
        self,
        cluster: KafkaCluster,
        on_error: Callable[[str], None],
        partitions: Iterable[tuple[str, int]] = (),
    ) -> None:
        self._on_error = on_error
        self._cluster = cluster
        self._label = cluster.label
        self._min_isr: dict[str, int] = {}  # topic -> min.insync.replicas, once read
        self._short: str | None = None  # partitions short of in-sync replicas, this stall
        self._refused: dict[str, tuple[float, str]] = {}  # broker -> (when, why) it refused
        self._expected: dict[str, int] = {}  # topic -> highest partition written
        self._expect(partitions)
        self._reports = 0  # delivery reports seen, confirmed or failed
        self._seen_reports = 0
        self._idle = True  # nothing waited at the last check
        self._quiet_since = time.monotonic()
        self._next_probe = 0.0
        self._answer = "not asked yet"
        self._stuck: str | None = None
        self._counts: dict[tuple[str, int], int] = {}
        self._broken: set[tuple[str, int]] = set()
        self._failures: list[tuple[str, int, str]] = []
        self._fatal: str | None = None
        self._swallowed: BaseException | None = None
        keep_large_buffers_mapped()  # flat memory over a long copy (see its module)
        self._producer = Producer(
            cluster._conf(
                **WRITER_SETTINGS, on_delivery=self._on_delivery, error_cb=self._on_client_error
            )
        )

    def _expect(self, partitions: Iterable[tuple[str, int]]) -> None:
        for topic, partition in partitions:
            self._expected[topic] = max(self._expected.get(topic, -1), partition)

    def adopt(
        self, on_error: Callable[[str], None], partitions: Iterable[tuple[str, int]] = ()
    ) -> None:
        """Hand a writer started early (:meth:`KafkaCluster.prepare_writer`) to
        its copy: failures go to ``on_error`` from now on, ``partitions`` are
        watched as the constructor's are, and the stall clock starts now."""
        self._on_error = on_error
        self._expect(partitions)
        self._quiet_since = time.monotonic()

    # -- callbacks: run inside librdkafka calls; they must never raise -----------

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        try:
            self._reports += 1
            tp = (msg.topic() or "", msg.partition() or 0)
            if err is None:
                if tp not in self._broken:
                    self._counts[tp] = self._counts.get(tp, 0) + 1
                return
            self._broken.add(tp)
            self._failures.append((tp[0], tp[1], _explain(err)))
            if err.fatal() and self._fatal is None:
                self._fatal = f"{err.name()}: {err.str()}"
        except BaseException as exc:  # noqa: BLE001 - never let anything out of a C callback
            self._swallowed = self._swallowed or exc

    def _on_client_error(self, err: KafkaError) -> None:
        try:
            if err.fatal() and self._fatal is None:
                self._fatal = f"{err.name()}: {err.str()}"
            text = err.str()
            if err.code() == KafkaError._TRANSPORT and ": Connect to " in text:
                # "sasl_ssl://host:port/ID: Connect to ipv4#... failed: Connection
                # refused (after 0ms in state CONNECT...)": that broker is not there.
                broker, _, why = text.partition(": Connect to ")
                why = why.split(" (after ")[0].partition(" failed: ")[2] or why
                self._refused[broker.split("://")[-1]] = (time.monotonic(), why)
        except BaseException as exc:  # noqa: BLE001 - never let anything out of a C callback
            self._swallowed = self._swallowed or exc

    # -- after each C call ------------------------------------------------------------

    def _settle(self, caught: BaseException | None = None) -> None:
        """Hand collected delivery failures to ``on_error``; raise on a fatal error.

        ``caught`` is what the C call raised, if anything.
        """
        if caught is None and self._swallowed is not None:
            caught, self._swallowed = self._swallowed, None
        if caught is not None:
            # confluent-kafka raises a fatal error as KafkaException and may then
            # call a delivery report with that exception still pending; Python
            # reports that as SystemError "... returned a result with an exception
            # set" (from the C call, or from inside the callback, which swallows
            # it), with the KafkaException as its cause.
            while isinstance(caught, SystemError) and caught.__cause__ is not None:
                caught = caught.__cause__
            err = caught.args[0] if caught.args else None
            if isinstance(err, KafkaError):
                if err.fatal() or err.code() == KafkaError._FATAL:
                    self._fatal = f"{err.name()}: {err.str()}"  # the fullest text wins
                elif self._fatal is None:
                    raise ClusterError(
                        f"{self._label}: producing records failed: {_explain(err)}"
                    ) from None
            elif self._fatal is None and isinstance(caught, SystemError):
                # The C call failed without saying why; the fatal error itself
                # arrives through error_cb or a delivery report: give it a moment.
                for _ in range(10):
                    with contextlib.suppress(BaseException):
                        self._producer.poll(0.1)
                    if self._fatal is not None:
                        break
                self._fatal = self._fatal or "the client stopped without an error code"
            elif self._fatal is None:
                self._fatal = f"{type(caught).__name__}: {caught}"
        failures, self._failures = self._failures, []
        for topic, partition, text in failures[:20]:
            self._on_error(f"{self._label}: writing {topic}[{partition}] failed: {text}")
        if len(failures) > 20:
            self._on_error(f"{self._label}: {len(failures) - 20} more records failed")
        if self._fatal is not None:
            raise ClusterError(
                f"{self._label}: the producer stopped on a fatal error: {self._fatal} "
                f"({TARGET_LOST_HINT})"
            )

    def write(self, topic: str, record: Record) -> None:
        """Queue one record for ``topic`` at the record's partition.

        Raises:
            ClusterError: the producer hit a fatal error (see the class
                docstring), or the record's timestamp is 0, which librdkafka
                cannot send (:data:`UNSENDABLE_TIMESTAMP_MS`).
        """
        if record.timestamp_ms == UNSENDABLE_TIMESTAMP_MS:
            raise ClusterError(unsendable_timestamp(topic, record.partition, record.offset))
        if self._fatal is not None:
            self._settle()
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=record.value,
                    key=record.key,
                    headers=cast(Any, record.headers) or None,
                    partition=record.partition,
                    timestamp=record.timestamp_ms,
                )
                return
            except BufferError:
                self.poll(0.05)
            except (KafkaException, SystemError) as exc:
                self._settle(exc)

    def poll(self, timeout_s: float = 0.0) -> None:
        """Serve delivery reports (waiting up to ``timeout_s`` seconds for one).

        Raises:
            ClusterError: the producer hit a fatal error, or the target
                confirmed nothing for too long (see the class docstring).
        """
        try:
            self._producer.poll(timeout_s)
        except (KafkaException, SystemError) as exc:
            self._settle(exc)
        self._settle()
        self._watch()

    def flush(self, timeout_s: float = 120.0) -> int:
        """Wait for every queued record; returns how many are still undelivered
        after ``timeout_s`` seconds (while the target keeps confirming records).

        Raises:
            ClusterError: the producer hit a fatal error, or the target
                confirmed nothing for too long (see the class docstring).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            step = max(min(0.5, deadline - time.monotonic()), 0.0)
            try:
                left = int(self._producer.flush(step))
            except (KafkaException, SystemError) as exc:
                self._settle(exc)
                raise  # unreachable: _settle raised
            self._settle()
            if left == 0 or time.monotonic() >= deadline:
                return left
            self._watch()

    def drain(self, timeout_s: float = 30.0) -> int:
        """Like :meth:`flush` but never raises: for clean-up on the way out.

        Gives up early when the target confirms nothing (as :meth:`flush`
        would raise).  Returns how many records are still undelivered (``-1``
        if the flush itself failed).  Collected failures are dropped;
        :meth:`delivered` stays right.
        """
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                step = max(min(0.5, deadline - time.monotonic()), 0.0)
                left = int(self._producer.flush(step))
                if left == 0 or time.monotonic() >= deadline:
                    return left
                if self._stuck is not None or self._stalled() is not None:
                    return left
        except BaseException:  # noqa: BLE001 - already leaving on another error
            return -1

    # -- a target that confirms nothing -----------------------------------------------

    def _watch(self) -> None:
        """Raise :class:`ClusterError` when the target confirms nothing (see
        :meth:`_stalled`)."""
        stuck = self._stalled()
        if stuck is not None:
            raise ClusterError(stuck)

    def _stalled(self) -> str | None:
        """Why the writer should give up, or None while records are confirmed.

        Records wait and no delivery report came for :data:`STALL_PROBE_S`
        seconds: ask the target's Metadata (all topics, so that asking never
        creates one) at most every 2 s.  A topic or partition this writer
        writes to that is gone is the answer at once; after :data:`STALL_S`
        seconds, whatever the target answered.
        """
        if self._stuck is not None:
            return self._stuck
        now = time.monotonic()
        idle = len(self._producer) == 0
        if self._reports != self._seen_reports or idle or self._idle:
            # Confirmations came, nothing waits, or records were queued since
            # the last check (when nothing waited): the quiet starts now.
            self._seen_reports = self._reports
            self._quiet_since = now
            self._idle = idle
            self._short = None
            return None
        quiet = now - self._quiet_since
        if quiet < STALL_PROBE_S:
            return None
        waiting = len(self._producer)
        if now >= self._next_probe:
            self._next_probe = now + 2.0
            gone = self._probe()
            if gone is not None:
                self._stuck = (
                    f"{self._label}: {waiting:,} records not confirmed: {gone} ({TARGET_LOST_HINT})"
                )
                return self._stuck
        if quiet < STALL_S:
            return None
        self._stuck = (
            f"{self._label}: {waiting:,} records not confirmed for {quiet:.0f} s: "
            f"{self._short or self._answer}. Only records the target confirmed count as written"
        )
        return self._stuck

    def _probe(self) -> str | None:
        """Read the target's Metadata; returns what is gone, or None (and
        keeps what the target answered in ``_answer``)."""
        try:
            md = self._producer.list_topics(timeout=2.0)
        except (KafkaException, SystemError) as exc:
            err = exc.args[0] if exc.args else None
            why = f"{err.name()}: {err.str()}" if isinstance(err, KafkaError) else str(exc)
            self._answer = f"the target did not answer ({why}): is the broker down or unreachable?"
            return None
        self._expect(self._counts)
        for topic, highest in sorted(self._expected.items()):
            meta = md.topics.get(topic)
            if meta is None or meta.error is not None:
                return f"topic {topic} no longer exists on the target"
            if highest >= len(meta.partitions):
                return (
                    f"topic {topic} on the target has {len(meta.partitions)} partitions "
                    f"(kmigrate writes to partition {highest})"
                )
        # Kept for the rest of this stall: a later probe may find no broker to
        # answer it in 2 s (the last broker busy refusing the retried writes).
        self._short = self._short_isr(md) or self._short
        self._answer = (
            self._short
            or self._refusing()
            or (
                "the target answers and holds the topics but confirms no record (was the "
                "target broker restarted empty? it may have lost the producer's state)"
            )
        )
        return None

    def _refusing(self) -> str | None:
        """What to say when target brokers refused connections during this stall
        (they are down while the cluster's Metadata still lists them, e.g. a
        KRaft cluster that lost its controller quorum with them), else None."""
        since = self._quiet_since
        brokers = sorted(b for b, (when, _) in self._refused.items() if when >= since)
        if not brokers:
            return None
        why = self._refused[brokers[0]][1]
        return (
            f"the target answers, but its brokers {', '.join(brokers)} did not accept "
            f"connections ({why}) while no record was confirmed: are they down? Records "
            "whose partition leader or in-sync replicas are there wait (acks=all) until "
            "they are back: bring them back, then run the step again"
        )

    def _short_isr(self, md: Any) -> str | None:
        """What to say when a partition this writer writes to has fewer in-sync
        replicas than its topic's ``min.insync.replicas``, else None.

        The leader then refuses every acks=all write with NOT_ENOUGH_REPLICAS
        (Kafka's ``Partition.appendRecordsToLeader``; topic config
        min.insync.replicas, https://kafka.apache.org/documentation/#topicconfigs),
        which librdkafka retries without a delivery report until
        message.timeout.ms.  ``md`` is the target's Metadata (its ``isrs`` and
        ``replicas`` per partition); min.insync.replicas is read once per topic
        with DescribeConfigs, best effort.
        """
        short: list[tuple[str, int, int, int]] = []
        for topic, highest in sorted(self._expected.items()):
            parts = md.topics[topic].partitions
            short += [
                (topic, p, len(parts[p].isrs), len(parts[p].replicas))
                for p in sorted(parts)
                if p <= highest and len(parts[p].isrs) < len(parts[p].replicas)
            ]
        wanted = sorted({t for t, *_ in short} - set(self._min_isr))
        if wanted:
            self._min_isr.update(self._cluster.min_insync_replicas(wanted))
        below = [
            (t, p, isr, rf, self._min_isr[t])
            for t, p, isr, rf in short
            if isr < self._min_isr.get(t, 0)
        ]
        if not below:
            return None
        named = ", ".join(
            f"{t}[{p}] has {isr} of {rf} replicas in sync, min.insync.replicas {m}"
            for t, p, isr, rf, m in below[:3]
        )
        more = f" and {len(below) - 3} more partitions" if len(below) > 3 else ""
        return (
            "the target has fewer in-sync replicas than min.insync.replicas "
            f"(NOT_ENOUGH_REPLICAS): {named}{more}; with acks=all the target refuses "
            "the records until enough of its brokers are back in sync: bring the "
            "target's brokers back, then run the step again"
        )

    def delivered(self, topic: str, partition: int) -> int:
        """Records of ``topic[partition]`` the target confirmed, in order, so far.

        Counts the unbroken run of confirmed records written by this writer
        before the first failed one in that partition (per-partition order
        holds for an idempotent producer, KIP-98).
        """
        return self._counts.get((topic, partition), 0)

    @property
    def fatal_error(self) -> str | None:
        """The fatal producer error seen, as ``NAME: text``, or None."""
        return self._fatal


def _explain(err: KafkaError) -> str:
    """``NAME: text``, and what it means for a migration where that is known
    (:data:`_ERROR_HINTS`)."""
    hint = _ERROR_HINTS.get(err.code())
    text = f"{err.name()}: {err.str()}"
    return f"{text} ({hint}; {TARGET_LOST_HINT})" if hint else text


# -- the fast record path (mirror and verify) -------------------------------------

#: The fast reader's consumer settings on top of the reader's own
#: (librdkafka CONFIGURATION.md, librdkafka 2.16); each one's measured effect
#: is in bench/README.md ("Memory: the clients' buffers").  Together they bound
#: what one consumer holds ahead of the caller, so the peak RSS of a mirror or
#: verify process stays flat whatever the record count.
READER_SETTINGS: dict[str, Any] = {
    # How long librdkafka waits before fetching a partition again once the
    # queue thresholds below are reached (default 1000 ms, librdkafka >= 2.4).
    # With the default a drained queue sits empty for up to a second: this
    # was why lower thresholds "stalled the read" before, and it stalls even
    # the default thresholds (verify of 1,000,000 x 200 B: 9.8 s -> 5.4 s with
    # 10 ms alone).  CONFIGURATION.md: "may need to be decreased if the queue
    # thresholds are set low".  2 ms measured no faster than 10 ms.
    "fetch.queue.backoff.ms": 10,
    # Pre-fetched bytes held by the consumer (default 65536 KiB; one
    # queue per consumer as kmigrate assigns, "may be overshot by
    # fetch.message.max.bytes", so a record larger than it is still read).
    # 8 MiB (with the two settings beside it): peak RSS per process of 300,000
    # x 1 KB, mirror 179-213 -> 133-140 MiB, verify 180-197 -> 107-115 MiB;
    # verify's time unchanged, the mirror's within the noise (0-10 % slower
    # than with the backoff alone, no slower than before).
    "queued.max.messages.kbytes": 8192,
    # Pre-fetched records per partition (default 100,000).  With small records
    # the per-record overhead costs more than the bytes counted above: 200 B
    # records, 3 partitions, a full queue at 8 MiB held 30 MiB, at 20,000
    # records 17 MiB.
    "queued.min.messages": 20000,
}


#: A raw confluent-kafka message as ``consume()`` returns it.  Steps read its
#: fields through its methods (``topic() partition() offset() key() value()
#: headers() timestamp() error()``) without importing confluent-kafka.
RawMessage = Message


class RawReader:
    """Reads partitions as raw messages, one ``consume()`` batch at a time.

    The fast path of mirror and verify: no Python object is built per record
    (see ``../shared/docs/perf-notes.md`` for what that cost).  A message whose
    ``error()`` is not None is an event, to be passed to :meth:`event`.  Not
    following, a partition finishes at its end-of-partition event or when the
    caller calls :meth:`finish` (e.g. at a stop offset); records of finished
    partitions may still come in the batch that finished them, and callers
    skip them where it matters.  Created by :meth:`KafkaCluster.raw_reader`.
    """

    def __init__(
        self,
        cluster: KafkaCluster,
        starts: list[tuple[str, int, int]],
        follow: bool,
        batch: int,
        idle_timeout_s: float,
    ) -> None:
        self._cluster = cluster
        self.label = cluster.label
        self._starts = starts
        self.follow = follow
        #: Partitions not finished yet.
        self.pending: set[tuple[str, int]] = {(t, p) for t, p, _ in starts}
        self._batch = batch
        self._idle_s = idle_timeout_s
        self._tps = [TopicPartition(t, p) for t, p, _ in starts]
        self._consumer: Consumer | None = None
        self._last = time.monotonic()

    def __enter__(self) -> RawReader:
        try:
            self._consumer = self._cluster._consumer(**READER_SETTINGS)
            if self._starts:
                self._consumer.incremental_assign(
                    [TopicPartition(t, p, o) for t, p, o in self._starts]
                )
        except KafkaException as exc:
            self.close()
            raise self._cluster._fail("reading records", exc) from None
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the consumer (idempotent)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close()

    def consume(self, timeout_s: float = 0.05) -> list[RawMessage]:
        """The next batch of messages (records and events), possibly empty.

        Raises:
            ClusterError: the fetch failed, or (not following) no message came
                for ``idle_timeout_s`` while partitions are unfinished.
        """
        assert self._consumer is not None, "use RawReader as a context manager"
        try:
            msgs = self._consumer.consume(self._batch, timeout_s)
        except KafkaException as exc:
            raise self._cluster._fail("reading records", exc) from None
        if msgs:
            self._last = time.monotonic()
        elif not self.follow and self.pending and time.monotonic() - self._last > self._idle_s:
            names = ", ".join(f"{t}[{p}]" for t, p in sorted(self.pending)[:5])
            raise ClusterError(
                f"{self.label}: no record and no end of partition for "
                f"{self._idle_s:.0f} s while reading {names}"
            )
        return msgs

    def event(self, msg: RawMessage) -> PartitionEnd | None:
        """What a message with ``error()`` set means.

        Returns the :class:`PartitionEnd` of an end-of-partition event
        (finishing the partition unless following), or None for the end of a
        partition already finished.

        Raises:
            OffsetOutOfRange: the log start offset passed the read position.
            ClusterError: any other fetch error.
        """
        tp = (str(msg.topic()), int(msg.partition() or 0))
        offset = int(msg.offset() or 0)
        err = msg.error()
        assert err is not None
        if err.code() == KafkaError._PARTITION_EOF:
            if self.follow:
                return PartitionEnd(tp[0], tp[1], offset)
            if tp not in self.pending:
                return None
            return self.finish(tp[0], tp[1], offset)
        if err.code() == KafkaError._AUTO_OFFSET_RESET:
            raise _out_of_range(self.label, tp, offset, err)
        raise ClusterError(f"{self.label}: reading {tp[0]}[{tp[1]}] failed: {err.str()}")

    def finish(self, topic: str, partition: int, offset: int) -> PartitionEnd:
        """Stop reading a partition; returns its end marker at ``offset``."""
        self.pending.discard((topic, partition))
        if self._consumer is not None:
            try:
                self._consumer.incremental_unassign([TopicPartition(topic, partition)])
            except KafkaException as exc:
                raise self._cluster._fail("reading records", exc) from None
        return PartitionEnd(topic, partition, offset)

    def tick(self) -> Tick:
        """The high watermarks last seen in fetch responses (cached: no request)."""
        assert self._consumer is not None
        highs: dict[tuple[str, int], int] = {}
        for tp in self._tps:
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0:
                highs[(tp.topic, tp.partition)] = int(high)
        return Tick(highs)


#: ``{(topic, partition): [runs, records, bytes, last timestamp ms]}`` for one
#: batch; ``runs`` lists ``[first source offset, count]`` of contiguous offsets.
BatchTally = dict[tuple[str, int], list[Any]]


#: The one record timestamp (ms) the writer cannot send: librdkafka stamps a
#: produce timestamp of 0 with the current time (``rd_kafka_msg_new0`` in
#: librdkafka's src/rdkafka_msg.c: ``if (timestamp) rkm_timestamp = timestamp;
#: else rkm_timestamp = rd_uclock() / 1000``; confluent-kafka's
#: ``Producer.produce``: "timestamp ... default: current time").  Every other
#: value, negative ones and 2**63 - 1 included, is sent as it is.
UNSENDABLE_TIMESTAMP_MS = 0


def unsendable_timestamp(topic: str, partition: int, offset: int, copied: int = 0) -> str:
    """The refusal of a record whose timestamp the writer cannot send (see
    :data:`UNSENDABLE_TIMESTAMP_MS`): names the record and how to proceed;
    ``copied``: records of the copy confirmed before it (kept)."""
    kept = f"the {copied:,} records read before it are copied and kept; " if copied else ""
    return (
        f"refused to copy {topic}[{partition}] offset {offset}: its timestamp is 0 (CreateTime "
        "0 ms), and librdkafka, the Kafka client kmigrate writes with, cannot send a "
        "timestamp of 0: it would stamp the record with the time of the copy. Nothing of "
        f"this record was written; {kept}the mirror never changes a record. To proceed: "
        f"exclude topic {topic} from the mirror (topics.exclude, or a mirror step of its "
        "own for the other topics) and copy it with a client that sends timestamp 0 as it "
        "is (e.g. the Java producer), or leave it on the source"
    )


def copy_batch(
    writer: RecordWriter, msgs: list[RawMessage]
) -> tuple[BatchTally, list[RawMessage], RawMessage | None]:
    """Produce every record of a ``consume()`` batch to the same topic and
    partition on the target, keeping key, value, headers and timestamp.

    The per-record path of the mirror: the message's fields go straight from
    the consumer to one local-bound ``produce`` (a full queue is waited out by
    polling); per partition it only extends a run of contiguous source
    offsets and counts.  Bytes are key + value + header names and values.

    A record with timestamp 0 (:data:`UNSENDABLE_TIMESTAMP_MS`) is not
    produced: the batch stops before it, and it is returned as ``refused``.

    Returns ``(tally, events, refused)``: what was queued per partition (see
    :data:`BatchTally`), the messages with ``error()`` set, in order, for
    :meth:`RawReader.event`, and the first record that could not be sent
    exactly (None when every record was queued).

    Raises:
        ClusterError: the producer hit a fatal error (as :meth:`RecordWriter.write`).
    """
    if writer._fatal is not None:
        writer._settle()
    producer = writer._producer
    produce = producer.produce
    tally: BatchTally = {}
    events: list[RawMessage] = []
    ct: str | None = None
    cp = -1
    cur: list[Any] = []
    runs: list[list[int]] = []
    run: list[int] | None = None
    m: Any  # a raw message: its getters are typed Optional, never None here
    for m in msgs:
        if m.error() is not None:
            events.append(m)
            continue
        t = m.topic()
        p = m.partition()
        o = m.offset()
        k = m.key()
        v = m.value()
        h = m.headers()
        ts = m.timestamp()[1]
        if not ts:  # UNSENDABLE_TIMESTAMP_MS: librdkafka would send "now"
            return tally, events, m
        try:
            produce(t, v, k, p, headers=h, timestamp=ts)
        except (BufferError, KafkaException, SystemError) as exc:
            while True:  # a full queue: serve delivery reports; a failure: as write()
                if isinstance(exc, BufferError):
                    writer.poll(0.05)
                else:
                    writer._settle(exc)  # raises ClusterError on a fatal error
                try:
                    produce(t, v, k, p, headers=h, timestamp=ts)
                    break
                except (BufferError, KafkaException, SystemError) as again:
                    exc = again
        if p != cp or t != ct:
            ct = t
            cp = p
            got = tally.get((t, p))
            if got is None:
                got = tally[(t, p)] = [[], 0, 0, 0]
            cur = got
            runs = cur[0]
            run = runs[-1] if runs else None
        if run is not None and run[0] + run[1] == o:
            run[1] += 1
        else:
            run = [o, 1]
            runs.append(run)
        size = (len(k) if k else 0) + (len(v) if v else 0)
        if h:
            size += sum(len(n) + len(x or b"") for n, x in h)
        cur[1] += 1
        cur[2] += size
        cur[3] = ts
    return tally, events, None


__all__ = [
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "BatchTally",
    "ClusterInfo",
    "ConfigValue",
    "CreateOutcome",
    "GroupState",
    "KafkaCluster",
    "PartitionEnd",
    "RawMessage",
    "RawReader",
    "Record",
    "RecordWriter",
    "Tick",
    "TopicMeta",
    "UNSENDABLE_TIMESTAMP_MS",
    "unsendable_timestamp",
]

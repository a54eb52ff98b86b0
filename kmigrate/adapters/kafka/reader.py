"""Reading records from Kafka: :class:`RawReader`, the one consume loop, and the
read paths built on it (records to an end or a stop offset, a follow with ticks,
the first record at an offset).

Every read assigns partitions at given offsets through a private consumer
(``assign()`` only, never a group) and never jumps silently: a start offset the
log no longer holds is an :class:`~kmigrate.errors.OffsetOutOfRange`.

References: confluent-kafka-python API docs (Consumer); librdkafka CONFIGURATION.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from kmigrate.adapters.kafka.client import ClusterClient
from kmigrate.adapters.kafka.errors import out_of_range
from kmigrate.clusters.port import Headers, PartitionEnd, Record, Tick
from kmigrate.errors import ClusterError

#: Records per ``consume()`` call of the fast path (mirror's copy loop and
#: verify).  Each batch is held twice while it is converted (librdkafka's
#: messages and Python's) and the consumer refills its queue meanwhile:
#: 10,000 cost 11-28 MiB more peak RSS per process than 1,000 (200 B and
#: 1 KB records), and 1,000 measured no slower (bench/README.md).
READ_BATCH = 1000


# Not lowered for short reads: fetch.wait.max.ms.  At 5 ms instead of kmigrate's
# 50 (FETCH_WAIT_MS) a read of a quiet Tansu partition's log end took 12-14 ms
# instead of 60, but on a Tansu source of 10,000,000 records written to at 5,000
# records/s the read to the end-of-partition event never ended (records kept
# coming, no fetch answered empty at the high watermark; with 50 ms it ended in
# 1.2 s): a following verify hung in its round (2026-12-05, cutover_bench).


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
    skip them where it matters.  ``eager``: see :meth:`consume`.  Created by
    :meth:`KafkaCluster.raw_reader`
    (and by :func:`read_records`, :func:`follow_records`, :func:`first_records`).
    """

    def __init__(
        self,
        cluster: ClusterClient,
        starts: list[tuple[str, int, int]],
        follow: bool,
        batch: int,
        idle_timeout_s: float,
        settings: Mapping[str, Any] = READER_SETTINGS,
        eager: bool = False,
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
        self._settings = settings
        self._eager = eager

    def __enter__(self) -> RawReader:
        try:
            self._consumer = self._cluster._consumer(**self._settings)
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

        confluent-kafka's ``Consumer.consume(n, timeout)`` (librdkafka's
        ``rd_kafka_consume_batch_queue``) returns before ``timeout_s`` only
        once ``batch`` messages came: three records read with a batch of
        1,000 and a 5 s timeout came after 5 s
        (tests/adapters/test_kafka_adapter.py).  An ``eager`` reader (the
        short reads: the record at an offset, a log end, a verify's tail)
        waits for the first message only and takes what is queued beside it
        (``consume(batch - 1, 0)``), so that a read of a few records does not
        sit out the timeout (50 ms a call).

        Raises:
            ClusterError: the fetch failed, or (not following) no message came
                for ``idle_timeout_s`` while partitions are unfinished.
        """
        assert self._consumer is not None, "use RawReader as a context manager"
        try:
            if self._eager:
                msgs = self._consumer.consume(1, timeout_s)
                if msgs and self._batch > 1:
                    msgs += self._consumer.consume(self._batch - 1, 0)
            else:
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

    def unfinished(self, timeout_s: float = 0.05) -> Iterator[tuple[tuple[str, int], RawMessage]]:
        """Consume until every partition is finished (not following): each message,
        record or event, of a partition not finished yet when it is handed out, with
        its ``(topic, partition)``.  The caller finishes partitions (:meth:`event`,
        :meth:`finish`).

        Raises:
            ClusterError: as :meth:`consume`.
        """
        while self.pending:
            for msg in self.consume(timeout_s):
                tp = (str(msg.topic()), int(msg.partition() or 0))
                if tp in self.pending:
                    yield tp, msg

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
            raise out_of_range(self.label, tp, offset, err)
        raise ClusterError(f"{self.label}: reading {tp[0]}[{tp[1]}] failed: {err.str()}")

    def finish(self, topic: str, partition: int, offset: int) -> PartitionEnd:
        """Stop reading a partition; returns its end marker at ``offset``.  A
        partition already finished (by its end-of-partition event, say) is not
        unassigned again (librdkafka refuses: "Can't subtract from empty
        assignment")."""
        if (topic, partition) not in self.pending:
            return PartitionEnd(topic, partition, offset)
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


#: The one record timestamp (ms) the writer cannot send: librdkafka stamps a
#: produce timestamp of 0 with the current time (``rd_kafka_msg_new0`` in
#: librdkafka's src/rdkafka_msg.c: ``if (timestamp) rkm_timestamp = timestamp;
#: else rkm_timestamp = rd_uclock() / 1000``; confluent-kafka's
#: ``Producer.produce``: "timestamp ... default: current time").  Every other


def record_of(msg: Message) -> Record:
    """A consumed message as a :class:`Record` (one object per record: the slow path)."""
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


def read_records(
    cluster: ClusterClient,
    starts: Iterable[tuple[str, int, int]],
    *,
    stop_offsets: Mapping[tuple[str, int], int] | None = None,
    batch: int = 1000,
    idle_timeout_s: float = 60.0,
) -> Iterator[Record | PartitionEnd]:
    """Read partitions from given offsets, yielding records in offset order
    (:meth:`KafkaCluster.read <kmigrate.adapters.kafka.KafkaCluster.read>`, which
    documents the arguments): a :class:`RawReader` not following, each message
    made a :class:`Record`.

    Raises:
        ClusterError: a fetch failed, a start offset is out of range, or the read
            made no progress for ``idle_timeout_s``.
    """
    starts = list(starts)
    stops = dict(stop_offsets or {})
    if not starts:
        return
    try:
        with RawReader(
            cluster, starts, False, batch, idle_timeout_s, settings={}, eager=True
        ) as reader:
            # A partition already at its stop offset is finished before any fetch.
            for t, p, o in starts:
                stop = stops.get((t, p))
                if stop is not None and o >= 0 and o >= stop:
                    yield reader.finish(t, p, o)
            reader._last = time.monotonic()
            for tp, msg in reader.unfinished():
                if msg.error() is not None:
                    end = reader.event(msg)  # the end of the partition, or raises
                    if end is not None:
                        yield end
                    continue
                stop = stops.get(tp)
                if stop is not None and int(msg.offset() or 0) >= stop:
                    yield reader.finish(tp[0], tp[1], stop)
                    continue
                yield record_of(msg)
    except KafkaException as exc:
        raise cluster._fail("reading records", exc) from None


def follow_records(
    cluster: ClusterClient,
    starts: Iterable[tuple[str, int, int]],
    *,
    batch: int = 1000,
    tick_s: float = 0.25,
) -> Iterator[Record | PartitionEnd | Tick]:
    """Read partitions from given offsets and keep reading new records
    (:meth:`KafkaCluster.follow <kmigrate.adapters.kafka.KafkaCluster.follow>`):
    a following :class:`RawReader`, each message made a :class:`Record`, and a
    :class:`Tick` about every ``tick_s`` seconds and whenever a ``consume`` call
    returns nothing.

    Raises:
        OffsetOutOfRange: a position the partition no longer holds.
        ClusterError: a fetch failed.
    """
    starts = list(starts)
    if not starts:
        return
    try:
        with RawReader(cluster, starts, True, batch, 60.0, settings={}) as reader:
            next_tick = time.monotonic() + tick_s
            while True:
                msgs = reader.consume(0.05)
                for msg in msgs:
                    if msg.error() is not None:
                        end = reader.event(msg)  # following: always the end, or raises
                        if end is not None:
                            yield end
                        continue
                    yield record_of(msg)
                now = time.monotonic()
                if not msgs or now >= next_tick:
                    next_tick = now + tick_s
                    yield reader.tick()
    except KafkaException as exc:
        raise cluster._fail("reading records", exc) from None


def first_records(
    cluster: ClusterClient, starts: Iterable[tuple[str, int, int]], *, idle_timeout_s: float
) -> dict[tuple[str, int], Record | None]:
    """The first record at or after each start offset, or None at the partition's
    end (:meth:`KafkaCluster.first_records
    <kmigrate.adapters.kafka.KafkaCluster.first_records>`): a :class:`RawReader`
    reading 100 messages a call, each partition finished at its first record.

    Raises:
        OffsetOutOfRange: a start offset the partition no longer holds.
        ClusterError: a fetch failed, or no answer for ``idle_timeout_s``.
    """
    out: dict[tuple[str, int], Record | None] = {}
    pending = list(starts)
    if not pending:
        return out
    try:
        with RawReader(
            cluster, pending, False, 100, idle_timeout_s, settings={}, eager=True
        ) as reader:
            for tp, msg in reader.unfinished():
                if msg.error() is not None:
                    reader.event(msg)  # the end of the partition finishes it, or raises
                    out[tp] = None
                    continue
                out[tp] = record_of(msg)
                reader.finish(tp[0], tp[1], int(msg.offset() or 0))
    except KafkaException as exc:
        raise cluster._fail("reading records", exc) from None
    return out

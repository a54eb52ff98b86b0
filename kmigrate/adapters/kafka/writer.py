"""Writing records to the target: :class:`RecordWriter`, an idempotent producer
that keeps each record's partition, key, value, headers and timestamp, and knows
when the target confirms nothing.

References: confluent-kafka-python API docs (Producer); librdkafka
CONFIGURATION.md and INTRODUCTION.md ("Idempotent Producer") for the settings.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import ConfigResource

from kmigrate.adapters.kafka.client import ClusterClient
from kmigrate.adapters.kafka.errors import TARGET_LOST_HINT, explain
from kmigrate.adapters.malloc import keep_large_buffers_mapped
from kmigrate.clusters.port import Record
from kmigrate.errors import ClusterError

#: The largest record the writer takes (bytes, librdkafka's ``message.max.bytes``
#: on the producer: key, value, headers and the batch framing).
MAX_RECORD_BYTES = 16 * 1024 * 1024

#: The target producer's settings (librdkafka CONFIGURATION.md): idempotent with
#: acks=all, so per-partition order holds and retries never duplicate (KIP-98);
#: records are written uncompressed as the target topic's compression.type decides.
#: Only failed deliveries are reported: the writer counts what the target
#: confirmed from the producer's queue length instead (RecordWriter.delivered).
WRITER_SETTINGS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    "batch.num.messages": 10000,
    # A bounded producer queue (records queued or in flight until confirmed;
    # librdkafka's defaults 100,000 records and 1 GiB).  50,000 holds one round
    # trip to a managed target in another region (20,000 is 100 ms at 200,000
    # records/s) at a few MiB more peak RSS (series in bench/README.md).
    "queue.buffering.max.messages": 50000,
    # 16 MiB (32 MiB before: about 10 MiB less per mirror process, same speed)
    # is the floor: librdkafka refuses a record larger than the whole queue
    # with "Queue full" for ever, and this writer takes up to message.max.bytes.
    "queue.buffering.max.kbytes": MAX_RECORD_BYTES // 1024,
    "message.max.bytes": MAX_RECORD_BYTES,
    "compression.type": "none",
    # A report per confirmed record (a Python call and a Message each) cost 0.73-0.78
    # client CPU s against 0.50-0.59 for 300,000 x 200 B (bench/README.md, H8).
    "delivery.report.only.error": True,
    # Never create a topic by producing to it (librdkafka's producer default):
    # a target broker restarted empty would get it back with the broker's
    # defaults and the copy would go on into it.  A missing topic fails the
    # records (_UNKNOWN_TOPIC / _UNKNOWN_PARTITION) instead.
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
    confirmed: a lower bound, kept per partition, of the unbroken run of
    confirmed records before the first failed one in that partition (exact
    once nothing waits, e.g. after :meth:`flush`).

    Args:
        cluster: the target.
        on_error: called with one line per failed record (after the C call).
        partitions: the ``(topic, partition)`` pairs this writer will write,
            checked against the target's metadata when nothing is confirmed.
    """

    def __init__(
        self,
        cluster: ClusterClient,
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
        self._queued: dict[tuple[str, int], int] = {}  # records produce() took
        self._queued_total = 0
        self._producing = 0  # records produce() took, not counted yet (see copy_batch)
        self._seen_done = 0  # records that left the queue, at the last check
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
        # Called for failed records only (delivery.report.only.error).
        try:
            if err is None:
                return
            tp = (msg.topic() or "", msg.partition() or 0)
            self._broken.add(tp)
            self._failures.append((tp[0], tp[1], explain(err)))
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
                        f"{self._label}: producing records failed: {explain(err)}"
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
                self.count_queued([((topic, record.partition), 1)])
                return
            except BufferError:
                self.poll(0.05)
            except KafkaException as exc:
                if not self._undeliverable(topic, record.partition, exc):
                    self._settle(exc)
                self._settle()
                return
            except SystemError as exc:
                self._settle(exc)

    def _undeliverable(self, topic: str, partition: int, exc: KafkaException) -> bool:
        """A record that produce() refused at once because the target topic has no
        such partition (the producer already holds the topic's metadata): recorded
        as that record's delivery failure, the same as when the refusal comes later
        in its delivery report, so the timing does not decide how it is reported.
        False for any other error."""
        err = exc.args[0] if exc.args else None
        if not isinstance(err, KafkaError) or err.code() != KafkaError._UNKNOWN_PARTITION:
            return False
        self._broken.add((topic, partition))
        self._failures.append((topic, partition, explain(KafkaError(err.code()))))
        return True

    def count_queued(self, counts: Iterable[tuple[tuple[str, int], int]]) -> None:
        """Count records ``produce()`` took: ``((topic, partition), records)``
        pairs.  Whoever calls ``produce()`` on this writer's producer directly
        (:func:`~kmigrate.adapters.kafka.batch_copy.copy_batch`) counts them
        here, after the call; :meth:`delivered` counts from them."""
        queued = self._queued
        for tp, n in counts:
            queued[tp] = queued.get(tp, 0) + n
            self._queued_total += n
        self._producing = 0

    def _confirm(self) -> None:
        """Bring the per-partition confirmed counts up to date from the queue.

        ``len(producer)`` (librdkafka's ``rd_kafka_outq_len``, rdkafka.h)
        counts records waiting to be sent or acknowledged *and* delivery
        reports not served yet.  A record that left it was confirmed, or failed
        and its report (failures only are reported) was served, which marks its
        partition broken.  The producer is idempotent, so a partition's records
        complete in order (KIP-98): those still waiting are the partition's
        last ones.  In a partition with no failure served, at least
        ``queued - len(producer)`` of its queued records are confirmed, in
        order; a partition with a failure keeps its count from before.
        """
        waiting = len(self._producer)
        counts, broken = self._counts, self._broken
        for tp, queued in self._queued.items():
            if tp not in broken:
                confirmed = queued - waiting
                if confirmed > counts.get(tp, 0):
                    counts[tp] = confirmed

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
        self._confirm()
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
            self._confirm()
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
                self._confirm()
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
        waiting = len(self._producer)
        idle = waiting == 0
        # Records that left the queue (confirmed, or failed and reported).
        done = self._queued_total + self._producing - waiting
        if done > self._seen_done or idle or self._idle:
            # Confirmations came, nothing waits, or records were queued since
            # the last check (when nothing waited): the quiet starts now.
            self._seen_done = max(done, self._seen_done)
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
        self._expect(self._queued)
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
            self._min_isr.update(min_insync_replicas(self._cluster, wanted))
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
        self._confirm()
        return self._counts.get((topic, partition), 0)

    @property
    def fatal_error(self) -> str | None:
        """The fatal producer error seen, as ``NAME: text``, or None."""
        return self._fatal


def min_insync_replicas(
    cluster: ClusterClient, topics: Iterable[str], timeout_s: float = 5.0
) -> dict[str, int]:
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
        futures = cluster.admin.describe_configs(resources, request_timeout=timeout_s)
    except KafkaException:
        return out
    for res, fut in futures.items():
        with contextlib.suppress(KafkaException, TimeoutError, ValueError, TypeError, KeyError):
            out[res.name] = int(fut.result(timeout=timeout_s)["min.insync.replicas"].value)
    return out


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

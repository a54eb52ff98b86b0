"""The mirror's per-record path: :func:`copy_batch` produces a ``consume()`` batch
of raw messages (:class:`~kmigrate.adapters.kafka.reader.RawReader`) through a
:class:`~kmigrate.adapters.kafka.writer.RecordWriter` without building a Python
object per record (see ``../shared/docs/perf-notes.md`` for what that cost).
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException

from kmigrate.adapters.kafka.reader import RawMessage
from kmigrate.adapters.kafka.writer import RecordWriter

#: ``{(topic, partition): [runs, records, bytes, last timestamp ms]}`` for one
#: batch; ``runs`` lists ``[first source offset, count]`` of contiguous offsets.
BatchTally = dict[tuple[str, int], list[Any]]


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
            writer.count_queued((tp, c[1]) for tp, c in tally.items())
            return tally, events, m
        try:
            produce(t, v, k, p, headers=h, timestamp=ts)
        except (BufferError, KafkaException, SystemError) as exc:
            # Records of this batch already taken, for the writer's stall clock.
            writer._producing = sum(c[1] for c in tally.values())
            _produce_again(writer, exc, t, v, k, p, h, ts)
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
    writer.count_queued((tp, c[1]) for tp, c in tally.items())
    return tally, events, None


def _produce_again(
    writer: RecordWriter, exc: BaseException, t: Any, v: Any, k: Any, p: Any, h: Any, ts: int
) -> None:
    """Produce one record whose first ``produce`` raised ``exc`` (the
    arguments as :func:`copy_batch` passed them), until the producer takes it.

    Raises:
        ClusterError: the producer hit a fatal error (as :meth:`RecordWriter.write`).
    """
    produce = writer._producer.produce
    while True:  # a full queue: serve delivery reports; a failure: as write()
        if isinstance(exc, BufferError):
            writer.poll(0.05)
        else:
            writer._settle(exc)  # raises ClusterError on a fatal error
        try:
            produce(t, v, k, p, headers=h, timestamp=ts)
            return
        except (BufferError, KafkaException, SystemError) as again:
            exc = again

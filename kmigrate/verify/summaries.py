"""The side summaries: count, first/last offset and ordered digest of many
partitions of one side, in one read.

Each side is read once for all its partitions (:func:`summarize_side`); every
:data:`~kmigrate.verify.compare.CHECKPOINT_EVERY` records the partition's
running digest is kept.  The first difference of a partition whose digests
differ lies after the last checkpoint both sides share and within the next
``CHECKPOINT_EVERY`` records, so one short read of every differing partition
from there names it (:mod:`kmigrate.verify.locate`).

The digests are the encoding of :mod:`kmigrate.verify.digest`, fed field by
field from raw messages with that module's packers (the same bytes, so the
same digest as :func:`kmigrate.verify.digest.digest_record`), chained by
blocks of :data:`~kmigrate.verify.digest.BLOCK_RECORDS` records (each
checkpoint is a block's end), so that a read can go on from a proven block
(``resume``) and still end with the digest of the whole range.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kmigrate.clusters.port import Cluster, Record
from kmigrate.offsets.map import PartitionMap
from kmigrate.verify.compare import CHECKPOINT_EVERY, Checkpoint, PartitionRange, SideSummary
from kmigrate.verify.digest import (
    FIELD,
    I64,
    NO_HEADERS,
    NO_HEADERS_TS,
    NULL,
    U32,
    hexdigest,
    record_digest,
)


class _Side:
    """One partition of one side while it is read (slotted: touched per record)."""

    __slots__ = (
        "chain",
        "done",
        "first",
        "hash",
        "keep",
        "last",
        "marks",
        "records",
        "skipped",
        "stop",
        "ts",
        "update",
    )

    def __init__(
        self,
        stop: float,
        keep: list[tuple[int, int]] | None,
        ts: bool = True,
        resume: tuple[int, bytes] = (0, b""),
    ) -> None:
        self.records, self.chain = resume
        self.hash = hashlib.sha256(self.chain)
        self.ts = ts
        self.update = self.hash.update
        self.stop = stop
        self.keep = keep
        self.done = False
        self.first: int | None = None
        self.last: int | None = None
        self.marks: list[Checkpoint] = []
        self.skipped = 0  # records read that ``keep`` does not list


def in_ranges(keep: list[tuple[int, int]], offset: int) -> bool:
    """Whether ``offset`` lies in one of the ascending ``[start, end)`` ranges;
    ranges wholly below it are dropped (offsets come in ascending order)."""
    while keep and keep[0][1] <= offset:
        keep.pop(0)
    return bool(keep) and keep[0][0] <= offset


#: Records per ``consume()`` call of a side's read: a batch of 1 KB records
#: then stays in the CPU's cache (1 MiB of L2 per core here) from the copy
#: ``consume()`` makes of each value until it is hashed.  Reading one side of
#: 300,000 records, 6 partitions (bench/README.md, issue 17): 1 KB records
#: 0.85 -> 0.68-0.71 CPU s against the reader's 1,000 (:data:`READ_BATCH
#: <kmigrate.adapters.kafka.reader.READ_BATCH>`), 500 0.76, 128 0.71; 200 B
#: records (600,000) 0.82 -> 0.77.
SIDE_BATCH = 250

#: Per partition, where a read goes on: records already proven (whole blocks)
#: and the chained digest ``d_K`` after them (:mod:`kmigrate.verify.digest`).
Resume = dict[tuple[str, int], tuple[int, bytes]]

#: What a side's read gives per partition: its summary, its checkpoints and the
#: records read that the offset map does not list (another writer's).
Summaries = dict[tuple[str, int], tuple[SideSummary, list[Checkpoint], int]]


def keep_ranges(m: PartitionMap | None) -> list[tuple[int, int]] | None:
    return [(r.target_start, r.target_end) for r in m.runs] if m is not None else None


def summarize_side(
    cluster: Cluster,
    starts: list[tuple[str, int, int]],
    stops: dict[tuple[str, int], int],
    keep: dict[tuple[str, int], PartitionMap] | None = None,
    tick: Any = None,
    untimed: set[tuple[str, int]] | frozenset[tuple[str, int]] = frozenset(),
    resume: Resume | None = None,
    stop: Any = None,
) -> Summaries:
    """Count, first/last offset and ordered digest of many partitions in one read.

    One consumer reads every partition at once, so a side costs about one
    plain consume of its records.  The fast path: raw messages, one SHA-256
    object per partition fed field by field in the canonical encoding of
    :func:`kmigrate.verify.digest.digest_record` (the same bytes, so the same digest), no
    :class:`kmigrate.clusters.port.Record` per record.  ``keep``: per partition, the offset map
    whose target offsets count (only the target offsets it lists); others
    are skipped.  Every :data:`CHECKPOINT_EVERY` records of a partition the
    running digest is kept as a :class:`Checkpoint` (and ``tick(n)`` is
    called with the records counted since the last call, for a progress
    bar), so two sides that differ can be told where, without reading the
    partition again from its start
    (:func:`kmigrate.verify.locate.locate_differences`).  ``untimed``:
    partitions digested without timestamps (a LogAppendTime target).
    ``resume``: partitions whose read goes on from proven blocks: their counts
    and digests include those records (first offsets are of this read).
    ``stop``: a :class:`threading.Event`; once set, the read ends after the
    batch at hand (the checkpoints so far stay right; the counts and digests
    then cover only what was read).

    Raises:
        kmigrate.errors.ClusterError: the side could not be read.
    """
    inf = float("inf")
    state: dict[tuple[str, int], _Side] = {}
    for t, p, _ in starts:
        state[(t, p)] = _Side(
            stops.get((t, p), inf),
            keep_ranges((keep or {}).get((t, p))),
            (t, p) not in untimed,
            (resume or {}).get((t, p), (0, b"")),
        )
    with cluster.raw_reader(starts, batch=SIDE_BATCH, eager=_short(starts, stops)) as reader:
        for t, p, o in starts:
            side = state[(t, p)]
            if o >= 0 and o >= side.stop:
                side.done = True
                reader.finish(t, p, o)
        while reader.pending and not (stop is not None and stop.is_set()):
            _digest_batch(reader, reader.consume(), state, tick)
    if tick is not None:
        mask = CHECKPOINT_EVERY - 1
        tick(sum(st.records & mask for st in state.values()))
    return {
        tp: (
            SideSummary(st.records, st.first, st.last, hexdigest(st.records, st.chain, st.hash)),
            st.marks,
            st.skipped,
        )
        for tp, st in state.items()
    }


#: A read of at most this many records (every partition with a start and a
#: stop offset) is a short one: the final verify's tail after a proof, at most
#: 1,023 records per partition.  Its reader returns what has come instead of
#: waiting 50 ms for a full batch (a tail of 224 records, 6 partitions, both
#: sides on Tansu: 0.11 s -> 0.07 s); longer reads keep full batches.
SHORT_READ_RECORDS = 100_000


def _short(starts: list[tuple[str, int, int]], stops: dict[tuple[str, int], int]) -> bool:
    """Whether reading ``starts`` to ``stops`` is a short read (:data:`SHORT_READ_RECORDS`)."""
    total = 0
    for t, p, o in starts:
        stop = stops.get((t, p))
        if o < 0 or stop is None:
            return False  # from the log start or to the end: length unknown here
        total += max(stop - o, 0)
    return total <= SHORT_READ_RECORDS


def _digest_batch(
    reader: Any, msgs: list[Any], state: dict[tuple[str, int], _Side], tick: Any
) -> None:
    """Feed one batch of raw messages into their partitions' running digests (the
    per-record hot loop of :func:`summarize_side`: locals, no call per record)."""
    null = NULL
    field_ = FIELD
    tail = NO_HEADERS_TS
    mask = CHECKPOINT_EVERY - 1
    ct: str | None = None
    cp = -1
    st: _Side | None = None  # the partition of the message before
    msg: Any  # a raw message: its getters are typed Optional, never None here
    for msg in msgs:
        if msg.error() is not None:
            end = reader.event(msg)
            if end is not None:  # finished at its end: later messages of it are not ours
                state[(end.topic, end.partition)].done = True
            continue
        t = msg.topic()
        p = msg.partition()
        if p != cp or t != ct:
            ct, cp = t, p
            st = state[(t, p)]
        assert st is not None
        if st.done:
            continue
        o = msg.offset()
        if o >= st.stop:
            st.done = True
            reader.finish(t, p, int(st.stop))
            continue
        keep = st.keep
        if keep is not None and not (keep and keep[0][0] <= o < keep[0][1] or in_ranges(keep, o)):
            st.skipped += 1  # (the test before in_ranges: no call for an offset in the first range)
            continue
        update = st.update
        k = msg.key()
        update(null if k is None else field_(0, len(k)) + k)
        v = msg.value()
        # two updates: ``prefix + v`` would copy the value (1 KB: 20 % of the loop)
        update(null if v is None else field_(0, len(v)))
        update(v or b"")
        h = msg.headers()
        if h:
            feed_raw_headers(update, h)
            if st.ts:
                update(I64(msg.timestamp()[1]))
        elif st.ts:
            update(tail(0, msg.timestamp()[1]))
        else:
            update(NO_HEADERS)
        st.records += 1
        if st.first is None:
            st.first = o
        st.last = o
        if not st.records & mask:  # a block's end: chain it (kmigrate.verify.digest)
            st.chain = st.hash.digest()
            st.hash = hashlib.sha256(st.chain)
            st.update = st.hash.update
            st.marks.append(Checkpoint(st.records, o, st.chain, raw_digest(msg, st.ts)))
            if tick is not None:
                tick(CHECKPOINT_EVERY)


def feed_raw_headers(update: Any, headers: list[tuple[str, bytes | None]]) -> None:
    """Feed ``u32(len(headers)) {field(name) field(value)}*`` (names as UTF-8, in
    order; :mod:`kmigrate.verify.digest`) through ``update`` (a hash's bound
    ``update``): :func:`kmigrate.verify.digest.feed_headers` for a raw message's
    header list, without a hash object."""
    update(U32(len(headers)))
    for name, value in headers:
        raw = name.encode("utf-8")
        update(FIELD(0, len(raw)) + raw)
        update(NULL if value is None else FIELD(0, len(value)) + value)


def raw_digest(msg: Any, ts: bool = True) -> bytes:
    """:func:`kmigrate.verify.digest.record_digest` of a raw message."""
    record = Record(
        msg.topic(),
        msg.partition(),
        msg.offset(),
        msg.key(),
        msg.value(),
        list(msg.headers() or []),
        msg.timestamp()[1],
    )
    return record_digest(record, ts)


def summarize_both(
    source: Cluster,
    target: Cluster,
    ranges: list[PartitionRange],
    on_target: set[int],
    tick: Any = None,
    resume: Resume | None = None,
    stop: Any = None,
) -> tuple[Summaries, Summaries]:
    """Summarize both sides of ``ranges`` at the same time (a thread each:
    librdkafka fetches and hands over batches without the GIL, so the reads
    overlap).  ``on_target``: indexes into ``ranges`` of the partitions the
    target has.  ``tick(n)``: called from the source's thread as it counts
    records.  ``resume``: partitions that go on from proven blocks (both
    sides, see :func:`summarize_side`); ``stop``: ends both reads early (see
    there).  Returns ``(source summaries, target summaries)``.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    there = [r for i, r in enumerate(ranges) if i in on_target]
    untimed = {(r.topic, r.partition) for r in ranges if not r.timestamps}
    with ThreadPoolExecutor(2, thread_name_prefix="kmigrate-verify") as pool:
        source_job = pool.submit(
            summarize_side,
            source,
            [(r.topic, r.partition, r.source_start) for r in ranges],
            {(r.topic, r.partition): r.source_end for r in ranges if r.source_end is not None},
            None,
            tick,
            untimed,
            resume,
            stop,
        )
        target_job = pool.submit(
            summarize_side,
            target,
            [(r.topic, r.partition, r.target_start) for r in there],
            {(r.topic, r.partition): r.target_end for r in there if r.target_end is not None},
            {(r.topic, r.partition): r.offset_map for r in there if r.offset_map is not None},
            None,
            untimed,
            resume,
            stop,
        )
        return source_job.result(), target_job.result()

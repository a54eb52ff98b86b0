"""Continuous verification: prove the target equal to the source while the
mirror copies, so that the verify at cutover reads only the tail.

A following verify (:func:`follow`) works in rounds.  Each round reads both
clusters from where the proof stands (:mod:`kmigrate.verify.proof`) up to
what the mirror has copied (its offset map in the state dir: source records
up to its source position, paired with the target records it lists), or,
without a map, up to the high watermarks (the n-th source record with the
n-th target record, as a full verify pairs them).  Every block of
:data:`~kmigrate.verify.digest.BLOCK_RECORDS` records both sides hold with the
same chained digest is proven and checkpointed in the state dir after the
round, so a ``kill -9`` loses at most one round's reading and the next run
goes on from the same blocks, to the same digests.  A partial last block is
compared in memory (it counts for the proof lag and ``caught-up``) and read
again by the next pass.

The final verify (:func:`verify_reusing`) re-checks the proof (topic ids, log
start offsets, the last proven record on each side), reads only what follows
it, and gives the verdict and per-partition digests a full verify gives on the
same data.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.errors import VerificationFailed
from kmigrate.offsets.map import FILE_NAME as MAP_FILE
from kmigrate.offsets.map import OffsetMap
from kmigrate.verify.compare import (
    Checkpoint,
    PartitionRange,
    PartitionResult,
    SideSummary,
    ranges_for,
)
from kmigrate.verify.digest import BLOCK_RECORDS
from kmigrate.verify.locate import locate_differences
from kmigrate.verify.ordered import on_target, verify
from kmigrate.verify.proof import TP, Problem, Proof, bind, recheck
from kmigrate.verify.summaries import Resume, summarize_both

#: Seconds between two rounds of a following verify that found nothing new.
ROUND_PAUSE_S = 0.5


def prepare(proof: Proof, ranges: list[PartitionRange]) -> tuple[Resume, list[str]]:
    """Move each range's starts to where its proof ends; returns the digests
    to go on from and one note per proof that no longer fits its range (it is
    dropped: the partition is read whole).  Call after
    :func:`kmigrate.verify.ordered.on_target` (which decides timestamps)."""
    resume: Resume = {}
    notes: list[str] = []
    for r in ranges:
        tp = (r.topic, r.partition)
        p = proof.partitions.get(tp)
        if p is None or not p.records:
            continue
        why = _misfit(p, r)
        if why:
            notes.append(f"{r.topic}[{r.partition}]: proof dropped, {why}")
            del proof.partitions[tp]
            continue
        assert p.source.next is not None and p.target.next is not None
        r.source_start, r.target_start = p.source.next, p.target.next
        resume[tp] = (p.records, p.chain)
    return resume, notes


def _misfit(p: Any, r: PartitionRange) -> str | None:
    """Why a partition's proof cannot be gone on from in range ``r``, or None."""
    if p.aligned != (r.offset_map is not None):
        return "it was made " + ("through" if p.aligned else "without") + " an offset map"
    if p.timestamps != r.timestamps:
        return "the target topic's timestamp type changed"
    m = r.offset_map
    if m is not None and not (
        m.source_start <= p.source.next <= m.source_position
        and m.to_target(p.source.last) == p.target.last
    ):
        return "the offset map no longer lists its records where the proof has them"
    return None


@dataclass
class RoundResult:
    """What one round found, per partition: ``proven`` the source and target
    offsets after the last record proven (in a block, or in the tail this
    round compared); ``high`` both sides' high watermarks."""

    proven: dict[TP, tuple[int | None, int | None]] = field(default_factory=dict)
    high: dict[TP, tuple[int, int]] = field(default_factory=dict)
    low: dict[TP, int] = field(default_factory=dict)
    aligned: dict[TP, bool] = field(default_factory=dict)
    new_blocks: int = 0
    #: Partitions whose checkpointed proof grew this round.
    moved: set[TP] = field(default_factory=set)
    #: Proofs dropped this round (a topic re-created, a range that no longer fits).
    notes: list[str] = field(default_factory=list)

    def caught_up(self) -> bool:
        """Every partition proven up to both sides' high watermarks (the target's
        only without a map: through one, records another writer added to the
        target are not the proof's)."""
        for tp, (src_high, tgt_high) in self.high.items():
            src, tgt = self.proven.get(tp, (None, None))
            empty = src_high <= self.low.get(tp, 0)
            if not empty and (src is None or src < src_high):
                return False
            if not self.aligned.get(tp) and tgt_high and (tgt is None or tgt < tgt_high):
                return False
        return True

    def lag(self) -> dict[str, int]:
        """Per topic, source records not yet proven (high watermark minus the
        offset after the last proven record, summed over partitions)."""
        out: dict[str, int] = {}
        for (topic, p), (src_high, _tgt) in self.high.items():
            src = self.proven.get((topic, p), (None, None))[0]
            start = src if src is not None else self.low.get((topic, p), 0)
            out[topic] = out.get(topic, 0) + max(src_high - start, 0)
        return out

    def proven_offsets(self) -> dict[str, int]:
        """Per topic, the source offsets proven (offset after the last proven
        record, summed over partitions)."""
        out: dict[str, int] = {}
        for (topic, _p), (src, _tgt) in self.proven.items():
            out[topic] = out.get(topic, 0) + (src or 0)
        return out


def proof_line(last: RoundResult, shown: int = 3) -> str:
    """The progress line of a following verify, like mirror's lag line:
    ``proof: orders proven to offset 12,288, lag 212 records`` for up to
    ``shown`` topics (offsets summed over partitions), else
    ``proof: lag 1,200 records over 7 of 400 topics (orders 900; ...)``."""
    lag = last.lag()
    proven = last.proven_offsets()
    if len(lag) <= shown:
        return "proof: " + ", ".join(
            f"{t} proven to offset {proven.get(t, 0):,}, lag {n:,} records"
            for t, n in sorted(lag.items())
        )
    behind = sorted(((t, n) for t, n in lag.items() if n > 0), key=lambda tn: -tn[1])
    if not behind:
        return f"proof: lag 0 records on all {len(lag):,} topics"
    named = "; ".join(f"{t} {n:,}" for t, n in behind[:shown])
    total = sum(n for _, n in behind)
    return f"proof: lag {total:,} records over {len(behind):,} of {len(lag):,} topics ({named})"


def _load_map(state_dir: Path) -> OffsetMap | None:
    return OffsetMap.load(state_dir) if (state_dir / MAP_FILE).exists() else None


def one_round(
    source: Cluster,
    target: Cluster,
    topics: list[str],
    state_dir: Path,
    proof: Proof,
    pass_id: int,
    stop: threading.Event | None = None,
    stalled: set[TP] | None = None,
) -> RoundResult:
    """Read both sides from the proof to what the mirror copied (module
    docstring), prove what is equal, save the proof.  ``stalled``: partitions
    whose last round proved nothing although the sides differ in length (read
    to the source's high watermark this time; updated in place).

    Raises:
        VerificationFailed: a block differs (the partition and the first
            differing offsets named); the proof up to it is saved first.
        kmigrate.errors.ClusterError: a side could not be read.
    """
    stalled = set() if stalled is None else stalled
    offset_map = _load_map(state_dir)
    ranges = ranges_for(source, topics, None, offset_map)
    present = on_target(target, ranges)
    notes = bind(proof, source, target, topics)
    problems = _log_starts(proof, source, target, ranges)
    if problems:
        proof.save()
        raise VerificationFailed(_problems_text(problems))
    resume, dropped = prepare(proof, ranges)
    out = RoundResult(notes=notes + dropped)
    tps = [(r.topic, r.partition) for r in ranges]
    # The log ends read to the end-of-partition event: a broker's ListOffsets
    # may lag the log (Tansu's does), and "caught up" must not stop short.
    src_marks = source.watermark_offsets(tps, read_end=True)
    there = [tps[i] for i in sorted(present)]
    tgt_marks = target.watermark_offsets(there, read_end=True) if there else {}
    for r in ranges:
        tp = (r.topic, r.partition)
        low, src_high = src_marks.get(tp, (0, 0))
        tgt_low, tgt_high = tgt_marks.get(tp, (0, 0))
        out.high[tp], out.low[tp], out.aligned[tp] = (src_high, tgt_high), low, bool(r.offset_map)
        if r.offset_map is None:  # n-th with n-th: read the source about as far as the target
            r.target_end = tgt_high
            start = r.source_start if r.source_start >= 0 else low
            tstart = r.target_start if r.target_start >= 0 else tgt_low
            ahead = start + (tgt_high - tstart) + BLOCK_RECORDS
            r.source_end = src_high if tp in stalled else min(src_high, ahead)
    # Beside a mirror (its map in the state dir), a partition it has not begun
    # is not read yet: proven in order now, its proof would not fit the map later.
    ranges = [
        r
        for r in ranges
        if (r.source_end is None or r.source_start < r.source_end)
        and (offset_map is None or r.offset_map is not None)
    ]
    on = set(there)
    there_idx = {i for i, r in enumerate(ranges) if (r.topic, r.partition) in on}
    sums = summarize_both(source, target, ranges, there_idx, None, resume, stop)
    interrupted = stop is not None and stop.is_set()
    bad = []
    for r in ranges:
        tp = (r.topic, r.partition)
        src, tgt = sums[0].get(tp), sums[1].get(tp)
        if src is None or tgt is None:
            continue
        if not _judge(r, src, tgt, proof, pass_id, interrupted, out):
            bad.append((r, src[1], tgt[1]))
            continue
        if tp in out.moved or (src[0].records, src[0].digest) == (tgt[0].records, tgt[0].digest):
            stalled.discard(tp)
        elif src[0].records != tgt[0].records:
            stalled.add(tp)
    for tp, p in proof.partitions.items():
        out.proven.setdefault(tp, (p.source.next, p.target.next))
    proof.save()
    if bad:
        raise VerificationFailed(_differences_text(source, target, bad))
    return out


def _judge(
    r: PartitionRange,
    src: tuple[SideSummary, list[Checkpoint], int],
    tgt: tuple[SideSummary, list[Checkpoint], int],
    proof: Proof,
    pass_id: int,
    interrupted: bool,
    out: RoundResult,
) -> bool:
    """Take one partition's proof as far as both sides' reads agree: to their
    last shared block (checkpointed), and in ``out`` to the end of the reads
    when they agree whole.  False when they differ (a shared block, or as
    many records on each side with another digest)."""
    tp = (r.topic, r.partition)
    part = proof.part(r)
    before = part.records
    sm, tm = _last_common(src[1], tgt[1])
    if sm is not None and tm is not None:
        if sm.digest != tm.digest:
            return False
        part.advance(pass_id, sm, tm, src[0].first_offset, tgt[0].first_offset)
        if sm.records > before:
            out.moved.add(tp)
            out.new_blocks += (sm.records - before) // BLOCK_RECORDS
    same = (src[0].records, src[0].digest) == (tgt[0].records, tgt[0].digest)
    if not same and not interrupted and src[0].records == tgt[0].records:
        # As many records on each side (paired in order or through the map)
        # and another digest: a pair differs; written records do not change.
        return False
    ends = (part.source.next, part.target.next)
    s_last, t_last = src[0].last_offset, tgt[0].last_offset
    if same and not interrupted and s_last is not None and t_last is not None:
        ends = (_end(r.source_end, s_last), _end(r.target_end, t_last))
    out.proven[tp] = ends
    return True


def _end(stop: int | None, last: int) -> int:
    """The offset after a read that compared equal: its stop when it had one
    (offsets past the last record there hold none: markers), else last + 1."""
    return stop if stop is not None and stop > last else last + 1


def _last_common(
    a: list[Checkpoint], b: list[Checkpoint]
) -> tuple[Checkpoint | None, Checkpoint | None]:
    """The checkpoints of the last block both sides reached (same record count)."""
    if not a or not b:
        return None, None
    n = min(a[-1].records, b[-1].records)
    pick = [next((m for m in reversed(side) if m.records == n), None) for side in (a, b)]
    return pick[0], pick[1]


def _differences_text(
    source: Cluster, target: Cluster, bad: list[tuple[PartitionRange, Any, Any]]
) -> str:
    found = locate_differences(source, target, bad)
    parts = []
    for (r, _a, _b), first in zip(bad, found, strict=True):
        d = first or {"source_offset": None, "target_offset": None, "reason": "digests differ"}
        parts.append(
            f"{r.topic}[{r.partition}] at source offset {d.get('source_offset')}, "
            f"target offset {d.get('target_offset')} ({d.get('reason')})"
        )
    return f"{len(bad)} partitions differ; first: " + "; ".join(parts[:3])


def _problems_text(problems: list[Problem]) -> str:
    return "; ".join(p.reason for p in problems[:3]) + (
        f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    )


def _log_starts(
    proof: Proof, source: Cluster, target: Cluster, ranges: list[PartitionRange]
) -> list[Problem]:
    """The log start re-check of :func:`kmigrate.verify.proof.recheck`, every
    round (the last-record re-check is the final verify's)."""
    return recheck(proof, source, target, ranges, last_records=False)


@dataclass
class FollowOutcome:
    """How a following verify ended: ``ended`` (``caught up``, ``stopped by
    operator (SIGTERM)``, ``max duration 60 s``), its rounds and its last round."""

    ended: str
    rounds: int
    last: RoundResult


def follow(
    source: Cluster,
    target: Cluster,
    topics: list[str],
    state_dir: Path,
    *,
    until: str = "caught-up",
    settle_s: float = 5.0,
    max_duration_s: float | None = None,
    stop: threading.Event | None = None,
    stop_reason: Callable[[], str] = lambda: "stopped by operator",
    report: Callable[[RoundResult], None] | None = None,
    report_every_s: float = 5.0,
) -> FollowOutcome:
    """Verify in rounds behind the mirror until ``until`` (``caught-up``: every
    partition proven up to both sides' high watermarks, held ``settle_s``
    seconds; ``stopped``: only when ``stop`` is set), ``stop`` is set, or
    ``max_duration_s`` passed.  ``report(round)`` is called about every
    ``report_every_s`` seconds and at the end.  The proof is saved after every
    round (``state_dir``/``verify-proof.json``).

    Raises:
        VerificationFailed: a block differs, or a log start offset passed
            unproven records (named).
        kmigrate.errors.ClusterError: a side could not be read.
    """
    stop = stop or threading.Event()
    proof = Proof.load(state_dir)
    pass_id = proof.begin_pass("follow")
    started = time.monotonic()
    shown = started
    caught_since: float | None = None
    rounds = 0
    stalled: set[TP] = set()
    while True:
        last = one_round(source, target, topics, state_dir, proof, pass_id, stop, stalled)
        rounds += 1
        now = time.monotonic()
        if report is not None and now - shown >= report_every_s:
            report(last)
            shown = now
        ended = None
        if stop.is_set():
            ended = stop_reason()
        elif max_duration_s is not None and now - started >= max_duration_s:
            ended = f"max duration {max_duration_s:g} s"
        elif until == "caught-up" and last.caught_up():
            caught_since = caught_since if caught_since is not None else now
            if now - caught_since >= settle_s:
                ended = "caught up"
        else:
            caught_since = None
        if ended:
            if report is not None:
                report(last)
            return FollowOutcome(ended, rounds, last)
        if not last.new_blocks:
            stop.wait(ROUND_PAUSE_S)


@contextmanager
def operator_stop() -> Iterator[tuple[threading.Event, list[str]]]:
    """While inside: SIGINT and SIGTERM set the event (and name themselves in
    the list) instead of ending the process; the handlers before are put back."""
    stop = threading.Event()
    why: list[str] = []

    def handler(signum: int, _frame: object) -> None:
        why.append(f"stopped by operator ({signal.Signals(signum).name})")
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop, why
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _unread(r: PartitionRange, proof: Proof) -> PartitionResult:
    """The result of a partition not read (its log start passed unproven
    records): what the proof holds on each side; it does not match."""
    p = proof.partitions[(r.topic, r.partition)]
    sides = [
        SideSummary(p.records, one.first, one.last, p.chain.hex()) for one in (p.source, p.target)
    ]
    return PartitionResult(
        r.topic, r.partition, sides[0], sides[1], False, timestamps_compared=r.timestamps
    )


def verify_reusing(
    source: Cluster,
    target: Cluster,
    ranges: list[PartitionRange],
    proof: Proof,
    progress: Any = None,
    workers: int | None = None,
) -> tuple[list[PartitionResult], list[str], dict[TP, int]]:
    """The final verify on a proof (module docstring): results as a full
    verify's, notes (proofs dropped) and per partition the records reused
    from the proof (not read again).  A partition whose re-check fails
    does not match (its first difference is the re-check's finding) and is
    read whole.  The proof is advanced by what this pass proves, and saved.

    A topic deleted and re-created under a proven range (its topic id,
    KIP-516) has its proof dropped, named in the notes, and is read whole.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    on_target(target, ranges)
    notes = bind(proof, source, target, sorted({r.topic for r in ranges}))
    problems = {(p.topic, p.partition): p for p in recheck(proof, source, target, ranges)}
    keep = Proof(proof.path, partitions=dict(proof.partitions))
    for tp in problems:
        keep.partitions.pop(tp, None)
    resume, dropped = prepare(keep, ranges)
    for tp in set(proof.partitions) - set(keep.partitions) - set(problems):
        proof.partitions.pop(tp, None)
    pass_id = proof.begin_pass("final")
    marks: dict[TP, tuple[list[Checkpoint], list[Checkpoint]]] = {}
    gone = {tp for tp, p in problems.items() if not p.readable}
    read = [r for r in ranges if (r.topic, r.partition) not in gone]
    done = iter(verify(source, target, read, progress, workers, resume, marks))
    results = [_unread(r, proof) if (r.topic, r.partition) in gone else next(done) for r in ranges]
    for res, r in zip(results, ranges, strict=True):
        tp = (r.topic, r.partition)
        p = proof.partitions.get(tp)
        if tp in resume and p is not None:
            for side, got in (("source", res.source), ("target", res.target)):
                one = getattr(p, side)
                got.first_offset = one.first
                got.last_offset = got.last_offset if got.last_offset is not None else one.last
        if tp in problems:
            res.match = False
            res.first_difference = problems[tp].as_difference()
            continue
        if res.match and tp in marks:
            sm, tm = _last_common(*marks[tp])
            if sm is not None and tm is not None and sm.digest == tm.digest:
                fresh = p is None or not p.records  # this read began at the range's start
                first = (
                    res.source.first_offset if fresh else None,
                    res.target.first_offset if fresh else None,
                )
                proof.part(r).advance(pass_id, sm, tm, *first)
    proof.save()
    return results, notes + dropped, {tp: n for tp, (n, _chain) in resume.items()}

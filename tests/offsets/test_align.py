"""The alignment of a copy made by someone else (MirrorMaker 2) and the lost
ranges it lets verify name: pure, no broker (kmigrate.offsets.align, .gaps)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmigrate.offsets.align import align_partition
from kmigrate.offsets.gaps import SourceMark, lost_ranges
from kmigrate.offsets.map import OffsetMap, OffsetRun, PartitionMap
from kmigrate.offsets.translate import END, GAP, RECORD, translate_offset


def d(i: int) -> bytes:
    """A distinct digest for source record ``i``."""
    return b"rec-%d" % i


def part(source_start: int = 0, target_start: int = 0) -> PartitionMap:
    return PartitionMap("t", 0, source_start, target_start, source_start, target_start)


def test_transaction_markers_break_runs_exactly() -> None:
    """Source written in 3 transactions of 5 (markers at 5, 11, 17) copied to
    a plain target: three runs, and the map lands past the last marker."""
    src = [(o, d(o)) for start in (0, 6, 12) for o in range(start, start + 5)]
    tgt = [(i, digest) for i, (_o, digest) in enumerate(src)]
    p = part()
    found = align_partition(p, src, tgt, source_end=18, target_end=15)
    assert p.runs == [OffsetRun(0, 0, 5), OffsetRun(6, 5, 5), OffsetRun(12, 10, 5)]
    assert (found.copies, found.duplicate_records, found.unmatched, found.missing) == (
        15,
        0,
        [],
        [],
    )
    assert p.source_position == 18 and p.target_position == 15
    t = translate_offset(p.runs, 5, source_position=18, target_position=15, source_end=18)
    assert (t.kind, t.target_offset) == (GAP, 5)
    t = translate_offset(p.runs, 18, source_position=18, target_position=15, source_end=18)
    assert (t.kind, t.target_offset) == (END, 15)


def test_markers_on_both_sides() -> None:
    """An exactly-once MM2 writes in transactions too: target offsets jump as well."""
    src = [(0, d(0)), (1, d(1)), (3, d(3)), (4, d(4))]
    tgt = [(0, d(0)), (2, d(1)), (3, d(3)), (5, d(4))]
    p = part()
    align_partition(p, src, tgt, source_end=5, target_end=6)
    assert p.runs == [
        OffsetRun(0, 0, 1),
        OffsetRun(1, 2, 1),
        OffsetRun(3, 3, 1),
        OffsetRun(4, 5, 1),
    ]
    assert p.to_target(4) == 5 and p.to_source(2) == 1


def test_replay_after_restart_is_a_duplicate_and_the_map_keeps_the_first_copy() -> None:
    """MM2 at-least-once: a task restarted from its last committed offset (3) writes
    records 3..5 again; the map keeps the first copies, the duplicates are named."""
    src = [(o, d(o)) for o in range(10)]
    written = [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 9]
    tgt = [(i, d(s)) for i, s in enumerate(written)]
    p = part()
    found = align_partition(p, src, tgt, source_end=10, target_end=13)
    assert p.runs == [OffsetRun(0, 0, 6), OffsetRun(6, 9, 4)]
    assert found.duplicates == [OffsetRun(3, 6, 3)] == p.duplicates
    assert found.unmatched == [] and found.pending == 0
    # a group that committed 6 (next record 6) resumes after the duplicates
    t = translate_offset(p.runs, 6, source_position=10, target_position=13, source_end=10)
    assert (t.kind, t.target_offset) == (RECORD, 9)
    t = translate_offset(p.runs, 4, source_position=10, target_position=13, source_end=10)
    assert t.target_offset == 4  # the first copy, never the duplicate at 7


def test_unmatched_missing_and_pending() -> None:
    """A foreign record, a skipped source range, and source records not copied yet."""
    src = [(o, d(o)) for o in range(10)]
    tgt = [(0, d(0)), (1, b"foreign"), (2, d(1)), (3, d(4)), (4, d(5))]
    p = part()
    found = align_partition(p, src, tgt, source_end=10, target_end=5)
    assert found.unmatched == [(1, 2)]
    assert found.missing == [(2, 4)]
    assert found.pending == 4
    assert p.source_position == 6  # records 6..9 not copied yet
    t = translate_offset(p.runs, 8, source_position=6, target_position=5, source_end=10)
    assert t.kind == "refused"


def test_truncated_source_start_leaves_an_unmatched_prefix() -> None:
    """Retention moved the source log start to 100 after the copy: the first 100 target
    records are copies of deleted records; alignment starts at the log start."""
    src = [(o, d(o)) for o in range(100, 150)]
    tgt = [(o, d(o)) for o in range(150)]
    p = part(100, 0)
    found = align_partition(p, src, tgt, source_end=150, target_end=150)
    assert p.runs == [OffsetRun(100, 100, 50)]
    assert found.unmatched == [(0, 100)] and found.unmatched_before_first == 100
    assert lost_ranges([SourceMark(0, 0, 150)], SourceMark(1, 100, 150), 100, 100) == []


def test_retention_passed_the_copy_names_the_lost_range() -> None:
    """MM2 had copied offsets 0..39 when retention moved the log start to 100; its
    consumer reset to 100 and copied on: offsets 40..99 were lost."""
    src = [(o, d(o)) for o in range(100, 150)]
    tgt = [(i, d(o)) for i, o in enumerate([*range(40), *range(100, 150)])]
    p = part(100, 0)
    found = align_partition(p, src, tgt, source_end=150, target_end=90)
    lost = lost_ranges(
        [SourceMark(0, 0, 60, "A"), SourceMark(5_000, 0, 120, "A")],
        SourceMark(9_000, 100, 150, "A"),
        p.runs[0].source_start,
        found.unmatched_before_first,
    )
    assert [(x["first"], x["last"]) for x in lost] == [(40, 99)]
    assert "log start offset now 100" in lost[0]["reason"]


def test_recreated_topic_names_the_deleted_topics_range() -> None:
    """The source topic (id A) held offsets 0..79 when it was deleted and re-created
    (id B); MM2 had copied 50 of its records, then copied the new topic from 0."""
    marks = [
        SourceMark(0, 0, 30, "A"),
        SourceMark(10_000, 0, 80, "A"),
        SourceMark(20_000, 0, 5, "B"),
    ]
    lost = lost_ranges(marks, SourceMark(30_000, 0, 10, "B"), 0, 50)
    assert [(x["first"], x["last"]) for x in lost] == [(50, 79)]
    assert "topic id A -> B" in lost[0]["reason"]
    # everything copied before the deletion: nothing lost
    assert lost_ranges(marks, SourceMark(30_000, 0, 10, "B"), 0, 80) == []


def test_not_increasing_target_is_refused() -> None:
    with pytest.raises(ValueError, match="not increasing"):
        align_partition(part(), [(0, d(0))], [(1, d(0)), (1, d(0))])


@st.composite
def copies(draw: st.DrawFn) -> tuple[list[tuple[int, bytes]], list[bytes], dict[str, object]]:
    """A source (offsets with marker gaps) and what an at-least-once copy wrote:
    runs, replays after restarts, foreign records and skipped (lost) ranges."""
    n = draw(st.integers(0, 60))
    offsets, o = [], draw(st.integers(0, 5))
    for _ in range(n):
        offsets.append(o)
        o += 1 + draw(st.sampled_from([0, 0, 0, 1, 3]))
    src = [(off, d(i)) for i, off in enumerate(offsets)]
    written: list[bytes] = []
    first_copy: dict[int, int] = {}  # source index -> target index of its first copy
    i = reached = floor = 0
    foreign = dups = 0
    skipped: list[int] = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["copy", "copy", "restart", "foreign", "skip"]))
        k = draw(st.integers(1, 6))
        if kind == "copy":
            for _ in range(k):
                if i >= n:
                    break
                if i < reached:
                    dups += 1
                else:
                    first_copy[i] = len(written)
                    reached = i + 1
                written.append(d(i))
                i += 1
        elif kind == "restart" and reached - floor > 0:
            i = max(floor, reached - k)
        elif kind == "foreign":
            for j in range(k):
                written.append(b"foreign-%d-%d" % (len(written), j))
                foreign += 1
        elif kind == "skip" and i == reached:
            skipped.extend(range(i, min(i + k, n)))
            i = reached = floor = min(i + k, n)
    return src, written, {"first_copy": first_copy, "foreign": foreign, "dups": dups, "n": n}


@settings(max_examples=300, deadline=None)
@given(copies(), st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=200, max_size=200))
def test_alignment_is_exact_for_any_at_least_once_copy(
    case: tuple[list[tuple[int, bytes]], list[bytes], dict[str, object]], gaps: list[int]
) -> None:
    """Every source record the copy wrote maps to its *first* copy; every second copy
    is a duplicate; every foreign record is unmatched; records after the last one
    written are pending; skipped records followed by a copy are missing."""
    src, written, facts = case
    first_copy: dict[int, int] = facts["first_copy"]  # type: ignore[assignment]
    tgt, o = [], 0
    for k, digest in enumerate(written):  # target offsets with gaps too (EOS markers)
        tgt.append((o, digest))
        o += 1 + gaps[k % len(gaps)]
    p = part(src[0][0] if src else 0, 0)
    found = align_partition(p, src, tgt, source_end=(src[-1][0] + 1 if src else 0), target_end=o)
    for i, (offset, _) in enumerate(src):
        want = tgt[first_copy[i]][0] if i in first_copy else None
        assert p.to_target(offset) == want
    assert found.copies == len(first_copy)
    assert found.duplicate_records == facts["dups"]
    assert found.unmatched_records == facts["foreign"]
    last = max(first_copy, default=-1)
    assert found.pending == len(src) - 1 - last
    missing = {i for i in range(last) if i not in first_copy}
    assert sum(1 for off, _ in src if any(a <= off < b for a, b in found.missing)) == len(missing)
    runs_total = sum(r.length for r in p.runs)
    assert runs_total == len(first_copy)
    for r in p.duplicates:  # a duplicate never lies inside a run's target range
        assert all(p.to_source(t) is None for t in range(r.target_start, r.target_end))


def test_map_keeps_duplicates_and_lost_through_save(tmp_path: Path) -> None:
    m = OffsetMap.load(tmp_path)
    p = m.begin("t", 0, 0, 0)
    align_partition(p, [(0, d(0)), (1, d(1))], [(0, d(0)), (1, d(1)), (2, d(1))])
    p.lost = [{"first": 5, "last": 9, "reason": "why"}]
    m.save()
    again = OffsetMap.load(tmp_path).get("t", 0)
    assert again is not None
    assert again.duplicates == [OffsetRun(1, 2, 1)] and again.lost == p.lost


@settings(max_examples=200, deadline=None)
@given(
    st.none() | st.binary(max_size=40),
    st.none() | st.binary(max_size=40),
    st.lists(st.tuples(st.text(max_size=5), st.none() | st.binary(max_size=8)), max_size=3),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
)
def test_fields_digest_is_the_record_digest(
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]],
    ts: int,
    timed: bool,
) -> None:
    """Alignment digests raw messages with fields_digest; it must be the digest
    verify and crash-resume use (record_digest) byte for byte."""
    from kmigrate.clusters.port import Record
    from kmigrate.verify.digest import fields_digest, record_digest

    rec = Record("t", 0, 0, key, value, headers, ts)
    assert fields_digest(key, value, headers or None, ts if timed else None) == record_digest(
        rec, timed
    )


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 50),
    st.lists(st.sampled_from([0, 0, 0, 1, 4]), min_size=1, max_size=80),
    st.data(),
)
def test_retention_truncation_is_never_named_shorter_than_what_was_lost(
    low0: int, gaps: list[int], data: st.DataObject
) -> None:
    """A copy began at log start ``low0`` and had copied ``k`` records when the log
    start moved to the ``j``-th record (j >= k); the copy resumed there.  Every
    record lost (``k .. j-1``) lies in the range named, which ends right before the
    new log start; without markers among the copied records the range holds no
    record that was copied (only lost records, and offsets that hold none)."""
    offsets, o = [], low0
    for g in gaps:
        offsets.append(o)
        o += 1 + g
    end = o
    n = len(offsets)
    k = data.draw(st.integers(0, n))
    j = data.draw(st.integers(k, n))
    new_start = offsets[j] if j < n else end
    src = [(off, d(i)) for i, off in enumerate(offsets)]
    tgt = [(t, digest) for t, (_o, digest) in enumerate(src[:k] + src[j:])]
    p = part(new_start, 0)
    found = align_partition(p, src[j:], tgt, source_end=end, target_end=len(tgt))
    first = p.runs[0].source_start if p.runs else None
    lost = lost_ranges(
        [SourceMark(0, low0, end)],
        SourceMark(1, new_start, end),
        first,
        found.unmatched_before_first,
    )
    named = {x for r in lost for x in range(r["first"], r["last"] + 1)}
    gone = {offsets[i] for i in range(k, j)}
    assert gone <= named
    for r in lost:
        assert r["last"] == new_start - 1
    if all(g == 0 for g in gaps[:k]):  # no marker among the copied records
        assert named & set(offsets) == gone  # the range holds no record that was copied


def test_keep_marks_keeps_what_lost_ranges_reads() -> None:
    """Many observations compact to each incarnation's first and last mark, and the
    lost range named from them is the one named from all of them."""
    from kmigrate.offsets.gaps import keep_marks

    seen: list[SourceMark] = []
    everything: list[SourceMark] = []
    for i, (tid, high) in enumerate([("A", 10), ("A", 40), ("A", 80), ("B", 3), ("B", 9)]):
        mark = SourceMark(i * 1000, 0, high, tid)
        everything.append(mark)
        seen = keep_marks(seen, mark)
    assert [(m.topic_id, m.high_watermark) for m in seen] == [
        ("A", 10),
        ("A", 80),
        ("B", 3),
        ("B", 9),
    ]
    now = SourceMark(9_000, 0, 9, "B")
    assert lost_ranges(seen, now, 0, 50) == lost_ranges(everything, now, 0, 50)
    assert [(r["first"], r["last"]) for r in lost_ranges(seen, now, 0, 50)] == [(50, 79)]

"""Tests for the pure parts of verify (digest, comparison, table) and mirror's offset map."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.clusters.port import PartitionEnd, Record
from kmigrate.offsets import resume
from kmigrate.offsets.map import OffsetMap, PartitionMap
from kmigrate.steps.mirror import PartitionCopy
from kmigrate.verify.compare import (
    PartitionRange,
    PartitionResult,
    SideSummary,
    compare_partition,
)
from kmigrate.verify.digest import digest_record, field_digest, headers_digest, record_digest
from kmigrate.verify.dual_write import SideTally
from kmigrate.verify.evidence import table_rows

Headers = list[tuple[str, bytes | None]]


def rec(
    offset: int = 0,
    key: bytes | None = b"k",
    value: bytes | None = b"v",
    headers: Headers | None = None,
    timestamp_ms: int = 1_700_000_000_000,
    topic: str = "t",
    partition: int = 0,
) -> Record:
    return Record(topic, partition, offset, key, value, list(headers or []), timestamp_ms)


def digest(*records: Record) -> str:
    h = hashlib.sha256()
    for r in records:
        digest_record(h, r)
    return h.hexdigest()


# --------------------------------------------------------------------------- #
# digest_record
# --------------------------------------------------------------------------- #


def test_digest_is_deterministic() -> None:
    assert digest(rec(), rec(1)) == digest(rec(), rec(1))


def test_digest_ignores_topic_partition_and_offset() -> None:
    """The same content at other coordinates (source vs target) digests the same."""
    assert digest(rec(0)) == digest(rec(57, topic="other", partition=3))


def test_digest_null_key_differs_from_empty_key() -> None:
    assert digest(rec(key=None)) != digest(rec(key=b""))


def test_digest_null_value_differs_from_empty_value() -> None:
    assert digest(rec(value=None)) != digest(rec(value=b""))


def test_digest_key_and_value_boundary_is_unambiguous() -> None:
    assert digest(rec(key=b"ab", value=b"c")) != digest(rec(key=b"a", value=b"bc"))


def test_digest_header_order_counts() -> None:
    a = rec(headers=[("x", b"1"), ("y", b"2")])
    b = rec(headers=[("y", b"2"), ("x", b"1")])
    assert digest(a) != digest(b)


def test_digest_duplicate_headers_count() -> None:
    once = rec(headers=[("x", b"1")])
    twice = rec(headers=[("x", b"1"), ("x", b"1")])
    assert digest(once) != digest(twice)


def test_digest_null_header_value_differs_from_empty() -> None:
    assert digest(rec(headers=[("x", None)])) != digest(rec(headers=[("x", b"")]))


def test_digest_no_headers_differs_from_one_empty_header() -> None:
    assert digest(rec(headers=[])) != digest(rec(headers=[("", b"")]))


def test_digest_timestamp_counts() -> None:
    assert digest(rec(timestamp_ms=1)) != digest(rec(timestamp_ms=2))


def test_digest_record_order_counts() -> None:
    a, b = rec(value=b"a"), rec(value=b"b")
    assert digest(a, b) != digest(b, a)


def test_digest_matches_the_documented_encoding() -> None:
    """field(None) = ff, field(b) = 00 + u64 len + b; u32 header count; i64 timestamp."""
    r = rec(key=None, value=b"hi", headers=[("h", None)], timestamp_ms=-1)
    expected = (
        b"\xff"
        + b"\x00" + (2).to_bytes(8, "big") + b"hi"
        + (1).to_bytes(4, "big")
        + b"\x00" + (1).to_bytes(8, "big") + b"h"
        + b"\xff"
        + (-1).to_bytes(8, "big", signed=True)
    )  # fmt: skip
    assert digest(r) == hashlib.sha256(expected).hexdigest()


small_bytes = st.one_of(st.none(), st.binary(max_size=4))
records = st.builds(
    rec,
    key=small_bytes,
    value=small_bytes,
    headers=st.lists(st.tuples(st.sampled_from(["", "a", "b", "é"]), small_bytes), max_size=3),
    timestamp_ms=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)


def content(r: Record) -> tuple[Any, ...]:
    return (r.key, r.value, r.headers, r.timestamp_ms)


@given(st.lists(records, max_size=3), st.lists(records, max_size=3))
def test_digest_equal_iff_records_equal(a: list[Record], b: list[Record]) -> None:
    assert (digest(*a) == digest(*b)) == ([content(r) for r in a] == [content(r) for r in b])


# --------------------------------------------------------------------------- #
# compare_partition with in-memory stand-ins
# --------------------------------------------------------------------------- #


class FakeCluster:
    """In-memory stand-in for the adapter; the real adapter is covered by the broker tests.

    ``read`` yields the records of the one partition from the start offset (a
    negative start means the beginning) up to the stop offset, then a
    :class:`PartitionEnd`, as ``KafkaCluster.read`` does.
    """

    def __init__(self, records: list[Record]) -> None:
        self.records = records

    def read(
        self,
        starts: Iterable[tuple[str, int, int]],
        *,
        stop_offsets: Mapping[tuple[str, int], int] | None = None,
        batch: int = 1000,
    ) -> Iterator[Record | PartitionEnd]:
        for topic, partition, start in starts:
            stop = (stop_offsets or {}).get((topic, partition))
            end = start if start >= 0 else 0
            for r in self.records:
                if (r.topic, r.partition) != (topic, partition) or r.offset < start:
                    continue
                if stop is not None and r.offset >= stop:
                    break
                end = r.offset + 1
                yield r
            yield PartitionEnd(topic, partition, stop if stop is not None else end)


def cluster(records: list[Record]) -> KafkaCluster:
    return cast(KafkaCluster, FakeCluster(records))


def values(*vals: bytes, first_offset: int = 0) -> list[Record]:
    return [rec(first_offset + i, value=v) for i, v in enumerate(vals)]


RANGE = PartitionRange("t", 0)


def test_equal_partitions_match() -> None:
    src = values(b"a", b"b", b"c")
    tgt = values(b"a", b"b", b"c", first_offset=100)  # other offsets, same content
    result = compare_partition(cluster(src), cluster(tgt), RANGE)
    assert result.match is True
    assert result.first_difference is None
    assert result.source.records == result.target.records == 3
    assert (result.source.first_offset, result.source.last_offset) == (0, 2)
    assert (result.target.first_offset, result.target.last_offset) == (100, 102)
    assert result.source.digest == result.target.digest == digest(*src)


def test_empty_partitions_match() -> None:
    result = compare_partition(cluster([]), cluster([]), RANGE)
    assert result.match is True
    assert result.source.records == 0
    assert result.source.first_offset is None
    assert result.source.digest == hashlib.sha256().hexdigest()


def test_record_missing_on_target() -> None:
    src = values(b"a", b"b", b"c")
    tgt = values(b"a", b"b")
    result = compare_partition(cluster(src), cluster(tgt), RANGE)
    assert result.match is False
    assert result.first_difference == {
        "source_offset": 2,
        "target_offset": None,
        "reason": "missing on target",
    }
    assert (result.source.records, result.target.records) == (3, 2)
    assert result.source.digest != result.target.digest


def test_value_differs_names_both_offsets() -> None:
    src = values(b"a", b"b", b"c", b"d")
    tgt = values(b"a", b"X", b"c", b"Y", first_offset=10)
    result = compare_partition(cluster(src), cluster(tgt), RANGE)
    assert result.match is False
    assert result.first_difference == {
        "source_offset": 1,
        "target_offset": 11,
        "reason": "value differs",
    }


def test_several_fields_differ() -> None:
    src = [rec(0, key=b"k", value=b"v", timestamp_ms=1)]
    tgt = [rec(0, key=None, value=b"v", timestamp_ms=2)]
    result = compare_partition(cluster(src), cluster(tgt), RANGE)
    assert result.first_difference is not None
    assert result.first_difference["reason"] == "key, timestamp differ"


def test_header_difference_is_found() -> None:
    src = [rec(0, headers=[("a", b"1"), ("b", None)])]
    tgt = [rec(0, headers=[("a", b"1"), ("b", b"")])]
    result = compare_partition(cluster(src), cluster(tgt), RANGE)
    assert result.first_difference is not None
    assert result.first_difference["reason"] == "headers differs"


def test_extra_record_on_target() -> None:
    src = values(b"a")
    tgt = values(b"a", b"b", first_offset=5)
    result = compare_partition(cluster(src), cluster(tgt), RANGE)
    assert result.match is False
    assert result.first_difference == {
        "source_offset": None,
        "target_offset": 6,
        "reason": "extra record on target",
    }


def test_ranges_are_respected() -> None:
    """Only [source_start, source_end) and [target_start, target_end) are compared."""
    src = values(b"old", b"a", b"b", b"new")
    tgt = values(b"pre", b"a", b"b")
    rng = PartitionRange("t", 0, source_start=1, source_end=3, target_start=1, target_end=3)
    result = compare_partition(cluster(src), cluster(tgt), rng)
    assert result.match is True
    assert (result.source.first_offset, result.source.last_offset) == (1, 2)


def test_partition_missing_on_target() -> None:
    src = values(b"a", b"b")
    result = compare_partition(cluster(src), cluster([]), RANGE, target_has_partition=False)
    assert result.match is False
    assert result.first_difference == {
        "source_offset": 0,
        "target_offset": None,
        "reason": "partition missing on target",
    }
    assert result.source.records == 2
    assert result.target.records == 0


# --------------------------------------------------------------------------- #
# table_rows
# --------------------------------------------------------------------------- #


def side(records: int, first: int | None, last: int | None, digest_hex: str) -> SideSummary:
    return SideSummary(records, first, last, digest_hex)


def test_table_row_ok() -> None:
    d = "ab" * 32
    result = PartitionResult("orders", 2, side(3, 0, 2, d), side(3, 10, 12, d), True)
    assert table_rows([result]) == [["orders", 2, 3, "0..2", 3, "10..12", d[:12], d[:12], "OK"]]


def test_table_row_mismatch() -> None:
    result = PartitionResult(
        "orders",
        0,
        side(3, 0, 2, "a" * 64),
        side(2, 0, 1, "b" * 64),
        False,
        {"source_offset": 2, "target_offset": None, "reason": "missing on target"},
    )
    row = table_rows([result])[0]
    assert row[:8] == ["orders", 0, 3, "0..2", 2, "0..1", "a" * 12, "b" * 12]
    assert row[8] == "MISMATCH at source offset 2, target offset None: missing on target"


def test_table_row_empty_side_has_a_dash() -> None:
    empty = hashlib.sha256().hexdigest()
    result = PartitionResult("t", 0, side(0, None, None, empty), side(0, None, None, empty), True)
    assert table_rows([result])[0][3] == "-"
    assert table_rows([result])[0][5] == "-"


def test_table_rows_from_compare() -> None:
    src = values(b"a", b"b")
    tgt = values(b"a", b"Z")
    row = table_rows([compare_partition(cluster(src), cluster(tgt), RANGE)])[0]
    assert row[-1] == "MISMATCH at source offset 1, target offset 1: value differs"


# --------------------------------------------------------------------------- #
# The offset map as the mirror builds it, one record at a time
# (kmigrate.offsets.map; more in test_offset_map.py)
# --------------------------------------------------------------------------- #


def _part(source_start: int, target_start: int) -> PartitionMap:
    return OffsetMap(Path("unused")).begin("t", 0, source_start, target_start)


def _runs(part: PartitionMap) -> list[list[int]]:
    return [[r.source_start, r.target_start, r.length] for r in part.runs]


def test_contiguous_offsets_make_one_run() -> None:
    part = _part(5, 100)
    for n, offset in enumerate(range(5, 10)):
        part.extend(offset, 100 + n, 1)
    assert _runs(part) == [[5, 100, 5]]
    assert part.records == 5
    r = PartitionCopy.of(part)
    assert (r.target_start, r.target_end, r.records) == (100, 105, 5)


def test_a_gap_in_source_offsets_starts_a_new_run() -> None:
    """Compaction or transaction markers leave gaps; the target is dense."""
    part = _part(0, 0)
    for n, offset in enumerate((0, 1, 2, 5, 6, 9)):
        part.extend(offset, n, 1)
    assert _runs(part) == [[0, 0, 3], [5, 3, 2], [9, 5, 1]]
    assert PartitionCopy.of(part).target_end == 6


def test_empty_copy_has_an_empty_map() -> None:
    part = _part(0, 7)
    assert _runs(part) == []
    assert PartitionCopy.of(part).target_end == 7


@given(st.lists(st.integers(min_value=1, max_value=5), max_size=30), st.integers(0, 1000))
def test_offset_map_covers_every_record(gaps: list[int], target_start: int) -> None:
    offsets = []
    current = 0
    for gap in gaps:
        offsets.append(current)
        current += gap
    part = _part(0, target_start)
    for n, offset in enumerate(offsets):
        part.extend(offset, target_start + n, 1)
    runs = _runs(part)
    mapped = [(src + i, tgt + i) for src, tgt, count in runs for i in range(count)]
    assert mapped == [(o, target_start + n) for n, o in enumerate(offsets)]
    breaks = sum(1 for a, b in pairwise(offsets) if b != a + 1)
    assert len(runs) == (1 + breaks if offsets else 0)


# --------------------------------------------------------------------------- #
# the one encoding verify, the dual-write check and resume share
# --------------------------------------------------------------------------- #

#: Two fixed records: one with headers (a repeated name, a null and an empty
#: value) and bytes that need no escaping, one with a null key, an empty value,
#: no headers and a negative timestamp.
HEADERS: Headers = [("h1", b"a"), ("h2", None), ("h1", b"")]
FIXED = [
    Record("t", 0, 7, b"key-1", b"value \x00\xff", HEADERS, 1_700_000_000_123),
    Record("t", 0, 8, None, b"", [], -1),
]

# Computed on this machine by the code paths before issue 16 (commit 8855dd8):
# kmigrate.steps.verify.digest_record over FIXED in order (with and without
# timestamps), kmigrate.offsets.resume._digest(FIXED[0]) (with and without),
# kmigrate.verify.dual_write.headers_digest(FIXED[0].headers) and
# kmigrate.verify.dual_write._digest of FIXED[0].value, None and b"".
BEFORE_ORDERED = "e643d149ae580b89ae2b6e0ad4bf05bcacb737a8186b12d989d249478ed1cb8b"
BEFORE_ORDERED_UNTIMED = "341eb0f9cc6b9904596118a51c9f2e4e0107cecf66e7f4e6178cd3d07422d638"
BEFORE_RESUME = "e6274b7d983b641a46d8b6cddd34f455258380bcfde1cca68a59b1d0f9366182"
BEFORE_RESUME_UNTIMED = "a680037d4e3407632a7fb0b04825b15deddfdc8472415aa90b1d5a053a6fbc40"
BEFORE_HEADERS = "3a870724e1385f9665c76f9d850fffdc2b99c98669bfee5306821dfdcd4a8e02"
BEFORE_FIELDS = (
    "291680b2d650d77d3442c2e0b4fc701ffe65ef62d9b4a3000708c3dfd75db269",
    "a8100ae6aa1940d0b663bb31cd466142ebbdbd5187131b92d93818987832eb89",
    "3e7077fd2f66d689e0cee6a7cf5b37bf2dca7c979af356d0a31cbc5c85605c7d",
)


def test_the_shared_encoding_gives_the_digests_of_before_issue_16() -> None:
    """Issue 16 moved the digest encoding, written twice before (steps/verify.py
    and verify/dual_write.py), into kmigrate.verify.digest: verify, resume and
    the dual-write check give byte-identical digests to the old code paths."""
    ordered = hashlib.sha256()
    untimed = hashlib.sha256()
    for r in FIXED:
        digest_record(ordered, r)
        digest_record(untimed, r, timestamps=False)

    assert ordered.hexdigest() == BEFORE_ORDERED
    assert untimed.hexdigest() == BEFORE_ORDERED_UNTIMED
    assert record_digest(FIXED[0]).hex() == BEFORE_RESUME
    assert record_digest(FIXED[0], timestamps=False).hex() == BEFORE_RESUME_UNTIMED
    assert headers_digest(FIXED[0].headers).hex() == BEFORE_HEADERS
    assert tuple(field_digest(v).hex() for v in (FIXED[0].value, None, b"")) == BEFORE_FIELDS


def test_resume_and_the_dual_write_check_use_the_shared_encoding() -> None:
    """The dual-write check's tally keys and resume's tail match are the shared
    digests (one encoding, not a copy of it)."""
    tally = SideTally()
    tally.add(FIXED[0].key, FIXED[0].value, FIXED[0].headers)

    [(key_digest, entries)] = tally.entries.items()
    assert key_digest == field_digest(FIXED[0].key)
    assert list(entries) == [(field_digest(FIXED[0].value), headers_digest(FIXED[0].headers))]
    assert resume.record_digest is record_digest


# --------------------------------------------------------------------------- #
# ChainedDigest: proven blocks + the rest == the whole
# --------------------------------------------------------------------------- #


def test_a_chained_digest_of_at_most_one_block_is_plain_sha256() -> None:
    """Up to 1,024 records the partition digest is SHA-256 of the records (as
    before chaining), so small partitions keep their digests."""
    from kmigrate.verify.digest import BLOCK_RECORDS, ChainedDigest

    for n in (0, 1, BLOCK_RECORDS):
        records = [rec(i, value=str(i).encode()) for i in range(n)]
        chained = ChainedDigest()
        for r in records:
            chained.add(r)
        assert chained.hexdigest() == digest(*records)


@given(st.integers(0, 5 * 1024), st.integers(0, 5))
def test_a_chained_digest_resumed_at_any_block_equals_the_whole(n: int, blocks: int) -> None:
    """Going on from the chain value after any whole number of blocks (what a
    following verify checkpoints) gives exactly the digest of reading all, and a
    different last record gives another digest."""
    from kmigrate.verify.digest import BLOCK_RECORDS, ChainedDigest

    records = [rec(i, value=str(i).encode()) for i in range(n)]
    whole = ChainedDigest()
    chains = {0: b""}
    for r in records:
        closed = whole.add(r)
        if closed is not None:
            chains[whole.records] = closed
    k = min(blocks, n // BLOCK_RECORDS) * BLOCK_RECORDS
    resumed = ChainedDigest(k, chains[k])
    for r in records[k:]:
        resumed.add(r)
    assert resumed.hexdigest() == whole.hexdigest()
    if n:
        changed = ChainedDigest()
        for r in records[:-1]:
            changed.add(r)
        changed.add(rec(n - 1, value=b"other"))
        assert changed.hexdigest() != whole.hexdigest()


def test_raw_digest_loop_matches_the_record_digest() -> None:
    """The raw-message hot loop (:func:`kmigrate.verify.summaries._digest_batch`,
    which feeds a value apart from its length prefix and tests the offset map's
    first run before calling ``in_ranges``) gives the same chained digest as
    :class:`ChainedDigest` over the same records, across a block's end: null and
    empty values, 1 KB values, headers (null values), with and without
    timestamps; records outside the kept ranges are skipped, not digested."""
    from confluent_kafka import Message

    from kmigrate.verify.digest import BLOCK_RECORDS, ChainedDigest, hexdigest
    from kmigrate.verify.summaries import _digest_batch, _Side

    values: list[bytes | None] = [None, b"", b"v" * 1000, bytes(range(256)) * 4]
    headers: list[list[tuple[str, bytes | None]] | None] = [None, [("h", None), ("é", b"x")]]
    n = BLOCK_RECORDS + 7
    records = [
        Record(
            "t",
            0,
            o,
            None if o % 5 == 0 else b"k%d" % o,
            values[o % 4],
            headers[o % 3 == 0] or [],
            1000 + o,
        )
        for o in range(n)
    ]
    msgs = [
        Message(
            topic="t",
            partition=0,
            offset=r.offset,
            key=r.key,
            value=r.value,
            headers=r.headers or None,
            timestamp=(1, r.timestamp_ms),
        )
        for r in records
    ]

    class Reader:
        def event(self, msg: Any) -> None:
            raise AssertionError("no events here")

        def finish(self, *args: Any) -> None:
            raise AssertionError("no stop here")

    skip = {3, 500}
    keep = [(0, 3), (4, 500), (501, n)]
    for ts in (True, False):
        side = _Side(float("inf"), list(keep), ts)
        for i in range(0, n, 300):
            _digest_batch(Reader(), msgs[i : i + 300], {("t", 0): side}, None)
        want = ChainedDigest()
        for r in records:
            if r.offset not in skip:
                want.add(r, ts)
        assert (side.records, side.skipped) == (n - 2, 2)
        assert hexdigest(side.records, side.chain, side.hash) == want.hexdigest()

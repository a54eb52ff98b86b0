"""Issue 18, part 6: verify names first differences without re-reading each
differing partition alone, and its progress counts one side against a real total.

Real local brokers; the records are written with the tests' own producer.  The
first differences found are checked against :func:`compare_partition` and
:func:`compare_aligned` (the pairwise record-by-record comparisons) as oracles.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.cli import cli
from kmigrate.offsets.map import PartitionMap
from kmigrate.verify.compare import (
    CHECKPOINT_EVERY,
    PartitionRange,
    compare_aligned,
    compare_partition,
)
from kmigrate.verify.ordered import verify
from kmigrate.verify.summaries import summarize_side
from tests.conftest import Brokers, create_on_both, create_topic, produce, source_and_target

pytestmark = pytest.mark.broker

N = 2 * CHECKPOINT_EVERY + 500  # past two checkpoints


def rec(i: int, partition: int, **change: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key": b"k%d" % i,
        "value": b"v%d" % i,
        "partition": partition,
        "timestamp": 1_000 + i,
        "headers": [("h", b"%d" % i)],
    }
    return {**base, **change}


@contextmanager
def counted_reads() -> Iterator[dict[str, int]]:
    """Count the consumers kmigrate opens to read records (``read`` and ``raw_reader``)."""
    calls = {"read": 0, "raw_reader": 0}
    real_read, real_raw = KafkaCluster.read, KafkaCluster.raw_reader

    def read(self: KafkaCluster, *a: Any, **k: Any) -> Any:
        calls["read"] += 1
        return real_read(self, *a, **k)

    def raw_reader(self: KafkaCluster, *a: Any, **k: Any) -> Any:
        calls["raw_reader"] += 1
        return real_raw(self, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(KafkaCluster, "read", read)
        mp.setattr(KafkaCluster, "raw_reader", raw_reader)
        yield calls


def clusters(brokers: Brokers) -> tuple[KafkaCluster, KafkaCluster]:
    return KafkaCluster("source", brokers.source), KafkaCluster("target", brokers.target)


def test_first_differences_come_from_one_short_read_however_many_partitions_differ(
    brokers: Brokers, prefix: str
) -> None:
    """Eight partitions, six of them differing at different places (past two
    digest checkpoints, in the first record, at the tail, by one field each):
    each first difference is the pairwise comparison's, and the whole verify
    opens four readers (two for the digests, two to locate), never one per
    differing partition.  On main each differing partition was read again
    alone (two ``read`` calls each: 12 here, ~1.1 s each in the trial)."""
    topic = f"{prefix}diff"
    create_on_both(brokers, topic, 8)
    source = [rec(i, p) for p in range(8) for i in range(N)]
    changes = {
        0: (2 * CHECKPOINT_EVERY + 10, {"value": b"changed"}),
        1: (0, {"key": b"other"}),
        2: (CHECKPOINT_EVERY - 1, {"headers": [("h", b"x")]}),
        3: (CHECKPOINT_EVERY, {"timestamp": 5}),
    }
    target = []
    for p in range(8):
        for i in range(N):
            if p == 4 and i == N - 1:
                continue  # the last record missing on the target
            change = changes.get(p)
            target.append(rec(i, p, **change[1]) if change and change[0] == i else rec(i, p))
        if p == 5:
            target.append(rec(N, p))  # an extra record on the target
    produce(brokers.source, topic, source)
    produce(brokers.target, topic, target)
    src, tgt = clusters(brokers)
    ranges = [PartitionRange(topic, p) for p in range(8)]

    with counted_reads() as calls:
        results = verify(src, tgt, ranges, workers=1)

    assert calls == {"read": 0, "raw_reader": 4}
    assert [r.match for r in results] == [False] * 6 + [True] * 2
    for r, rng in zip(results, ranges, strict=True):
        oracle = compare_partition(src, tgt, rng)
        assert r.first_difference == oracle.first_difference, r.partition
        assert (r.source.digest, r.target.digest) == (oracle.source.digest, oracle.target.digest)
    assert results[0].first_difference == {
        "source_offset": 2 * CHECKPOINT_EVERY + 10,
        "target_offset": 2 * CHECKPOINT_EVERY + 10,
        "reason": "value differs",
    }


def test_first_differences_through_an_offset_map_match_the_aligned_comparison(
    brokers: Brokers, prefix: str
) -> None:
    """Through an offset map (target offsets shifted by another writer's
    records): a changed copy and copies the map lists but the target lacks are
    named as the record-by-record aligned comparison names them.  This one
    passes on main too, where the names came from that comparison itself (one
    re-read per partition); it guards the new way of finding them."""
    topic = f"{prefix}aligned"
    create_on_both(brokers, topic, 2)
    produce(brokers.source, topic, [rec(i, p) for p in range(2) for i in range(N)])
    foreign = [rec(10_000 + i, p, value=b"other writer") for p in range(2) for i in range(5)]
    copies = [rec(i, 0, value=b"changed") if i == N - 7 else rec(i, 0) for i in range(N)] + [
        rec(i, 1) for i in range(N - 300)
    ]
    produce(brokers.target, topic, foreign)
    produce(brokers.target, topic, copies)
    src, tgt = clusters(brokers)
    ranges = []
    for p in range(2):
        m = PartitionMap.from_json(
            {
                "topic": topic,
                "partition": p,
                "source_start": 0,
                "target_start": 5,
                "source_position": N,
                "target_position": 5 + N,
                "runs": [[0, 5, N]],
            }
        )
        ranges.append(PartitionRange(topic, p, 0, N, 5, 5 + N, m))

    results = verify(src, tgt, ranges, workers=1)

    for r, rng in zip(results, ranges, strict=True):
        oracle = compare_aligned(src, tgt, rng, True)
        assert r.first_difference == oracle.first_difference
        assert r.foreign_target_records == oracle.foreign_target_records
    assert results[0].first_difference == {
        "source_offset": N - 7,
        "target_offset": N - 2,
        "reason": "value differs",
    }
    assert results[1].first_difference == {
        "source_offset": N - 300,
        "target_offset": N - 295,
        "reason": "missing on target",
    }


def test_digest_reads_tick_progress_as_they_count(brokers: Brokers, prefix: str) -> None:
    """The digest read reports records as it counts them (every checkpoint, the
    rest at the end), so verify's bar moves during the work.  On main the bar
    moved only once every partition was compared (summarize_side took no tick)."""
    topic = f"{prefix}ticks"
    create_topic(brokers.source, topic, 1)
    produce(brokers.source, topic, [rec(i, 0) for i in range(N)])
    ticks: list[int] = []

    summarize_side(clusters(brokers)[0], [(topic, 0, -2)], {}, None, ticks.append)

    assert ticks == [CHECKPOINT_EVERY, CHECKPOINT_EVERY, N - 2 * CHECKPOINT_EVERY]


def test_verify_bar_has_the_real_total_and_counts_one_side(
    brokers: Brokers, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar's total is the source records to read (not 1), its final count
    is the source's records, as the "all partitions match (N records)" line
    counts.  On main the total was 0 (drawn ``2000/1``) and the count both
    sides' records (twice the other line's)."""
    topic = f"{prefix}bar"
    create_on_both(brokers, topic, 3)
    records = [rec(i, i % 3) for i in range(300)]
    produce(brokers.source, topic, records)
    produce(brokers.target, topic, records)
    bars: list[tuple[Any, bool]] = []
    from kmigrate.ui import UI

    progress = UI.progress

    @contextmanager
    def spy(self: UI, total: int, label: str, **kw: Any) -> Iterator[Any]:
        with progress(self, total, label, **kw) as bar:
            bars.append((bar, kw.get("estimate", False)))
            yield bar

    monkeypatch.setattr(UI, "progress", spy)

    result = CliRunner().invoke(
        cli,
        ["verify", *source_and_target(brokers), "--topic", topic],
    )

    assert result.exit_code == 0, result.output
    for thread in threading.enumerate():  # the total is refined beside the work
        if thread.name == "kmigrate-verify-total":
            thread.join(30)
    [(bar, estimated)] = bars
    assert (getattr(bar, "total", 0), estimated) == (300, True)
    assert "verify: 300 records" in result.output
    assert "all 3 partitions match (300 records)" in result.output

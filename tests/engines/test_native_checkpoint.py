"""The copy's periodic checkpoint maps what the target confirmed, without waiting
for the records still in flight (issue 17: a flush at every checkpoint emptied the
producer's pipeline; with one partition it took 12 % of a mirror's wall time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.engines.base import CopyJob, CopyResult, FollowSpec
from kmigrate.engines.native import NativeEngine
from kmigrate.offsets.map import OffsetMap
from tests.conftest import Brokers, create_topic, produce, read_all
from tests.support.tcp_proxy import ProxiedBroker, proxied_broker

RECORDS = 30_000


class _Quiet:
    """A progress bar that draws nothing."""

    def advance(self, records: int, nbytes: int) -> None:
        """Nothing to draw."""

    def show(self, text: str) -> None:
        """Nothing to draw."""


@pytest.fixture
def slow_target(tmp_path: Path) -> Iterator[ProxiedBroker]:
    """A target of this test's own behind a proxy that holds every chunk 20 ms."""
    with proxied_broker("target", tmp_path / "brokers") as broker:
        yield broker


def test_a_periodic_checkpoint_maps_only_confirmed_records_and_does_not_wait_for_the_rest(
    brokers: Brokers, slow_target: ProxiedBroker, prefix: str, tmp_path: Path
) -> None:
    """Every 3,000 records read the copy saves its map.  Each save maps no more
    records than the target holds at that moment (only confirmed copies), and
    at least one save maps fewer records than were read (it did not flush the
    producer first: the proxy holds every answer 20 ms, so the records read
    just before the save cannot be confirmed yet); the last save maps all
    30,000, which the target holds in order.  Before the change every periodic
    save flushed first and mapped every record read, so the second assertion
    failed."""
    topic = f"{prefix}ckpt"
    create_topic(brokers.source, topic, 1)
    target = KafkaCluster("target", slow_target.bootstrap)
    assert target.create_topics([(topic, 1, 1, {})])[0].status == "created"
    produce(
        brokers.source,
        topic,
        [{"key": b"k%05d" % i, "value": b"v" * 200, "partition": 0} for i in range(RECORDS)],
    )
    omap = OffsetMap(tmp_path / "offset-map.json")
    omap.begin(topic, 0, 0, 0)
    saves: list[tuple[int, int, int]] = []  # (mapped, read, held by the target)

    def on_checkpoint(result: CopyResult) -> None:
        part = omap.get(topic, 0)
        assert part is not None
        held = target.watermark_offsets([(topic, 0)], read_end=True)[(topic, 0)][1]
        saves.append((part.records, result.per_partition[(topic, 0)][0], held))

    slow_target.proxy.delay(0.02)
    job = CopyJob(
        source=KafkaCluster("source", brokers.source),
        target=target,
        offset_map=omap,
        partitions=[(topic, 0)],
        target_next={(topic, 0): 0},
        follow=FollowSpec(),
        progress=_Quiet(),  # type: ignore[arg-type]
        on_checkpoint=on_checkpoint,
        checkpoint_s=60.0,
        checkpoint_records=3_000,
    )
    result = NativeEngine().copy(job)
    slow_target.proxy.delay(0)

    assert result.records == RECORDS
    periodic, last = saves[:-1], saves[-1]
    assert periodic, "no periodic checkpoint ran"
    assert all(mapped <= held for mapped, _read, held in saves), saves
    assert any(mapped < read for mapped, read, _held in periodic), saves
    assert last[0] == RECORDS, saves
    part = OffsetMap.load(tmp_path).get(topic, 0)
    assert part is not None and part.records == RECORDS
    assert [(r.source_start, r.target_start, r.length) for r in part.runs] == [(0, 0, RECORDS)]
    copied = read_all(slow_target.bootstrap, topic, 1)
    assert [(r.offset, r.key) for r in copied] == [(i, b"k%05d" % i) for i in range(RECORDS)]

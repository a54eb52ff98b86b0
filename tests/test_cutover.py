"""Follow mode, crash-exact resume, the offset map, retention race, lost ranges.

Against the two real local brokers; what the target holds is read back with a
plain confluent_kafka consumer written here (not kmigrate's reader).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.cli import cli
from kmigrate.clusters.port import PartitionEnd, Record
from kmigrate.engines.base import FollowSpec
from kmigrate.errors import OffsetOutOfRange, RecordsLost
from kmigrate.offsets.map import OffsetMap, OffsetRun
from kmigrate.steps.base import StepContext
from kmigrate.steps.mirror import mirror
from kmigrate.ui import UI
from tests.conftest import STANDARD_PHASES, Brokers, create_topic, produce, write_plan
from tests.support.live_producer import LiveProducer

Row = tuple[int, int, bytes | None, bytes | None, tuple[Any, ...], int]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def plain_read(bootstrap: str, topic: str, partitions: int) -> dict[int, list[Row]]:
    """Every record per partition, read by a plain consumer: (partition, offset, key,
    value, headers, timestamp)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "test-plain-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, -2) for p in range(partitions)])
    out: dict[int, list[Row]] = {p: [] for p in range(partitions)}
    done: set[int] = set()
    deadline = time.monotonic() + 60
    try:
        while len(done) < partitions and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.2):
                err = msg.error()
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, err
                    done.add(msg.partition())
                    continue
                out[msg.partition()].append(
                    (
                        msg.partition(),
                        msg.offset(),
                        msg.key(),
                        msg.value(),
                        tuple(msg.headers() or ()),
                        msg.timestamp()[1],
                    )
                )
    finally:
        consumer.close()
    assert len(done) == partitions, "plain reader did not reach the end"
    return out


def contents(rows: dict[int, list[Row]]) -> dict[int, list[tuple[Any, ...]]]:
    """Per partition, the records without their offsets (what a copy must keep)."""
    return {p: [r[2:] for r in recs] for p, recs in rows.items()}


def test_follow_copies_records_produced_during_the_mirror(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}follow"
    create_topic(brokers.source, topic, 3)
    create_topic(brokers.target, topic, 3)
    feeder = LiveProducer(brokers.source, topic, [0, 1, 2], 15_000, 5_000)
    feeder.start()
    while feeder.sent < 1_000:
        time.sleep(0.01)
    ui = UI(json_mode=True)
    ctx = StepContext(
        KafkaCluster("source", brokers.source), KafkaCluster("target", brokers.target), ui
    )
    ctx.state_dir = tmp_path / "state"

    record = mirror(ctx, [topic], follow=FollowSpec("follow", "caught-up", settle_s=2.0))

    feeder.join()
    assert record.ended == "caught up (lag 0 held for 2 s)"
    assert record.lag == {topic: {"records": 0, "seconds": 0.0}}
    source = plain_read(brokers.source, topic, 3)
    assert sum(len(r) for r in source.values()) == 15_000
    assert plain_read(brokers.target, topic, 3) == source  # same offsets, too: no gaps here
    assert OffsetMap.load(ctx.state_dir).runs(topic, 0) == [OffsetRun(0, 0, 5_000)]


def _target_count(target: KafkaCluster, topic: str, partitions: int) -> int:
    marks = target.watermark_offsets([(topic, p) for p in range(partitions)])
    return sum(high for _low, high in marks.values())


def _mirror_proc(brokers: Brokers, topic: str, state: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kmigrate",
            "mirror",
            "--source",
            brokers.source,
            "--target",
            brokers.target,
            "--topic",
            topic,
            "--state-dir",
            str(state),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_kill_9_of_a_following_mirror_at_six_points_loses_and_duplicates_nothing(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """SIGKILL a following ``kmigrate mirror --follow`` six times while a producer
    runs, at six different times after start (0.5 s: while it starts; later: while
    it catches up or follows; the map is saved every second, so a kill mostly lands
    with copies on the target that the map does not list yet).  Each re-run resumes."""
    topic = f"{prefix}kill"
    create_topic(brokers.source, topic, 3)
    create_topic(brokers.target, topic, 3)
    target = KafkaCluster("target", brokers.target)
    state = tmp_path / "state"
    feeder = LiveProducer(brokers.source, topic, [0, 1, 2], 60_000, 4_000)
    feeder.start()
    kills = []
    for delay in (0.5, 1.3, 1.9, 2.6, 3.4, 2.2):
        proc = _mirror_proc(brokers, topic, state, "--follow", "--until", "stopped")
        try:
            time.sleep(delay)
            assert proc.poll() is None, proc.communicate()[0]
            proc.send_signal(signal.SIGKILL)
            kills.append(_target_count(target, topic, 3))
        finally:
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
    feeder.join()
    final = _mirror_proc(brokers, topic, state, "--follow", "--settle-s", "1")
    out = final.communicate(timeout=180)[0]
    assert final.returncode == 0, out
    assert "resuming:" in out
    source = plain_read(brokers.source, topic, 3)
    assert sum(len(r) for r in source.values()) == 60_000
    assert plain_read(brokers.target, topic, 3) == source, f"killed at target sizes {kills}"


def _transactional_produce(bootstrap: str, topic: str, txns: int, size: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{topic}"})
    producer.init_transactions(30)
    n = 0
    for _ in range(txns):
        producer.begin_transaction()
        for _ in range(size):
            producer.produce(topic, key=f"k{n}".encode(), value=f"v{n}".encode(), partition=0)
            n += 1
        producer.commit_transaction(30)


def test_a_transactional_source_maps_around_commit_markers_and_verifies(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """sandbox-broker.md fact 6: each commit leaves a marker offset, so source
    offsets 0-4, 6-10, 12-16 land at target offsets 0-14."""
    topic = f"{prefix}txn"
    create_topic(brokers.source, topic, 1)
    _transactional_produce(brokers.source, topic, 3, 5)
    assert [r[1] for r in plain_read(brokers.source, topic, 1)[0]] == [
        *range(5),
        *range(6, 11),
        *range(12, 17),
    ]
    plan = write_plan(tmp_path, brokers, [topic], STANDARD_PHASES)
    for phase in ("1", "2"):
        assert run("execute", str(plan), "--phase", phase).exit_code == 0

    result = run("execute", str(plan), "--phase", "3")

    assert result.exit_code == 0, result.output
    assert "all 1 partitions match (15 records)" in result.output
    omap = OffsetMap.load(tmp_path / "state")
    assert omap.runs(topic, 0) == [OffsetRun(0, 0, 5), OffsetRun(6, 5, 5), OffsetRun(12, 10, 5)]
    assert omap.source_position(topic, 0) == 18  # past the last commit marker
    assert omap.to_target(topic, 0, 13) == 11
    status = run("status", str(plan), "--output", "json").stdout
    assert json.loads(status)["offset_map"]["partitions"][0]["runs"] == [
        [0, 0, 5],
        [6, 5, 5],
        [12, 10, 5],
    ]
    assert "1 partitions, 15 records in 3 runs" in run("status", str(plan)).output


def test_verify_aligns_through_the_map_after_append(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Foreign records first on the target (append: true) and marker gaps on the
    source: the plan's verify pairs records through the map and passes; a
    whole-partition verify (no map) pairs the n-th with the n-th and fails."""
    topic = f"{prefix}aligned"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    _transactional_produce(brokers.source, topic, 2, 4)
    produce(brokers.target, topic, [{"value": b"foreign", "partition": 0} for _ in range(3)])
    plan = write_plan(
        tmp_path,
        brokers,
        [topic],
        STANDARD_PHASES.replace("- action: mirror", "- action: mirror\n        append: true"),
    )
    for phase in ("1", "2"):
        assert run("execute", str(plan), "--phase", phase).exit_code == 0

    result = run("execute", str(plan), "--phase", "3")

    assert result.exit_code == 0, result.output
    assert "all 1 partitions match (8 records)" in result.output
    report = json.loads((tmp_path / "state" / "reports" / "verify.json").read_text())
    assert report["partitions"][0]["foreign_target_records"] == 0  # before target_start
    whole = run("verify", "--source", brokers.source, "--target", brokers.target, "--topic", topic)
    assert whole.exit_code == 1


def _delete_records(bootstrap: str, topic: str, partition: int, before: int) -> None:
    """DeleteRecords: the log start offset of ``topic[partition]`` moves to ``before``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.delete_records([TopicPartition(topic, partition, before)]).values():
        fut.result()


@pytest.fixture
def delete_records(brokers: Brokers) -> None:
    """Skips on Tansu: it has no DeleteRecords (sandbox-broker.md fact 7), so a log
    start offset above 0 cannot be made there; these tests run on Apache Kafka."""
    if not brokers.real:
        pytest.skip("Tansu has no DeleteRecords (sandbox-broker.md fact 7); --broker apache-kafka")


@pytest.mark.usefixtures("delete_records")
def test_a_source_log_start_above_zero_maps_verifies_and_translates(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Log start 10 (DeleteRecords) of 20 records: the mirror copies 10-19 to target
    0-9, verify compares those, and groups translate: one committed below the log
    start (at deleted records) resumes at the first copied record, one at 15 at the
    copy of 15; each consumer then reads on the target what it would read on the source."""
    from tests.test_translate_offsets import commit, committed

    topic = f"{prefix}lso"
    create_topic(brokers.source, topic, 1)
    produce(brokers.source, topic, [{"value": f"{i}".encode(), "partition": 0} for i in range(20)])
    _delete_records(brokers.source, topic, 0, 10)
    commit(brokers.source, f"{prefix}below", {(topic, 0): 5})
    commit(brokers.source, f"{prefix}inside", {(topic, 0): 15})
    plan = write_plan(
        tmp_path,
        brokers,
        [topic],
        STANDARD_PHASES
        + f"""\
  - name: translate
    steps:
      - action: translate-offsets
        groups: {{include: ["{prefix}*"]}}
""",
    )
    for phase in ("1", "2"):
        assert run("execute", str(plan), "--phase", phase).exit_code == 0

    result = run("execute", str(plan), "--phase", "3")

    assert result.exit_code == 0, result.output
    assert "all 1 partitions match (10 records)" in result.output
    assert OffsetMap.load(tmp_path / "state").runs(topic, 0) == [OffsetRun(10, 0, 10)]
    assert [r[3] for r in plain_read(brokers.target, topic, 1)[0]] == [
        f"{i}".encode() for i in range(10, 20)
    ]

    translated = run("execute", str(plan), "--phase", "4")

    assert translated.exit_code == 0, translated.output
    assert committed(brokers.target, f"{prefix}below") == {(topic, 0): 0}
    assert committed(brokers.target, f"{prefix}inside") == {(topic, 0): 5}


@pytest.mark.usefixtures("delete_records")
def test_a_resume_after_delete_records_passed_uncopied_records_stops_with_the_range(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The lost-range exit on a real log start offset: 10 records copied, 10 more
    written, then the log start moves to 15 before the next run (as retention would):
    the mirror stops with exit 1 naming [10, 15) and writes nothing."""
    topic = f"{prefix}gone"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    produce(brokers.source, topic, [{"value": b"a", "partition": 0} for _ in range(10)])
    args = ("mirror", "--source", brokers.source, "--target", brokers.target, "--topic", topic)
    state = ("--state-dir", str(tmp_path / "state"))
    assert run(*args, *state).exit_code == 0
    produce(brokers.source, topic, [{"value": b"b", "partition": 0} for _ in range(10)])
    _delete_records(brokers.source, topic, 0, 15)

    result = run(*args, *state)

    assert result.exit_code == 1, result.output
    assert (
        "source records were deleted before they were copied (the log start offset passed "
        f"the mirror's position, e.g. by retention): {topic}[0] source offsets [10, 15); "
        "they cannot be copied any more"
    ) in result.output
    assert len(plain_read(brokers.target, topic, 1)[0]) == 10  # nothing written


def test_append_resume_after_kill_9_skips_no_copy_and_takes_no_foreign_record(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Foreign records before the copy and more written between the kill and the
    resume: afterwards the target holds every source record once, in order, and
    exactly the foreign records around them."""
    topic = f"{prefix}appendkill"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    total = 120_000
    produce(
        brokers.source,
        topic,
        [{"key": f"k{i}".encode(), "value": b"x" * 100, "partition": 0} for i in range(total)],
    )
    foreign = [{"value": b"foreign", "headers": [("by", b"other")], "partition": 0}]
    produce(brokers.target, topic, foreign * 5)
    target = KafkaCluster("target", brokers.target)
    state = tmp_path / "state"
    proc = _mirror_proc(brokers, topic, state, "--append")
    try:
        deadline = time.monotonic() + 60
        while _target_count(target, topic, 1) < 20_000 and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        if proc.poll() is not None:
            pytest.skip("the mirror finished before it could be killed")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    produce(brokers.target, topic, foreign * 3)  # another writer, after the crash

    again = _mirror_proc(brokers, topic, state, "--append")
    out = again.communicate(timeout=120)[0]

    assert again.returncode == 0, out
    assert "3 records on the target's tail are not copies" in out
    rows = plain_read(brokers.target, topic, 1)[0]
    theirs = [r for r in rows if r[3] == b"foreign"]
    ours = [r[2:] for r in rows if r[3] != b"foreign"]
    assert len(theirs) == 8
    assert ours == [r[2:] for r in plain_read(brokers.source, topic, 1)[0]]


def test_target_data_lost_after_the_map_says_copied_stops_with_the_range(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """As after a target broker restarted empty (sandbox-broker.md fact 9): the
    topic is deleted and created again, empty; the re-run must not report success."""
    topic = f"{prefix}lost"
    create_topic(brokers.source, topic, 2)
    create_topic(brokers.target, topic, 2)
    produce(brokers.source, topic, [{"value": b"v", "partition": i % 2} for i in range(10)])
    args = ("mirror", "--source", brokers.source, "--target", brokers.target, "--topic", topic)
    state = ("--state-dir", str(tmp_path / "state"))
    assert run(*args, *state).exit_code == 0
    admin = AdminClient({"bootstrap.servers": brokers.target})
    admin.delete_topics([topic])[topic].result()
    time.sleep(0.5)
    create_topic(brokers.target, topic, 2)

    result = run(*args, *state)

    assert result.exit_code == 1
    assert (
        f"the target no longer holds records the offset map says were copied: {topic}[0] "
        f"target offsets [0, 5), {topic}[1] target offsets [0, 5)"
    ) in result.output


def test_a_record_close_to_retention_ms_is_warned_about(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}old"
    create_topic(brokers.source, topic, 1, {"retention.ms": "60000"})
    create_topic(brokers.target, topic, 1)
    old = int(time.time() * 1000) - 55_000
    produce(brokers.source, topic, [{"value": b"v", "partition": 0, "timestamp": old}])
    args = ("mirror", "--source", brokers.source, "--target", brokers.target, "--topic", topic)

    result = run(*args, "--state-dir", str(tmp_path / "state"))

    assert result.exit_code == 0, result.output
    assert f"warning: {topic}[0]: the oldest record not yet copied (offset 0) is 5" in result.output
    assert "of retention.ms 60000 (60 s): retention may delete it before it is copied" in (
        result.output
    )


def test_a_partition_close_to_retention_bytes_is_warned_about(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """10 records of 100 bytes against retention.bytes 1000: the estimate (records in
    the log times the size of the oldest unread record) is at 100 % of the limit."""
    topic = f"{prefix}big"
    create_topic(brokers.source, topic, 1, {"retention.bytes": "1000"})
    create_topic(brokers.target, topic, 1)
    for _ in range(10):  # one batch each: the sandbox's ListOffsets counts batches right
        produce(brokers.source, topic, [{"value": b"x" * 100, "partition": 0}])
    args = ("mirror", "--source", brokers.source, "--target", brokers.target, "--topic", topic)

    result = run(*args, "--state-dir", str(tmp_path / "state"))

    assert result.exit_code == 0, result.output
    assert (
        f"warning: {topic}[0]: about 1,000 bytes in the log, 100% of retention.bytes 1000: "
        "retention may delete the oldest records (from offset 0) before they are copied"
    ) in result.output


class MovedLogStart(KafkaCluster):
    """The real source, but ListOffsets reports the log start offset at ``low``,
    as after retention deleted records while no mirror ran (the sandbox broker
    cannot delete records: sandbox-broker.md fact 7)."""

    low: int = 0

    def watermark_offsets(
        self, partitions: Any, *, read_end: bool = False
    ) -> dict[tuple[str, int], tuple[int, int]]:
        real = super().watermark_offsets(partitions, read_end=read_end)
        return {tp: (max(low, self.low), high) for tp, (low, high) in real.items()}


def test_a_resume_after_retention_deleted_uncopied_records_stops_with_the_range(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}gone"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    produce(brokers.source, topic, [{"value": b"a", "partition": 0} for _ in range(10)])
    target = KafkaCluster("target", brokers.target)
    ctx = StepContext(KafkaCluster("source", brokers.source), target, UI(json_mode=True))
    ctx.state_dir = tmp_path / "state"
    mirror(ctx, [topic])
    produce(brokers.source, topic, [{"value": b"b", "partition": 0} for _ in range(10)])
    moved = MovedLogStart("source", brokers.source)
    moved.low = 15
    ctx.source = moved

    with pytest.raises(RecordsLost) as info:
        mirror(ctx, [topic])

    assert (
        "source records were deleted before they were copied (the log start offset passed "
        f"the mirror's position, e.g. by retention): {topic}[0] source offsets [10, 15); "
        "they cannot be copied any more"
    ) == str(info.value)
    assert len(plain_read(brokers.target, topic, 1)[0]) == 10  # nothing written


class RetentionRace(KafkaCluster):
    """The real source, except that after ``after`` records of ``topic`` the log start
    offset jumps to ``new_start`` and the reader gets the out-of-range error, as
    librdkafka reports it (``auto.offset.reset=error``) when retention deletes the
    records at the fetch position.  The sandbox broker neither runs retention on
    demand nor answers OFFSET_OUT_OF_RANGE (see test_standalone_commands), so the
    race is simulated at the reader boundary; everything else is the real broker."""

    after: int = 0
    new_start: int = 0
    raced: bool = False

    def read(self, starts: Any, **kwargs: Any) -> Iterator[Record | PartitionEnd]:
        seen = 0
        for item in super().read(starts, **kwargs):
            if isinstance(item, Record):
                if seen == self.after:
                    self.raced = True
                    raise OffsetOutOfRange("simulated", item.topic, item.partition, item.offset)
                seen += 1
            yield item

    def raw_reader(self, starts: Any, **kwargs: Any) -> Any:
        """The mirror's fast reader, with the same race after ``after`` records."""
        return _RacingReader(super().raw_reader(starts, **kwargs), self)

    def watermark_offsets(
        self, partitions: Any, *, read_end: bool = False
    ) -> dict[tuple[str, int], tuple[int, int]]:
        real = super().watermark_offsets(partitions, read_end=read_end)
        return {
            tp: ((self.new_start if self.raced else low), high) for tp, (low, high) in real.items()
        }


class _RacingReader:
    """A RawReader that hands out ``race.after`` records, then raises the
    out-of-range error the next read would get once retention passed it."""

    def __init__(self, inner: Any, race: RetentionRace) -> None:
        self.inner, self.race, self.seen = inner, race, 0
        self.position: tuple[str, int, int] | None = None

    def __enter__(self) -> _RacingReader:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def consume(self, timeout_s: float = 0.05) -> list[Any]:
        if self.position is not None:
            self.race.raced = True
            raise OffsetOutOfRange("simulated", *self.position)
        out = []
        for msg in self.inner.consume(timeout_s):
            if msg.error() is None:
                if self.seen == self.race.after:
                    self.position = (msg.topic(), msg.partition(), msg.offset())
                    break
                self.seen += 1
            out.append(msg)
        return out


def test_the_log_start_passing_the_copy_position_stops_with_the_lost_range(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}race"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    produce(brokers.source, topic, [{"value": f"{i}".encode(), "partition": 0} for i in range(50)])
    source = RetentionRace("source", brokers.source)
    source.after, source.new_start = 30, 42
    journaled: list[dict[str, Any]] = []
    ctx = StepContext(source, KafkaCluster("target", brokers.target), UI(json_mode=True))
    ctx.state_dir = tmp_path / "state"
    ctx.checkpoint = journaled.append

    with pytest.raises(RecordsLost) as info:
        mirror(ctx, [topic])

    assert (
        f"source records lost before they were copied: {topic}[0] offsets [30, 42) were "
        "deleted from the source"
    ) in str(info.value)
    assert journaled[-1]["lost"] == [
        {"side": "source", "topic": topic, "partition": 0, "start": 30, "end": 42}
    ]
    assert OffsetMap.load(ctx.state_dir).runs(topic, 0) == [OffsetRun(0, 0, 30)]
    assert [r[3] for r in plain_read(brokers.target, topic, 1)[0]] == [
        f"{i}".encode() for i in range(30)
    ]


def test_sigterm_stops_a_following_mirror_cleanly_and_a_rerun_resumes(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """``until: stopped`` in a plan: SIGTERM gives exit 0, the mirror step is
    journaled succeeded, "stopped by operator", the phase stops there naming
    its remaining step, and ``--rerun mirror`` resumes the copy."""
    topic = f"{prefix}stop"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"value": b"v", "partition": i % 2} for i in range(1000)])
    phases = STANDARD_PHASES.replace(
        "- action: mirror", "- action: mirror\n        mode: follow\n        until: stopped"
    )
    plan = write_plan(tmp_path, brokers, [topic], phases)
    for phase in ("1", "2"):
        assert run("execute", str(plan), "--phase", phase).exit_code == 0
    target = KafkaCluster("target", brokers.target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kmigrate", "execute", str(plan), "--phase", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while _target_count(target, topic, 2) < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    produce(brokers.source, topic, [{"value": b"w", "partition": i % 2} for i in range(10)])
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)[0]

    assert proc.returncode == 0, out
    assert "mirror stopped by operator (SIGTERM)" in out
    assert "FAILED" not in out  # a requested stop is reported as a stop, not a failure
    assert "again for its remaining steps (verify)" in out
    steps = json.loads(run("status", str(plan), "--output", "json").stdout)["steps"]
    mirror_step = next(s for s in steps if s["description"].startswith("mirror"))
    assert (mirror_step["status"], mirror_step["error"]) == ("succeeded", None)
    assert mirror_step["record"]["ended"] == "stopped by operator (SIGTERM)"
    produce(brokers.source, topic, [{"value": b"z", "partition": i % 2} for i in range(10)])

    (tmp_path / "plan.yaml").write_text(
        (tmp_path / "plan.yaml").read_text().replace("until: stopped", "settle_s: 1")
    )
    again = run("execute", str(plan), "--phase", "3", "--rerun", "mirror")

    assert again.exit_code == 0, again.output
    assert "resuming: 1,010 records are already on the target and are kept" in again.output
    assert "all 2 partitions match (1,020 records)" in again.output


def test_max_duration_ends_a_follow(brokers: Brokers, prefix: str, tmp_path: Path) -> None:
    topic = f"{prefix}maxdur"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    ctx = StepContext(
        KafkaCluster("source", brokers.source), KafkaCluster("target", brokers.target), UI()
    )
    ctx.state_dir = tmp_path
    t0 = time.monotonic()

    record = mirror(ctx, [topic], follow=FollowSpec("follow", "stopped", max_duration_s=1.5))

    assert record.ended == "max_duration reached (1.5 s)"
    assert 1.5 <= time.monotonic() - t0 < 15
    assert os.path.exists(tmp_path / "offset-map.json")


def test_follow_options_without_follow_are_a_usage_error() -> None:
    result = run(
        "mirror", "--source", "127.0.0.1:1", "--target", "127.0.0.1:2", "--until", "stopped"
    )
    assert result.exit_code == 2
    assert "usage error: only with --follow: --until" in result.output


def test_without_a_terminal_the_lag_is_written_as_lines_now_and_then() -> None:
    """A following mirror whose output goes to a log (no progress bar) still
    reports its lag, at most every ``echo_every_s`` seconds."""
    import io

    out = io.StringIO()
    with UI(out=out).progress(10, "mirror") as bar:
        bar.echo_every_s = 0.0
        bar.advance(3, 30)
        bar.show("lag: orders 7 records, 0.5 s")
        bar.echo_every_s = 3600.0
        bar.show("lag: orders 0 records, 0.0 s")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("mirror: 3 records, 30 B, ")
    assert lines[0].endswith("rec/s; lag: orders 7 records, 0.5 s")
    assert len(lines) == 2  # the throttled second note only in the closing line
    assert lines[1].endswith("; lag: orders 0 records, 0.0 s")

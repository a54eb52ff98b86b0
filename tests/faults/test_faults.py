"""Faults a migration meets, on real local brokers behind the tests' own TCP proxy.

Every broker here is a dedicated Tansu that advertises a proxy's address
(tests/support/tcp_proxy.py), so the tests can cut every connection, delay
traffic, or crash and restart the broker behind the same address while a
``kmigrate`` subprocess runs.  What is judged is read with an independent
client (plain confluent-kafka Consumer, tests/support/faults.py), not with
kmigrate's adapter.
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.clusters.port import Record
from kmigrate.errors import ClusterError
from tests.conftest import (
    MIRROR_THEN_VERIFY,
    Brokers,
    create_topic,
    produce,
    source_and_target,
    write_plan,
)
from tests.support.faults import (
    independent_read,
    kmigrate,
    start_kmigrate,
    status_steps,
    step_named,
    topic_partitions,
    without_offsets,
)
from tests.support.tcp_proxy import ProxiedBroker, TcpProxy, proxied_broker, proxied_pair

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxiedBroker, ...]]:
    """A source and a target broker, each reachable only through its own proxy."""
    with proxied_pair(tmp_path_factory.mktemp("proxied")) as brokers:
        yield brokers


def seed(bootstrap: str, prefix: str, records: int) -> list[str]:
    """Two topics: 3 partitions of keyed records with headers, and 1 partition
    with null and empty values.  Returns their names."""
    big, odd = f"{prefix}orders", f"{prefix}odd"
    create_topic(bootstrap, big, 3)
    create_topic(bootstrap, odd, 1)
    produce(
        bootstrap,
        big,
        [
            {
                "key": f"k{i}".encode(),
                "value": f"order-{i}-".encode() * 12,
                "partition": i % 3,
                "timestamp": 1_700_000_000_000 + i,
                "headers": [("seq", str(i).encode()), ("seq", None)],
            }
            for i in range(records)
        ],
    )
    produce(
        bootstrap,
        odd,
        [
            {"key": None if i % 3 else b"k", "value": None if i % 2 else b"", "partition": 0}
            for i in range(500)
        ],
    )
    return [big, odd]


def assert_clean(done: subprocess.CompletedProcess[str] | tuple[int, str]) -> tuple[int, str]:
    """Exit 0 or 1 with a message, never an internal error or a traceback."""
    if isinstance(done, tuple):
        code, out = done
    else:
        code, out = done.returncode, done.stdout + done.stderr
    assert code in (0, 1), out
    assert "internal error" not in out and "Traceback" not in out, out
    return code, out


def until_success(plan: Path, phase: str, attempts: int = 4) -> str:
    """Re-run ``execute --phase`` until it succeeds; each attempt ends cleanly."""
    out = ""
    for _ in range(attempts):
        code, out = assert_clean(kmigrate("execute", str(plan), "--phase", phase, cwd=plan.parent))
        if code == 0:
            return out
    raise AssertionError(f"phase {phase} did not succeed in {attempts} attempts:\n{out}")


def assert_copied(source: str, target: str, topics: list[str]) -> None:
    """Target equals source per partition (key, value, headers, timestamp, order),
    and target offsets run 0..n-1: nothing lost, duplicated or reordered."""
    for topic in topics:
        src, tgt = independent_read(source, topic), independent_read(target, topic)
        assert without_offsets(tgt) == without_offsets(src), topic
        for rows in tgt.values():
            assert [r[0] for r in rows] == list(range(len(rows)))


def with_chaos(
    proc: subprocess.Popen[str], proxies: list[TcpProxy], cuts: int, rng: random.Random
) -> tuple[int, str, int]:
    """Cut all connections of a random proxy ``cuts`` times (while kmigrate has
    connections open), with traffic delayed 1-5 ms per chunk; returns
    ``(exit code, output, cuts that closed live connections)``."""
    done = {"cuts": 0}

    def chaos() -> None:
        for proxy in proxies:
            proxy.delay(rng.choice([0.001, 0.003, 0.005]))
        while done["cuts"] < cuts and proc.poll() is None:
            proxy = rng.choice(proxies)
            if proxy.open_connections == 0:
                time.sleep(0.01)
                continue
            time.sleep(rng.uniform(0.05, 0.25))
            if proc.poll() is None and proxy.cut():
                done["cuts"] += 1
        for proxy in proxies:
            proxy.delay(0)

    thread = threading.Thread(target=chaos)
    thread.start()
    out, _ = proc.communicate(timeout=180)
    thread.join()
    return proc.returncode, out, done["cuts"]


def chaotic_phase(
    plan: Path, phase: str, proxies: list[TcpProxy], rng: random.Random, cuts: int = 3
) -> tuple[str, int]:
    """Run ``execute --phase`` under cuts and delays until ``cuts`` cuts have landed
    on live connections, re-running after each clean failure, then without faults
    until it succeeds.  Returns the last output and the cuts that landed."""
    landed = 0
    for _ in range(6):
        proc = start_kmigrate("execute", str(plan), "--phase", phase, cwd=plan.parent)
        code, out, n = with_chaos(proc, proxies, cuts - landed, rng)
        assert_clean((code, out))
        landed += n
        if code == 0:
            return out, landed
        if landed >= cuts:
            return until_success(plan, phase), landed
    raise AssertionError(f"phase {phase} did not succeed under faults:\n{out}")


def test_connections_cut_and_delayed_mid_mirror_and_mid_verify(
    proxied: tuple[ProxiedBroker, ProxiedBroker], prefix: str, tmp_path: Path
) -> None:
    """Connections to both brokers cut 3 times and delayed while mirror runs, and
    again while verify runs: each run either completes or stops with a clear
    error (exit 1) and a re-run resumes; verify ends equal; the independent
    reader finds nothing lost or duplicated."""
    source, target = proxied
    topics = seed(source.bootstrap, prefix, 60_000)
    plan = write_plan(
        tmp_path, Brokers(source.bootstrap, target.bootstrap), [f"{prefix}*"], MIRROR_THEN_VERIFY
    )
    until_success(plan, "1")
    rng = random.Random(8)
    proxies = [source.proxy, target.proxy]

    _, cuts = chaotic_phase(plan, "2", proxies, rng)
    assert cuts >= 2, f"only {cuts} cuts landed while mirror ran"
    assert_copied(source.bootstrap, target.bootstrap, topics)

    out, cuts = chaotic_phase(plan, "3", proxies, rng)
    assert cuts >= 2, f"only {cuts} cuts landed while verify ran"
    assert "all 4 partitions match (60,500 records)" in out
    assert step_named(status_steps(plan), "verify")["status"] == "succeeded"


@pytest.fixture
def own_target(tmp_path: Path) -> Iterator[ProxiedBroker]:
    """A target of this test's own (it gets restarted), behind a proxy."""
    with proxied_broker("target", tmp_path / "brokers") as broker:
        yield broker


def test_a_fatal_producer_error_is_a_clean_cluster_error(
    own_target: ProxiedBroker, prefix: str
) -> None:
    """The target broker crashes and comes back empty while records are in flight:
    the writer raises ClusterError naming the target, never SystemError from
    inside a delivery callback: either the idempotent producer's fatal error
    (UNKNOWN_PRODUCER_ID or OUT_OF_ORDER_SEQUENCE_NUMBER), or, when the writer
    reads the target's metadata first (3 s without a confirmation), the topic
    gone from the target; the confirmed counts never exceed what was queued."""
    topic = f"{prefix}w"
    target = KafkaCluster("target", own_target.bootstrap)
    assert target.create_topics([(topic, 3, 1, {})])[0].status == "created"
    errors: list[str] = []
    writer = target.writer(errors.append)
    own_target.proxy.delay(0.002)
    restarted = threading.Event()

    def crash() -> None:
        own_target.proxy.wait_bytes_up(3_000_000)
        own_target.proxy.delay(0)
        own_target.restart()
        restarted.set()

    thread = threading.Thread(target=crash)
    thread.start()
    queued = 0
    with pytest.raises(ClusterError) as info:
        for i in range(200_000):
            writer.write(topic, Record(topic, i % 3, i, b"k", b"v" * 200, [], 1_700_000_000_000))
            queued += 1
            if i % 5000 == 0:
                writer.poll()
        writer.flush(60)
    thread.join()
    assert restarted.is_set()
    message = str(info.value)
    assert message.startswith(f"target ({own_target.bootstrap}): "), message
    assert "SystemError" not in message
    assert "was the target broker restarted empty or the topic deleted?" in message, message
    if writer.fatal_error is not None:
        # librdkafka names the fatal error (UNKNOWN_PRODUCER_ID / OUT_OF_ORDER_SEQUENCE)
        # through error_cb; when the C call fails before that callback runs, the
        # writer says so instead of leaking a SystemError.
        assert "the producer stopped on a fatal error: " in message, message
        assert (
            "UNKNOWN_PRODUCER_ID" in message
            or "OUT_OF_ORDER_SEQUENCE" in message
            or "the client stopped without an error code" in message
        ), message
    else:
        assert f"records not confirmed: topic {topic} no longer exists on the target" in message
    # delivered() is a lower bound while records wait (the producer reports
    # failures only; RecordWriter._confirm): it may stay 0 for 3 partitions
    # behind a 50,000-record queue, and never exceeds what was queued.
    confirmed = [writer.delivered(topic, p) for p in range(3)]
    assert sum(confirmed) < queued
    assert all(0 <= c <= (queued + 2 - p) // 3 for p, c in enumerate(confirmed)), confirmed


def wait_for_mapped_records(path: Path, timeout_s: float = 60.0) -> None:
    """Wait until the offset map file at ``path`` lists at least one copied record."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            parts = json.loads(path.read_text())["partitions"]
        except (OSError, ValueError, KeyError):
            parts = []
        if any(p["records"] > 0 for p in parts):
            return
        time.sleep(0.05)
    raise AssertionError(f"no copied records in {path} after {timeout_s} s")


@pytest.mark.timeout(240)
def test_target_broker_restarted_mid_mirror(
    brokers: Brokers, own_target: ProxiedBroker, prefix: str, tmp_path: Path
) -> None:
    """The target broker crashes mid-mirror and comes back empty (Tansu keeps data
    in memory).

    The mirror stops within seconds with exit 1 and a message naming the target
    and saying it may have restarted empty (whichever way the client learns it:
    the idempotent producer's fatal error, the topic gone from the target's
    metadata, or a failed delivery), never exit 3 and never the 120 s flush
    timeout; the producer does not re-create the topic; the journal claims only
    records the target confirmed, and some.  A re-run must not report success on
    a target that lost what kmigrate had copied: the offset map says records
    were copied that the target no longer holds, and the re-run stops (exit 1)
    naming the lost range."""
    topic = f"{prefix}big"
    total = 200_000
    create_topic(brokers.source, topic, 3)
    produce(
        brokers.source,
        topic,
        [{"key": b"k%d" % i, "value": b"v" * 200, "partition": i % 3} for i in range(total)],
    )
    plan = write_plan(
        tmp_path, Brokers(brokers.source, own_target.bootstrap), [topic], MIRROR_THEN_VERIFY
    )
    until_success(plan, "1")
    own_target.proxy.delay(0.002)  # slow enough that the crash lands mid-mirror
    proc = start_kmigrate("execute", str(plan), "--phase", "2", cwd=tmp_path)
    own_target.proxy.wait_bytes_up(8_000_000)
    # Crash only once the offset map (checkpointed about once a second) says
    # some records were copied: those are what the re-run must miss.
    wait_for_mapped_records(tmp_path / "state" / "offset-map.json")
    assert proc.poll() is None, "the mirror ended before the crash; slow the proxy further"
    own_target.proxy.delay(0)
    own_target.restart()
    # A hang guard, not a speed check: the writer gives up after at most
    # STALL_S (15 s) without a confirmation; without it this took 120-300 s.
    out, _ = proc.communicate(timeout=90)

    assert proc.returncode == 1, out
    assert "internal error" not in out and "SystemError" not in out, out
    assert f"FAILED: mirror failed: target ({own_target.bootstrap}): " in out, out
    assert "was the target broker restarted empty" in out, out
    assert topic_partitions(own_target.bootstrap, topic) == 0, "the topic was re-created"
    mirror = step_named(status_steps(plan), "mirror")
    assert mirror["status"] == "failed"
    assert "SystemError" not in mirror["error"]
    assert "was the target broker restarted empty" in mirror["error"]
    claimed = sum(p["records"] for p in mirror["record"]["partitions"])
    assert 0 < claimed < total, "the journal claims records that were only queued"
    for p in mirror["record"]["partitions"]:
        assert p["target_end"] - p["target_start"] == p["records"]

    rerun = kmigrate("execute", str(plan), "--phase", "2", cwd=tmp_path)
    assert "internal error" not in rerun.stdout + rerun.stderr
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    assert "no longer holds records the offset map says were copied" in rerun.stderr


@pytest.mark.timeout(120)
def test_target_broker_gone_mid_mirror_fails_within_seconds(
    brokers: Brokers, own_target: ProxiedBroker, prefix: str, tmp_path: Path
) -> None:
    """The target broker dies mid-mirror and does not come back: the mirror stops
    with exit 1 naming the target, the records it could not get confirmed and
    that the target did not answer, without waiting out librdkafka's
    message.timeout.ms (300 s) or the checkpoint's 120 s flush."""
    topic = f"{prefix}gone"
    create_topic(brokers.source, topic, 2)
    produce(
        brokers.source,
        topic,
        [{"value": b"v" * 200, "partition": i % 2} for i in range(100_000)],
    )
    plan = write_plan(
        tmp_path, Brokers(brokers.source, own_target.bootstrap), [topic], MIRROR_THEN_VERIFY
    )
    until_success(plan, "1")
    own_target.proxy.delay(0.002)
    proc = start_kmigrate("execute", str(plan), "--phase", "2", cwd=tmp_path)
    own_target.proxy.wait_bytes_up(2_000_000)
    assert proc.poll() is None, "the mirror ended before the crash; slow the proxy further"
    own_target.stop()
    out, _ = proc.communicate(timeout=90)  # a hang guard: the writer gives up after 15 s

    assert proc.returncode == 1, out
    assert "internal error" not in out and "Traceback" not in out, out
    assert f"FAILED: mirror failed: target ({own_target.bootstrap}): " in out, out
    assert "records not confirmed for" in out, out
    assert "the target did not answer" in out, out
    assert step_named(status_steps(plan), "mirror")["status"] == "failed"


def test_records_for_a_topic_the_restarted_target_lost_fail_at_once(
    own_target: ProxiedBroker, prefix: str
) -> None:
    """The target restarts empty between two writes (no request in flight, so no
    fatal idempotence error): the next records fail with a ClusterError saying
    the topic no longer exists on the target; the writer does not re-create it
    (allow.auto.create.topics=false) and keeps the confirmed counts."""
    topic = f"{prefix}idle"
    target = KafkaCluster("target", own_target.bootstrap)
    assert target.create_topics([(topic, 3, 1, {})])[0].status == "created"
    errors: list[str] = []
    writer = target.writer(errors.append, [(topic, p) for p in range(3)])
    record = Record(topic, 0, 0, b"k", b"v" * 200, [], 1_700_000_000_000)
    for i in range(3_000):
        writer.write(topic, Record(topic, i % 3, i, b"k", b"v" * 200, [], 1_700_000_000_000))
    assert writer.flush(30) == 0
    own_target.restart()

    with pytest.raises(ClusterError) as info:
        for _ in range(100_000):
            writer.write(topic, record)
            writer.poll()
        writer.flush(60)
    message = str(info.value)
    assert message.startswith(f"target ({own_target.bootstrap}): "), message
    assert "was the target broker restarted empty or the topic deleted?" in message, message
    assert (
        f"topic {topic} no longer exists on the target" in message
        or "_UNKNOWN_TOPIC" in message
        or "_UNKNOWN_PARTITION" in message
    ), message
    assert [writer.delivered(topic, p) for p in range(3)] == [1_000] * 3
    assert topic_partitions(own_target.bootstrap, topic) == 0


def test_a_target_unreachable_for_seconds_then_back_loses_nothing(
    own_target: ProxiedBroker, prefix: str
) -> None:
    """Every connection to the target is cut and new ones refused for 5 s (longer
    than the writer's 3 s before it asks the target's metadata), while records
    are queued; then the target answers again: flush confirms every record,
    nothing failed, nothing was written twice."""
    topic = f"{prefix}blip"
    target = KafkaCluster("target", own_target.bootstrap)
    assert target.create_topics([(topic, 2, 1, {})])[0].status == "created"
    errors: list[str] = []
    writer = target.writer(errors.append, [(topic, 0), (topic, 1)])
    own_target.proxy.delay(0.002)

    def blip() -> None:
        own_target.proxy.wait_bytes_up(1_000_000)
        own_target.proxy.refuse(True)
        own_target.proxy.cut()
        time.sleep(5)
        own_target.proxy.delay(0)
        own_target.proxy.refuse(False)

    thread = threading.Thread(target=blip)
    thread.start()
    for i in range(60_000):
        writer.write(topic, Record(topic, i % 2, i, b"k", b"v" * 200, [], 1_700_000_000_000))
        if i % 5000 == 0:
            writer.poll()
    assert writer.flush(60) == 0
    thread.join()
    assert errors == []
    assert (writer.delivered(topic, 0), writer.delivered(topic, 1)) == (30_000, 30_000)
    assert [len(rows) for rows in independent_read(own_target.bootstrap, topic).values()] == [
        30_000,
        30_000,
    ]


def test_verify_catches_a_target_that_lost_its_records(
    brokers: Brokers, own_target: ProxiedBroker, prefix: str, tmp_path: Path
) -> None:
    """Mirror completes, then the target broker restarts empty: verify reads both
    sides, finds the counts differ, and fails (exit 1) naming the partitions."""
    topic = f"{prefix}lost"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"value": b"v%d" % i, "partition": i % 2} for i in range(400)])
    plan = write_plan(
        tmp_path, Brokers(brokers.source, own_target.bootstrap), [topic], MIRROR_THEN_VERIFY
    )
    until_success(plan, "1")
    until_success(plan, "2")
    own_target.restart()

    done = kmigrate("execute", str(plan), "--phase", "3", cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "internal error" not in out
    assert "FAILED: 2 of 2 partitions differ" in out
    report = step_named(status_steps(plan), "verify")
    assert report["status"] == "failed"


def test_the_source_stays_byte_identical_through_every_command(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Read the whole source (records with key, value, headers and timestamp; topic
    configs; every consumer group's committed offsets; the topic list) before
    and after every command, rollback included: always equal."""
    from confluent_kafka import Consumer, TopicPartition

    from tests.conftest import STANDARD_PHASES
    from tests.support.faults import source_state

    topics = seed(brokers.source, prefix, 3_000)
    group = f"{prefix}billing"
    consumer = Consumer({"bootstrap.servers": brokers.source, "group.id": group})
    consumer.commit(
        offsets=[TopicPartition(topics[0], p, 100 + p) for p in range(3)], asynchronous=False
    )
    consumer.close()
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    snapshot = tmp_path / "snap.yaml"
    glob = f"{prefix}*"
    commands: list[tuple[list[str], int]] = [
        (["plan", str(plan)], 0),
        (["execute", str(plan), "--phase", "1", "--dry-run"], 0),
        (["execute", str(plan), "--phase", "1"], 0),
        (["execute", str(plan), "--phase", "2"], 0),
        (["execute", str(plan), "--phase", "3"], 0),
        (["status", str(plan)], 0),
        (["export", "--source", brokers.source, "--topic", glob, "-o", str(snapshot)], 0),
        (["provision", str(snapshot), "--target", brokers.target, "--dry-run"], 0),
        (["verify", *source_and_target(brokers), "--topic", glob], 0),
        (["mirror", *source_and_target(brokers), "--topic", glob], 1),
        (["rollback", str(plan), "--dry-run"], 0),
        (["rollback", str(plan), "--yes"], 0),
        (["status", str(plan)], 0),
    ]
    before = source_state(brokers.source, topics)
    assert sum(len(r) for r in before["records"][topics[0]].values()) == 3_000
    assert group in before["groups"]
    for args, code in commands:
        done = kmigrate(*args, cwd=tmp_path)
        assert done.returncode == code, f"{args}: {done.stdout}{done.stderr}"
        assert source_state(brokers.source, topics) == before, f"source changed by {args}"


def test_a_failed_record_goes_to_on_error_and_is_not_counted_as_delivered(
    brokers: Brokers, prefix: str
) -> None:
    """A record the client cannot deliver (a partition the target topic lacks) is
    reported to ``on_error`` after the call returns, naming the partition and
    the error; ``delivered`` counts only the records the target confirmed."""
    topic = f"{prefix}one"
    target = KafkaCluster("target", brokers.target)
    assert target.create_topics([(topic, 1, 1, {})])[0].status == "created"
    errors: list[str] = []
    writer = target.writer(errors.append)
    for partition in [0] * 10 + [7] + [0] * 10:
        writer.write(topic, Record(topic, partition, 0, b"k", b"v", [], 1_700_000_000_000))
    assert writer.flush(30) == 0
    assert errors == [
        f"target ({brokers.target}): writing {topic}[7] failed: "
        "_UNKNOWN_PARTITION: Local: Unknown partition (the target topic has no such "
        "partition; was the target broker restarted empty or the topic deleted? Only "
        "records the target confirmed count as written)"
    ]
    assert (writer.delivered(topic, 0), writer.delivered(topic, 7)) == (20, 0)
    assert writer.fatal_error is None
    assert [len(rows) for rows in independent_read(brokers.target, topic).values()] == [20]


def test_delivered_never_exceeds_what_the_target_holds_while_records_wait(
    brokers: Brokers, prefix: str
) -> None:
    """The writer reports failed deliveries only and counts confirmed records from
    the producer's queue (issue 17, H8): while records wait, ``delivered`` of a
    partition never exceeds the records the target holds (its high watermark,
    read after), it grows before the flush, and after the flush it is exact.  It
    fails on a writer that counts queued records as confirmed (checked)."""
    topic = f"{prefix}count"
    target = KafkaCluster("target", brokers.target)
    assert target.create_topics([(topic, 1, 1, {})])[0].status == "created"
    writer = target.writer(lambda line: pytest.fail(line))
    total = 60_000
    seen: list[tuple[int, int]] = []
    for i in range(total):
        writer.write(topic, Record(topic, 0, i, b"k", b"v" * 200, [], 1_700_000_000_000))
        if i % 10_000 == 9_999:
            writer.poll(0.05)
            counted = writer.delivered(topic, 0)
            held = target.watermark_offsets([(topic, 0)])[(topic, 0)][1]
            seen.append((counted, held))
    assert all(counted <= held for counted, held in seen), seen
    assert any(0 < counted < total for counted, _ in seen), seen
    assert writer.flush(60) == 0
    assert writer.delivered(topic, 0) == total


def test_a_record_refused_at_once_for_a_missing_partition_also_goes_to_on_error(
    brokers: Brokers, prefix: str
) -> None:
    """The same record, refused by produce() itself because the producer already
    holds the topic's metadata (a first record was flushed): reported to ``on_error``
    like a failed delivery, not raised.  Before the fix it raised ClusterError, so the
    report depended on how fast the metadata arrived (a fresh-clone CI run met it)."""
    topic = f"{prefix}known"
    target = KafkaCluster("target", brokers.target)
    assert target.create_topics([(topic, 1, 1, {})])[0].status == "created"
    errors: list[str] = []
    writer = target.writer(errors.append)
    writer.write(topic, Record(topic, 0, 0, b"k", b"v", [], 1_700_000_000_000))
    assert writer.flush(30) == 0

    writer.write(topic, Record(topic, 7, 1, b"k", b"v", [], 1_700_000_000_000))
    writer.write(topic, Record(topic, 0, 2, b"k", b"v", [], 1_700_000_000_000))
    assert writer.flush(30) == 0

    assert errors == [
        f"target ({brokers.target}): writing {topic}[7] failed: "
        "_UNKNOWN_PARTITION: Local: Unknown partition (the target topic has no such "
        "partition; was the target broker restarted empty or the topic deleted? Only "
        "records the target confirmed count as written)"
    ]
    assert (writer.delivered(topic, 0), writer.delivered(topic, 7)) == (2, 0)


def test_verify_fails_when_the_source_no_longer_lists_a_mirrored_topic(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The source lists no topic the mirror copied (deleted here; a ZooKeeper-mode
    broker just restarted lists none for a moment): verify fails (exit 1) naming
    the topic and saying nothing was verified.  Before the fix it compared the
    topics still listed (here none) and said "all 0 partitions match" (exit 0)."""
    from confluent_kafka.admin import AdminClient

    topic = f"{prefix}gone"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"value": b"v%d" % i, "partition": i % 2} for i in range(200)])
    plan = write_plan(tmp_path, brokers, [topic], MIRROR_THEN_VERIFY)
    until_success(plan, "1")
    until_success(plan, "2")
    admin = AdminClient({"bootstrap.servers": brokers.source})
    admin.delete_topics([topic])[topic].result()
    deadline = time.monotonic() + 30
    while topic_partitions(brokers.source, topic) and time.monotonic() < deadline:
        time.sleep(0.2)

    done = kmigrate("execute", str(plan), "--phase", "3", cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert f"the source lists no topic {topic}, which the mirror copied" in out, out
    assert "Nothing was verified" in out, out
    assert "partitions match" not in out, out
    assert step_named(status_steps(plan), "verify")["status"] == "failed"

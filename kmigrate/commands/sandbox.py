"""``kmigrate sandbox up|seed|down``: two local clusters for rehearsals and tests."""

from __future__ import annotations

import shutil
import time
from importlib import resources
from pathlib import Path

from kmigrate.adapters import apache_kafka
from kmigrate.adapters import sandbox as brokers
from kmigrate.errors import UsageError
from kmigrate.safefs import atomic_write, ensure_dir
from kmigrate.ui import UI

DEFAULT_DIR = Path(".kmigrate-sandbox")
#: The brokers ``sandbox up`` can start.
BROKER_KINDS = ("tansu", "apache-kafka")
#: The Apache Kafka sandbox's record of its clusters (pids, ports; passwords: 0600).
APACHE_KAFKA_STATE = "apache-kafka.json"
#: The environment variable the Apache Kafka sandbox plan names for the target password.
PASSWORD_ENV = "KMIGRATE_SANDBOX_TARGET_PASSWORD"


def up(
    ui: UI,
    *,
    source_port: int = 19092,
    target_port: int = 29092,
    state_dir: Path = DEFAULT_DIR,
    broker: str = "tansu",
) -> int:
    """Start the source and target clusters.  Returns 0.

    ``broker``: ``tansu`` (two in-memory brokers, the default) or ``apache-kafka``
    (see :func:`up_apache_kafka`).

    Raises:
        kmigrate.errors.UsageError: a sandbox is already running here, or the
            sandbox extra (or java and mvn, for apache-kafka) is missing.
        kmigrate.errors.ClusterError: a broker did not start.
    """
    if broker == "apache-kafka":
        return up_apache_kafka(
            ui, source_port=source_port, target_port=target_port, state_dir=state_dir
        )
    started = brokers.up(state_dir, source_port, target_port)
    for b in started:
        ui.ok(f"{b.role} broker on {b.bootstrap} (pid {b.pid})")
    ui.emit_json([b.__dict__ for b in started])
    return 0


def seed(ui: UI, *, bootstrap_servers: str = "127.0.0.1:19092", records: int = 2000) -> int:
    """Seed the sandbox source with realistic traffic.  Returns 0.

    Raises:
        kmigrate.errors.ClusterError: the broker refused a topic or record.
    """
    written = brokers.seed(bootstrap_servers, records)
    ui.table(
        [[t, brokers.SEED_TOPICS[t][0], n] for t, n in written.items()],
        ["topic", "partitions", "records"],
    )
    ui.ok(
        f"seeded {sum(written.values()):,} records into {bootstrap_servers}; consumer group "
        f"{brokers.SEED_GROUP} has committed offsets"
    )
    ui.emit_json(written)
    return 0


def produce(
    ui: UI,
    *,
    bootstrap_servers: str = "127.0.0.1:19092",
    rate: float = 100.0,
    duration_s: float | None = None,
) -> int:
    """Produce live records to the seed topics at ``rate`` records/s.  Returns 0.

    Runs for ``duration_s`` seconds, or until Ctrl-C (a clean stop: queued
    records are flushed and the counts printed).

    Raises:
        kmigrate.errors.UsageError: a rate <= 0.
        kmigrate.errors.ClusterError: the broker refused records.
    """
    ui.line(
        f"producing about {rate:,.0f} records/s to {len(brokers.SEED_TOPICS)} topics on "
        f"{bootstrap_servers}" + (f" for {duration_s:g} s" if duration_s else " until Ctrl-C")
    )
    t0 = time.monotonic()
    written = brokers.produce_live(
        bootstrap_servers,
        rate,
        duration_s=duration_s,
        on_progress=lambda n: ui.line(f"  {n:,} records so far"),
    )
    elapsed = time.monotonic() - t0
    total = sum(written.values())
    if written:
        ui.table([[t, n] for t, n in written.items()], ["topic", "records"])
    ui.ok(f"produced {total:,} records in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f}/s)")
    ui.emit_json(written)
    return 0


def up_apache_kafka(
    ui: UI, *, source_port: int = 19092, target_port: int = 29092, state_dir: Path = DEFAULT_DIR
) -> int:
    """Start real Apache Kafka: the source (ZooKeeper mode, PLAINTEXT on ``source_port``)
    and the target (3 KRaft nodes, SASL_SSL on ``target_port`` and the next two ports).

    Writes ``state_dir/apache-kafka.json`` (pids, ports), ``state_dir/credentials.env``
    (the target password, 0600) and ``state_dir/plan.yaml``: the sandbox plan with the
    target's settings, the password as the reference ``${KMIGRATE_SANDBOX_TARGET_PASSWORD}``.
    Returns 0.

    Raises:
        kmigrate.errors.UsageError: a sandbox is already recorded here, a port is in
            use, or java / mvn / the sandbox extra is missing.
        kmigrate.errors.ClusterError: Maven or a JVM failed.
    """
    record = state_dir / APACHE_KAFKA_STATE
    if record.exists() or (state_dir / "sandbox.json").exists():
        raise UsageError(
            f"a sandbox is already recorded in {state_dir}; run 'kmigrate sandbox down' first"
        )
    ensure_dir(state_dir)
    t0 = time.monotonic()
    home = state_dir.resolve()
    for old in (home / "source", home / "target"):
        if old.exists():  # a stopped sandbox's clusters: each start formats afresh
            ui.line(f"removing the previous sandbox's data in {old}")
            shutil.rmtree(old)
    source = apache_kafka.start_source(home / "source", port=source_port, say=ui.line)
    try:
        target = apache_kafka.start_target(home / "target", port=target_port, say=ui.line)
    except BaseException:
        apache_kafka.stop_cluster(source)
        raise
    apache_kafka.save([source, target], record)
    password = target.users[apache_kafka.MIGRATION_USER]
    atomic_write(state_dir / "credentials.env", f"{PASSWORD_ENV}={password}\n")
    plan = state_dir / "plan.yaml"
    atomic_write(plan, sandbox_plan(source, target))
    ui.ok(
        f"source: Apache Kafka {source.version} (ZooKeeper mode) on {source.bootstrap}, PLAINTEXT"
    )
    ui.ok(
        f"target: {len(target.nodes)} KRaft nodes of Apache Kafka {target.version} on "
        f"{target.bootstrap}, SASL_SSL (SCRAM-SHA-512) as '{apache_kafka.MIGRATION_USER}', "
        f"CA {target.ca}; RF 3, min.insync.replicas 2, ACLs on"
    )
    ui.ok(f"started in {time.monotonic() - t0:.1f} s; data and logs in {state_dir}")
    ui.line(f"the plan for these clusters: {plan}")
    ui.line(f"its password reference: set -a; . {state_dir / 'credentials.env'}; set +a")
    ui.emit_json(
        {
            "source": {"bootstrap_servers": source.bootstrap, "version": source.version},
            "target": {
                "bootstrap_servers": target.bootstrap,
                "version": target.version,
                "ca": target.ca,
                "username": apache_kafka.MIGRATION_USER,
                "password": "${" + PASSWORD_ENV + "}",
            },
            "plan": str(plan),
        }
    )
    return 0


def sandbox_plan(source: apache_kafka.Cluster, target: apache_kafka.Cluster) -> str:
    """The shipped sandbox plan (``kmigrate/data/sandbox.yaml``) with these clusters."""
    text = resources.files("kmigrate").joinpath("data/sandbox.yaml").read_text()
    head, rest = text.split("clusters:\n", 1)
    rest = rest[rest.index("topics:") :]
    clusters = (
        "clusters:\n"
        "  source:\n"
        "    type: kafka\n"
        f"    bootstrap_servers: {source.bootstrap}\n"
        "    config: {}\n"
        "  target:\n"
        "    type: kafka\n"
        f"    bootstrap_servers: {target.bootstrap}\n"
        "    config:\n"
        "      security.protocol: SASL_SSL\n"
        "      sasl.mechanisms: SCRAM-SHA-512\n"
        f"      sasl.username: {apache_kafka.MIGRATION_USER}\n"
        f"      sasl.password: ${{{PASSWORD_ENV}}}\n"
        f"      ssl.ca.location: {target.ca}\n"
    )
    head = head.split("version: 1", 1)[1]
    return (
        "# The sandbox plan for the Apache Kafka sandbox ('kmigrate sandbox up --broker\n"
        "# apache-kafka' wrote it): a ZooKeeper-mode source, a 3-node KRaft target with\n"
        f"# SASL_SSL and ACLs.  The password is a reference: set ${PASSWORD_ENV}.\n"
        "version: 1" + head.replace("state_dir: .kmigrate", "state_dir: state") + clusters + rest
    )


def down(ui: UI, *, state_dir: Path = DEFAULT_DIR) -> int:
    """Stop the sandbox's brokers (Tansu) or JVMs (Apache Kafka), by pid.  Returns 0."""
    stopped = brokers.down(state_dir)
    for b in stopped:
        ui.ok(f"stopped {b.role} broker on {b.bootstrap}")
    record = state_dir / APACHE_KAFKA_STATE
    jvms = 0
    if record.exists():
        for cluster in apache_kafka.load(record):
            for node, pid in apache_kafka.stop_cluster(cluster):
                jvms += 1
                ui.ok(f"stopped {cluster.role} {node.name} (pid {pid})")
        record.unlink()
    if not stopped and not jvms:
        ui.line("no sandbox broker was running")
    return 0

"""Faults on real Apache Kafka: brokers killed, restarted and starved of replicas
while a ``kmigrate`` subprocess mirrors, verifies or exports (issue 13).

Runs only with ``--broker apache-kafka``.  The module starts clusters of its own
(:mod:`kmigrate.adapters.apache_kafka`), so killing their nodes never disturbs
the session's shared clusters: a ZooKeeper-mode source (one broker) and a
3-node KRaft target (combined broker+controller nodes, RF 3,
min.insync.replicas 2, ACLs).  The plans reach the target through its SASL_SSL
listener as the ``kmigrate`` principal, the password a ``${ENV}`` reference
given only in the subprocess's environment.  What is judged is read back over
the target's PLAINTEXT listener with a plain confluent-kafka consumer
(tests/support/faults.py), never with kmigrate's adapter: per partition the
same records (key, value, headers, timestamp) in the same order, target
offsets 0..n-1, so nothing lost and nothing duplicated.

Each fault is injected while the step runs: the test waits until the target
holds some of the records (or the step has started), then kills or stops the
node, and asserts the process had not ended by then.  Each run either
completes or exits 1 with a clear message (never a traceback, never exit 3);
what happened is printed (``-s`` shows it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from kmigrate.adapters import apache_kafka
from kmigrate.adapters.kafka import KafkaCluster
from tests.conftest import APACHE_KAFKA, MIRROR_THEN_VERIFY, create_topic, produce
from tests.support.faults import (
    KMIGRATE,
    independent_read,
    start_kmigrate,
    status_steps,
    step_named,
    without_offsets,
)

pytestmark = pytest.mark.broker

#: The environment variable the plans name for the target password.
PASSWORD_ENV = "KMIGRATE_FAULTS_TARGET_PASSWORD"
#: Records per seeded topic (3 partitions, about 100 B each with key and headers).
RECORDS = 150_000
PARTITIONS = 3


class Clusters:
    """The module's own source and target (stopped at the module's end)."""

    def __init__(self, source: apache_kafka.Cluster, target: apache_kafka.Cluster) -> None:
        self.source = source
        self.target = target


@pytest.fixture(scope="module")
def clusters(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clusters]:
    """A source and a target of this module's own, in tmp dirs, stopped at the end."""
    if broker_kind != APACHE_KAFKA:
        pytest.skip("faults on real brokers need real Apache Kafka: run with --broker apache-kafka")
    folder = tmp_path_factory.mktemp("faults-ak")
    started: list[apache_kafka.Cluster] = []
    try:
        started.append(apache_kafka.start_source(folder / "source"))
        started.append(apache_kafka.start_target(folder / "target"))
        yield Clusters(*started)
    finally:
        for cluster in started:
            apache_kafka.stop_cluster(cluster, kill=True)


def seed(bootstrap: str, topic: str, records: int = RECORDS) -> None:
    """A topic of ``PARTITIONS`` partitions: keyed records with headers and timestamps.

    The timestamps are recent: a real broker deletes segments whose records are
    older than retention.ms (7 days) by their timestamps, mid-copy."""
    create_topic(bootstrap, topic, PARTITIONS)
    base = int(time.time() * 1000) - records
    produce(
        bootstrap,
        topic,
        [
            {
                "key": b"k%d" % i,
                "value": b"value-%08d-" % i + b"x" * 48,
                "partition": i % PARTITIONS,
                "timestamp": base + i,
                "headers": [("seq", b"%d" % i), ("none", None)],
            }
            for i in range(records)
        ],
    )


def write_sasl_plan(
    directory: Path, source: apache_kafka.Cluster, target: apache_kafka.Cluster, topic: str
) -> Path:
    """A plan from ``source`` to ``target``'s SASL_SSL listener as ``kmigrate``, the
    password a reference to :data:`PASSWORD_ENV`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plan.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        version: 1
        name: faults-on-apache-kafka
        state_dir: state
        clusters:
          source:
            type: kafka
            bootstrap_servers: {source.bootstrap}
            config: {{}}
          target:
            type: kafka
            bootstrap_servers: {target.bootstrap}
            config:
              security.protocol: SASL_SSL
              sasl.mechanisms: {apache_kafka.SCRAM_MECHANISM}
              sasl.username: {apache_kafka.MIGRATION_USER}
              sasl.password: ${{{PASSWORD_ENV}}}
              ssl.ca.location: {target.ca}
        topics:
          include: [{topic!r}]
        """)
        + MIRROR_THEN_VERIFY
    )
    return path


def env_for(target: apache_kafka.Cluster) -> dict[str, str]:
    """The subprocess's environment: this one plus the target password."""
    return {**os.environ, PASSWORD_ENV: target.users[apache_kafka.MIGRATION_USER]}


def run(
    plan: Path, phase: str, target: apache_kafka.Cluster, timeout_s: float = 150
) -> tuple[int, str]:
    """``kmigrate execute PLAN --phase PHASE`` to its end: (exit code, output)."""
    done = subprocess.run(
        [*KMIGRATE, "execute", str(plan), "--phase", phase],
        cwd=plan.parent,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout_s,
        env=env_for(target),
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def start(plan: Path, phase: str, target: apache_kafka.Cluster) -> subprocess.Popen[str]:
    """``kmigrate execute PLAN --phase PHASE`` in the background."""
    return start_kmigrate(
        "execute", str(plan), "--phase", phase, cwd=plan.parent, env=env_for(target)
    )


def clean(code: int, out: str, target: apache_kafka.Cluster) -> None:
    """Exit 0 or 1, never an internal error or a traceback; no password shown."""
    assert code in (0, 1), out
    assert "internal error" not in out and "Traceback" not in out, out
    for password in target.users.values():
        assert password not in out, "a target password was printed"


def until_success(plan: Path, phase: str, target: apache_kafka.Cluster, attempts: int = 3) -> str:
    """Run a phase until it succeeds (each attempt ends cleanly); its last output."""
    out = ""
    for _ in range(attempts):
        code, out = run(plan, phase, target)
        clean(code, out, target)
        if code == 0:
            return out
    raise AssertionError(f"phase {phase} did not succeed in {attempts} attempts:\n{out}")


def target_records(bootstrap: str, topic: str) -> int:
    """Records the cluster at ``bootstrap`` holds in ``topic`` (sum of high watermarks;
    a topic written only by an idempotent producer has no control records)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults-watermarks"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)[1]
            for p in range(PARTITIONS)
        )
    finally:
        consumer.close()


def wait_copied(
    bootstrap: str, topic: str, at_least: int, proc: subprocess.Popen[str], timeout_s: float = 90
) -> int:
    """Wait until the target holds ``at_least`` records of ``topic``; returns how many.

    Fails if the step ended first (the fault would not land mid-copy)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the step ended before the fault:\n{proc.communicate()[0]}"
        try:
            held = target_records(bootstrap, topic)
        except Exception:  # noqa: BLE001 - a busy broker: ask again
            held = 0
        if held >= at_least:
            return held
        time.sleep(0.1)
    raise AssertionError(f"the target did not get {at_least} records of {topic} in {timeout_s} s")


def wait_step_started(plan: Path, action: str, proc: subprocess.Popen[str]) -> None:
    """Wait until the journal says a step ``action`` is running."""
    deadline = time.monotonic() + 60
    journal = plan.parent / "state"
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the step ended before the fault:\n{proc.communicate()[0]}"
        if journal.exists():
            steps = [s for s in status_steps(plan) if str(s["description"]).startswith(action)]
            if steps and steps[0]["status"] == "started":
                return
        time.sleep(0.05)
    raise AssertionError(f"{action} did not start within 60 s")


def leader_of(internal: str, topic: str, partition: int) -> int:
    """The node id leading ``topic[partition]``."""
    md = AdminClient({"bootstrap.servers": internal}).list_topics(topic, timeout=15)
    return int(md.topics[topic].partitions[partition].leader)


def assert_copied(source: str, target: str, topic: str, records: int = RECORDS) -> None:
    """The target holds exactly the source's records: per partition the same key,
    value, headers and timestamp in the same order, offsets 0..n-1."""
    src, tgt = independent_read(source, topic), independent_read(target, topic)
    assert sum(len(rows) for rows in src.values()) == records
    assert without_offsets(tgt) == without_offsets(src), topic
    for rows in tgt.values():
        assert [r[0] for r in rows] == list(range(len(rows))), "gaps or duplicates on the target"


def finish(proc: subprocess.Popen[str], timeout_s: float = 150) -> tuple[int, str, float]:
    """Wait for the background step: (exit code, output, seconds waited)."""
    began = time.monotonic()
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the step hung for {timeout_s} s after the fault:\n{out}") from None
    return proc.returncode, out, time.monotonic() - began


def outcome(what: str, code: int, out: str) -> str:
    """One line saying what kmigrate did (printed for the report)."""
    if code == 0:
        return f"{what}: completed the first time"
    lines = [line for line in out.splitlines() if not line.startswith("%")]  # librdkafka's log
    failed = [line for line in lines if "FAILED" in line] + [
        line for line in lines if "failed" in line
    ]
    return f"{what}: exit 1 ({(failed or [out.strip()[-300:]])[0].strip()}); re-run"


def provisioned(
    source: apache_kafka.Cluster, target: apache_kafka.Cluster, topic: str, tmp_path: Path
) -> Path:
    """Seed ``topic`` on the source, write the SASL plan for it and run its phase 1
    (export and provision) until it succeeds; returns the plan."""
    seed(source.bootstrap, topic)
    plan = write_sasl_plan(tmp_path, source, target, topic)
    until_success(plan, "1", target)
    return plan


def mirroring(
    plan: Path, target: apache_kafka.Cluster, topic: str, share: int = 10
) -> tuple[subprocess.Popen[str], int]:
    """Start phase 2 (the mirror) and wait until the target holds ``1/share`` of the
    records; returns the running process and the records then held."""
    proc = start(plan, "2", target)
    return proc, wait_copied(target.internal, topic, RECORDS // share, proc)


def ended(
    proc: subprocess.Popen[str], target: apache_kafka.Cluster, what: str, timeout_s: float = 150
) -> tuple[int, str]:
    """Wait for the interrupted step ``proc`` to end, check it ended cleanly
    (:func:`clean`) and print ``what`` happened and how it ended; returns its exit
    code and output."""
    code, out, waited = finish(proc, timeout_s)
    clean(code, out, target)
    print(outcome(what, code, out), f"({waited:.1f} s)")
    return code, out


def mirror_then_verify(plan: Path, clusters: Clusters, topic: str) -> None:
    """Mirror (re-run until it succeeds) and verify, then read both sides back."""
    until_success(plan, "2", clusters.target)
    out = until_success(plan, "3", clusters.target)
    assert f"all {PARTITIONS} partitions match ({RECORDS:,} records)" in out, out
    assert step_named(status_steps(plan), "verify")["status"] == "succeeded"
    assert_copied(clusters.source.bootstrap, clusters.target.internal, topic)


@pytest.mark.timeout(300)
def test_target_partition_leader_killed_mid_mirror(
    clusters: Clusters, prefix: str, tmp_path: Path
) -> None:
    """``kill -9`` of the target broker leading partition 0 while the mirror
    (acks=all, idempotent) copies it: the mirror completes, or exits 1 with a
    clear error and a re-run (the node still down: 2 of 3 replicas meet
    min.insync.replicas 2) completes; the node restarts with its data; verify
    finds every partition equal; the independent read finds 0 lost, 0
    duplicated, order kept."""
    source, target = clusters.source, clusters.target
    topic = f"{prefix}leader"
    plan = provisioned(source, target, topic, tmp_path)
    node = target.node_for(leader_of(target.internal, topic, 0))

    proc, held = mirroring(plan, target, topic, 5)
    apache_kafka.stop_node(node, kill=True)
    code, out = ended(proc, target, f"leader {node.name} killed at {held:,} records")
    if code == 1:
        assert "FAILED: mirror failed: target (" in out, out
        until_success(plan, "2", target)
    assert step_named(status_steps(plan), "mirror")["status"] == "succeeded"
    apache_kafka.start_node(node)
    apache_kafka.wait_brokers(target, apache_kafka.TARGET_NODES)
    mirror_then_verify(plan, clusters, topic)


@pytest.mark.timeout(300)
def test_two_of_three_combined_nodes_killed_mid_mirror(
    clusters: Clusters, prefix: str, tmp_path: Path
) -> None:
    """Two of the sandbox target's three nodes killed mid-mirror: each node is
    also a KRaft controller, so the controller quorum goes with them; the last
    broker shrinks no ISR and answers no Metadata, so Kafka never says
    NOT_ENOUGH_REPLICAS here (the next test has a dedicated controller).  The
    mirror must not hang: exit 1 within the writer's 15 s stall limit, naming
    the target, the records it did not confirm and the brokers that did not
    accept connections.  With the nodes back, a re-run completes exactly.

    Fails before the fix in RecordWriter._probe: the last broker still answers
    Metadata listing all three, and the message said "the target answers and
    holds the topics but confirms no record (was the target broker restarted
    empty? ...)"."""
    source, target = clusters.source, clusters.target
    topic = f"{prefix}quorum"
    plan = provisioned(source, target, topic, tmp_path)

    proc, held = mirroring(plan, target, topic)
    stopped = [target.node_for(2), target.node_for(3)]
    for node in stopped:
        apache_kafka.stop_node(node, kill=True)
    what = f"2 of 3 combined nodes killed at {held:,} records"
    code, out = ended(proc, target, what, timeout_s=120)  # a hang guard: the writer gives up
    assert code == 1, out
    assert "FAILED: mirror failed: target (" in out, out
    assert "records not confirmed for" in out, out
    assert "did not accept connections" in out and "are they down?" in out, out
    for node in stopped:
        assert f"127.0.0.1:{node.ports['CLIENT']}/{node.ports['node_id']}" in out, out
    assert step_named(status_steps(plan), "mirror")["status"] == "failed"

    for node in stopped:
        apache_kafka.start_node(node)
    apache_kafka.wait_brokers(target, apache_kafka.TARGET_NODES)
    mirror_then_verify(plan, clusters, topic)


@pytest.fixture
def managed_target(tmp_path: Path) -> Iterator[apache_kafka.Cluster]:
    """A target whose KRaft controller is not one of its three brokers (as on a
    managed service): stopping two brokers keeps the controller quorum, so the
    ISR shrinks and the last broker refuses acks=all writes."""
    cluster = apache_kafka.start_target(tmp_path / "managed", dedicated_controller=True)
    try:
        yield cluster
    finally:
        apache_kafka.stop_cluster(cluster, kill=True)


@pytest.mark.timeout(300)
def test_isr_below_min_insync_replicas_mid_mirror(
    clusters: Clusters, managed_target: apache_kafka.Cluster, prefix: str, tmp_path: Path
) -> None:
    """Two of the three target brokers stopped mid-mirror: every partition's ISR
    shrinks to 1, below min.insync.replicas 2, and the last broker answers each
    write NOT_ENOUGH_REPLICAS, which librdkafka retries silently.  The mirror
    exits 1 within the writer's stall limit (15 s without a confirmation, not
    librdkafka's 300 s message.timeout.ms) with a message that names
    NOT_ENOUGH_REPLICAS and says what it means; the journal claims only
    confirmed records.  After the brokers return, a re-run completes and the
    target holds exactly the source's records.

    Fails before the fix in RecordWriter._probe: the message said "the target
    answers and holds the topics but confirms no record (was the target broker
    restarted empty? ...)"."""
    source, target = clusters.source, managed_target
    topic = f"{prefix}isr"
    plan = provisioned(source, target, topic, tmp_path)

    proc, held = mirroring(plan, target, topic)
    stopped = [target.node_for(2), target.node_for(3)]
    for node in stopped:  # both at once: a controlled shutdown takes seconds
        os.kill(node.pid, signal.SIGTERM)
    for node in stopped:
        apache_kafka.stop_node(node)
    what = f"2 of 3 brokers stopped at {held:,} records"
    code, out = ended(proc, target, what, timeout_s=120)  # a hang guard: the writer gives up
    assert code == 1, out
    assert "FAILED: mirror failed: target (" in out, out
    assert "the target has fewer in-sync replicas than min.insync.replicas" in out, out
    assert "(NOT_ENOUGH_REPLICAS)" in out, out
    assert "has 1 of 3 replicas in sync, min.insync.replicas 2" in out, out
    mirror = step_named(status_steps(plan), "mirror")
    assert mirror["status"] == "failed"
    claimed = sum(p["records"] for p in mirror["record"]["partitions"])
    assert claimed < RECORDS

    for node in stopped:
        apache_kafka.start_node(node)
    apache_kafka.wait_brokers(target, apache_kafka.TARGET_NODES)
    until_success(plan, "2", target)
    out = until_success(plan, "3", target)
    assert f"all {PARTITIONS} partitions match ({RECORDS:,} records)" in out, out
    assert_copied(source.bootstrap, target.internal, topic)


def wait_listening(port: int, listening: bool, timeout_s: float = 120) -> None:
    """Wait until something listens on 127.0.0.1:``port`` (or, ``listening=False``,
    nothing does)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                up = True
        except OSError:
            up = False
        if up == listening:
            return
        time.sleep(0.1)
    raise AssertionError(f"port {port} still {'shut' if listening else 'open'} after {timeout_s} s")


def restart(
    cluster: apache_kafka.Cluster,
    node: apache_kafka.Node,
    proc: subprocess.Popen[str],
    *,
    kill: bool = False,
) -> float:
    """Stop ``node`` (SIGTERM: a controlled shutdown, as a rolling restart does;
    ``kill``: SIGKILL, a crash) and start it again with its data; returns the
    seconds it was down.

    Fails if the step ``proc`` had ended before the stop began (the fault would
    not have landed mid-step).  A step may end while a controlled shutdown runs:
    the broker refuses connections before its JVM exits, and a step that then
    fails clearly ("does not answer") met the fault (seen in a CI run, where the
    shutdown outlasted verify's 15 s connection limit)."""
    port = node.ports.get("PLAINTEXT") or node.ports["INTERNAL"]
    running = proc.poll() is None
    apache_kafka.stop_node(node, kill=kill)
    # stop_node may return while the killed JVM's last threads still hold its
    # sockets (the process shows as a zombie first): wait until the port is shut.
    wait_listening(port, False)
    down = time.monotonic()
    apache_kafka.start_node(node)
    wait_listening(port, True)  # Metadata may still list a killed broker
    apache_kafka.wait_brokers(cluster, len(cluster.kafka_nodes()))
    assert running, f"the step ended before {node.name} was down:\n{proc.communicate()[0]}"
    return time.monotonic() - down


@pytest.mark.timeout(300)
def test_source_broker_restarted_mid_mirror(
    clusters: Clusters, prefix: str, tmp_path: Path
) -> None:
    """The source broker restarted (its data kept) while the mirror reads it: the
    mirror completes, or exits 1 clearly and a re-run completes; verify equal,
    nothing lost or duplicated."""
    source, target = clusters.source, clusters.target
    topic = f"{prefix}srcmirror"
    plan = provisioned(source, target, topic, tmp_path)

    proc, held = mirroring(plan, target, topic)
    down_s = restart(source, source.node_for(1), proc)
    ended(proc, target, f"source broker restarted at {held:,} records (down {down_s:.1f} s)")
    mirror_then_verify(plan, clusters, topic)


@pytest.mark.timeout(300)
def test_source_broker_restarted_mid_verify(
    clusters: Clusters, prefix: str, tmp_path: Path
) -> None:
    """The source broker restarted while verify reads it: verify completes, or exits
    1 clearly (never claiming equal or different on a half read) and a re-run
    finds every partition equal."""
    source, target = clusters.source, clusters.target
    topic = f"{prefix}srcverify"
    plan = provisioned(source, target, topic, tmp_path)
    until_success(plan, "2", target)

    proc = start(plan, "3", target)
    wait_step_started(plan, "verify", proc)
    down_s = restart(source, source.node_for(1), proc)
    code, out = ended(proc, target, f"source broker restarted mid-verify (down {down_s:.1f} s)")
    assert "partitions differ" not in out, out
    if code == 1:
        assert step_named(status_steps(plan), "verify")["status"] == "failed"
        out = until_success(plan, "3", target)
    assert f"all {PARTITIONS} partitions match ({RECORDS:,} records)" in out, out
    assert_copied(source.bootstrap, target.internal, topic)


@pytest.mark.timeout(120)
def test_topics_asked_while_the_source_broker_restarts_are_all_listed(
    clusters: Clusters, prefix: str
) -> None:
    """A topic listing asked while the source broker is down gets the restarted
    broker's first answer, which (ZooKeeper mode, before the controller fills its
    metadata cache) lists no topic: KafkaCluster.topics() must ask again and list
    them.  Found by test_source_broker_restarted_mid_verify, where verify then
    compared 0 partitions and said "all 0 partitions match".

    Fails before the fix in KafkaCluster.topics (it returned {})."""
    source = clusters.source
    topic = f"{prefix}listed"
    create_topic(source.bootstrap, topic, 2)
    cluster = KafkaCluster("source", source.bootstrap)
    assert topic in cluster.topics()
    node = source.node_for(1)
    apache_kafka.stop_node(node)
    listed: list[dict[str, object]] = []
    asker = threading.Thread(target=lambda: listed.append(dict(cluster.topics())))
    try:
        wait_listening(node.ports["PLAINTEXT"], False)
        asker.start()
        time.sleep(0.5)  # the request waits for the broker
    finally:
        apache_kafka.start_node(node)
        asker.join(60)
        apache_kafka.wait_brokers(source, 1)
    assert len(listed) == 1 and topic in listed[0], listed


@pytest.mark.timeout(300)
def test_target_broker_restarted_mid_mirror(
    clusters: Clusters, prefix: str, tmp_path: Path
) -> None:
    """A target broker (partition 1's leader) crashes (SIGKILL: a controlled
    shutdown outlasts the copy) and is started again at once with its data while
    the mirror writes: unlike the in-memory test broker, it comes back holding
    what it had, so the mirror completes, or exits 1 clearly and a re-run
    completes (records written but not confirmed are recognised on the target's
    tail, not written twice)."""
    source, target = clusters.source, clusters.target
    topic = f"{prefix}tgtmirror"
    plan = provisioned(source, target, topic, tmp_path)
    node = target.node_for(leader_of(target.internal, topic, 1))

    proc, held = mirroring(plan, target, topic)
    down_s = restart(target, node, proc, kill=True)
    what = f"target {node.name} restarted at {held:,} records (down {down_s:.1f} s)"
    ended(proc, target, what)
    mirror_then_verify(plan, clusters, topic)


@pytest.mark.timeout(300)
def test_source_zookeeper_stopped_mid_export(
    clusters: Clusters, prefix: str, tmp_path: Path
) -> None:
    """The source's ZooKeeper stopped (its broker still up): ``kmigrate export`` and
    the plan's export-topics step each exit 1 within bounds, naming the source and
    that it did not answer, with ZooKeeper named as the likely cause; the
    previous snapshot file is byte-identical and the step's snapshot absent.
    With ZooKeeper back, the re-runs complete.

    The hint fails before the fix in KafkaCluster.topic_configs: the message was
    only "describing topic configs failed: _TIMED_OUT: ..."."""
    source, target = clusters.source, clusters.target
    topic = f"{prefix}zk"
    seed(source.bootstrap, topic, 1_000)
    plan = write_sasl_plan(tmp_path / "plan", source, target, topic)
    snapshot = tmp_path / "snapshot.yaml"
    export = [*KMIGRATE, "export", "--source", source.bootstrap, "--topic", topic]
    first = subprocess.run([*export, "-o", str(snapshot)], capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    before = snapshot.read_bytes()
    assert topic in before.decode()

    zookeeper = next(n for n in source.nodes if n.name == "zookeeper")
    apache_kafka.stop_node(zookeeper, kill=True)
    try:
        began = time.monotonic()
        done = subprocess.run(
            [*export, "-o", str(snapshot)], capture_output=True, text=True, timeout=90
        )
        took = time.monotonic() - began
        out = done.stdout + done.stderr
        clean(done.returncode, out, target)
        print(outcome("ZooKeeper stopped, export", done.returncode, out), f"({took:.1f} s)")
        assert done.returncode == 1, out
        assert f"source ({source.bootstrap}): " in out, out
        assert "did not answer" in out and "ZooKeeper" in out, out
        assert snapshot.read_bytes() == before, "the previous snapshot was changed"
        assert [p.name for p in tmp_path.iterdir() if "snapshot" in p.name] == ["snapshot.yaml"], (
            "a temporary file was left"
        )

        code, out = run(plan, "1", target, timeout_s=90)
        clean(code, out, target)
        print(outcome("ZooKeeper stopped, export-topics step", code, out))
        assert code == 1, out
        assert "ZooKeeper" in out, out
        assert step_named(status_steps(plan), "export-topics")["status"] == "failed"
        state = plan.parent / "state"
        written = [p for p in state.rglob("*") if p.is_file() and "topics.yaml" in p.name]
        assert not written, written
    finally:
        apache_kafka.start_node(zookeeper)
    deadline = time.monotonic() + 90
    while True:  # the broker re-registers in ZooKeeper within seconds of its return
        again = subprocess.run([*export, "-o", str(snapshot)], capture_output=True, text=True)
        if again.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert again.returncode == 0, again.stdout + again.stderr
    until_success(plan, "1", target)

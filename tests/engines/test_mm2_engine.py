"""The mirror step with ``engine: mirrormaker2``, a whole plan, on a real Kafka Connect
cluster (2 workers, Maven Central jars) between the real Apache Kafka pair (issue 14).

Runs only with ``--broker apache-kafka``.  kmigrate runs as a separate process
(``python -m kmigrate``), as an operator runs it; the records are checked by an
independent read-back (a plain client, not kmigrate's reader, not MM2).  One
module-scoped Connect cluster (the fixture of ``tests/support/mm2_connect.py``); timings go to
standard output (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kmigrate.adapters import apache_kafka, kafka_connect
from kmigrate.adapters.connect_rest import ConnectRest
from tests.conftest import Brokers, create_topic, produce
from tests.support.clients import commit, committed
from tests.support.faults import (
    independent_read,
    start_kmigrate,
    status_steps,
    topic_partitions,
    without_offsets,
)
from tests.support.mm2_connect import (
    PARTITIONS,
    TARGET_PASSWORD,
    WRONG_PASSWORD,
    clusters_yaml,
    records,
)

pytestmark = pytest.mark.timeout(900)

#: With ``offset-syncs.topic.location=target`` the topic is named after the source alias.
OFFSET_SYNCS = "mm2-offset-syncs.source.internal"
CHECKPOINTS = "source.checkpoints.internal"
SOURCE = "kmigrate-mm2-plan-source"


def _plan(
    tmp_path: Path,
    brokers: Brokers,
    url: str,
    topic: str,
    group: str,
    password_var: str,
    name: str = "mm2-plan",
) -> Path:
    """A plan: the MM2 snapshot copy (with checkpoints), a follow, verify, translate.
    ``name`` names the connectors (``kmigrate-NAME-source``): each test its own, so
    one test's stored source offsets never meet another's."""
    path = tmp_path / "plan.yaml"
    connect_block = (
        f"{{url: '{url}', tasks_max: 2, checkpoints: true, replication_factor: 3, "
        "poll_s: 0.5, running_timeout_s: 120}"
    )
    path.write_text(
        f"""\
version: 1
name: {name}
state_dir: state
{clusters_yaml(brokers, password_var)}topics:
  include: ["{topic}"]
phases:
  - name: copy
    steps:
      - action: mirror
        id: mm2-snapshot
        engine: mirrormaker2
        connect: {connect_block}
  - name: follow
    steps:
      - action: mirror
        id: mm2-follow
        engine: mirrormaker2
        mode: follow
        settle_s: 4
        max_duration: 400
        connect: {connect_block}
  - name: check
    steps:
      - action: verify
        report: reports/verify.json
      - action: translate-offsets
        groups: {{include: ["{group}"]}}
"""
    )
    return path


def _env(brokers: Brokers, var: str) -> dict[str, str]:
    """kmigrate's environment: the target password under ``var`` (what kmigrate's own
    client resolves; the Connect workers resolve ``var`` from theirs)."""
    _source, target = brokers.clusters
    return {**os.environ, var: target.users[apache_kafka.MIGRATION_USER]}


def _run(plan: Path, env: dict[str, str], *args: str, timeout_s: float = 400.0) -> Any:
    result = start_kmigrate(*args, cwd=plan.parent, env=env)
    out, _ = result.communicate(timeout=timeout_s)
    return result.returncode, out


def _mirror_record(plan: Path, step: str) -> dict[str, Any]:
    rows = [r for r in status_steps(plan) if r.get("id") == step]
    assert rows, f"no status row for {step}"
    return dict(rows[0].get("record") or {})


def test_a_whole_plan_copies_with_mirrormaker2_follows_survives_a_killed_worker_and_rolls_back(
    connect: kafka_connect.ConnectCluster, brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A whole plan with ``engine: mirrormaker2``:

    * snapshot: the connectors (source with 2 tasks, checkpoint) are created from the
      plan, every task RUNNING, the copy reaches what the source held at the start,
      then the connectors are deleted (the journal keeps their refs and the plane);
    * follow while a producer writes; a Connect worker running a task is killed with
      SIGKILL mid-copy, its tasks move to the other worker; then kmigrate itself is
      killed with SIGKILL, and the re-run finds its journaled connectors and goes on
      until caught up (lag 0 held for settle_s); every record is on the target
      exactly once, and MM2's offset syncs agree with the exact map;
    * the offset map, built by alignment, is exact: verify says VERIFIED and an
      independent read-back agrees; translate-offsets puts the consumer group at the
      target offset of its next record;
    * rollback deletes the MM2 internal topic this run created (checkpoints) and
      leaves the one that existed before (offset-syncs), never touching the source.
    """
    topic, group = prefix + "orders", prefix + "app"
    create_topic(brokers.source, topic, PARTITIONS)
    create_topic(brokers.target, topic, PARTITIONS)
    if not topic_partitions(brokers.target, OFFSET_SYNCS):
        create_topic(brokers.target, OFFSET_SYNCS, 1, {"cleanup.policy": "compact"})
    assert not topic_partitions(brokers.target, CHECKPOINTS), "left by an earlier run"
    produce(brokers.source, topic, records(0, 6000))
    commit(brokers.source, group, {(topic, p): 400 + p for p in range(PARTITIONS)})
    plan = _plan(tmp_path, brokers, connect.url(0), topic, group, TARGET_PASSWORD)
    env = _env(brokers, TARGET_PASSWORD)

    _snapshot_phase(connect, brokers, plan, env, topic)
    want = _follow_phase_through_a_killed_worker(connect, brokers, plan, env, topic)

    code, out = _run(plan, env, "execute", str(plan), "--phase", "check", "--yes")
    print(out)
    assert code == 0, out
    total = sum(len(v) for v in want.values())
    assert f"all {PARTITIONS} partitions match ({total:,} records)" in out
    report = json.loads((plan.parent / "state" / "reports" / "verify.json").read_text())
    assert [p["match"] for p in report["partitions"]] == [True] * PARTITIONS
    assert sum(p["target"]["records"] for p in report["partitions"]) == total
    # The group's next record on the target is its next record on the source.
    target_rows = independent_read(brokers.target, topic)
    source_rows = independent_read(brokers.source, topic)
    moved = committed(brokers.target, group)
    for p in range(PARTITIONS):
        at = moved[(topic, p)]
        on_target = next((r[1:] for r in target_rows[p] if r[0] >= at), None)
        assert on_target == source_rows[p][400 + p][1:]

    code, out = _run(plan, env, "rollback", str(plan), "--yes")
    print(out)
    assert code == 0, out
    assert f"deleted MM2 internal topic {CHECKPOINTS}" in out
    assert not topic_partitions(brokers.target, CHECKPOINTS)
    assert topic_partitions(brokers.target, OFFSET_SYNCS) == 1
    assert without_offsets(independent_read(brokers.source, topic)) == want


def _snapshot_phase(
    connect: kafka_connect.ConnectCluster,
    brokers: Brokers,
    plan: Path,
    env: dict[str, str],
    topic: str,
) -> None:
    """The snapshot copy: connectors created, RUNNING, deleted at the end, journaled."""
    began = time.monotonic()
    code, out = _run(plan, env, "execute", str(plan), "--phase", "copy", "--yes")
    print(f"\nsnapshot phase: {time.monotonic() - began:.1f} s\n{out}")
    assert code == 0, out
    assert "every task RUNNING" in out and "snapshot complete" in out
    state = _mirror_record(plan, "mm2-snapshot")["mm2"]
    assert state["where"] == f"Kafka Connect at {connect.url(0)}"
    assert [c["name"] for c in state["connectors"]] == [SOURCE, "kmigrate-mm2-plan-checkpoint"]
    assert state["connectors_deleted"] is True
    assert state["internal_topics_created"] == [CHECKPOINTS]
    assert OFFSET_SYNCS in state["target_topics_before"]
    live = set(ConnectRest(connect.url(0)).connectors())
    assert not {c["name"] for c in state["connectors"]} & live
    snap = without_offsets(independent_read(brokers.target, topic))
    assert snap == without_offsets(independent_read(brokers.source, topic))


def _follow_phase_through_a_killed_worker(
    connect: kafka_connect.ConnectCluster,
    brokers: Brokers,
    plan: Path,
    env: dict[str, str],
    topic: str,
) -> dict[int, list[tuple[Any, ...]]]:
    """Follow while a producer writes; ``kill -9`` of worker 1 once it runs a part of
    the source connector; its tasks move to worker 0; caught up, every record once.
    Returns the source's records."""
    # The producer writes until kmigrate was killed (at least 24,000 records): a
    # fixed count let the follow step catch up and delete its connectors while the
    # killed worker's part was still moving (a CI run).
    produced = [6000]
    killed_kmigrate = threading.Event()

    def write() -> None:
        while produced[0] < 30000 or not killed_kmigrate.is_set():
            produce(brokers.source, topic, records(produced[0], 1500))
            produced[0] += 1500
            time.sleep(0.7)

    writer = threading.Thread(target=write)
    rest = ConnectRest(connect.url(0))
    follow = start_kmigrate(
        "execute", str(plan), "--phase", "follow", "--yes", cwd=plan.parent, env=env
    )
    writer.start()
    try:
        status = rest.wait_running(SOURCE, tasks=2, timeout_s=120)
        on_victim = [
            t for t in (status.connector, *status.tasks) if t.worker_id == connect.worker_id(1)
        ]
        assert on_victim, f"worker 1 runs nothing of the source connector: {status}"
        killed = time.monotonic()
        assert kafka_connect.stop_worker(connect, 1, kill=True)
        rest.wait_running(
            SOURCE,
            timeout_s=180,
            until=lambda s: (
                s.running
                and len(s.tasks) == 2
                and all(t.worker_id == connect.worker_id(0) for t in (s.connector, *s.tasks))
            ),
        )
        moved_s = time.monotonic() - killed
        print(f"tasks of the killed worker RUNNING on the other after {moved_s:.1f} s")
        # kmigrate itself crashes (kill -9) while the connectors copy on.
        follow.kill()
        follow.communicate(timeout=30)
    finally:
        killed_kmigrate.set()
        writer.join()
    code, out = _run(plan, env, "execute", str(plan), "--phase", "follow", "--yes")
    print(out)
    assert code == 0, out
    assert f"found connector {SOURCE} on Kafka Connect at {connect.url(0)} (journaled)" in out
    assert "caught up (lag 0 held for 4 s)" in out
    record = _mirror_record(plan, "mm2-follow")
    assert record["alignment"]["problems"] == []  # exactly once: no duplicate, no gap
    syncs = record["alignment"]["offset_syncs"]
    assert syncs["topic"] == OFFSET_SYNCS and syncs["checked"] > 0
    assert syncs["disagreements"] == []
    want = without_offsets(independent_read(brokers.source, topic))
    got = without_offsets(independent_read(brokers.target, topic))
    assert sum(len(v) for v in want.values()) == produced[0] >= 30000
    assert got == want
    kafka_connect.start_worker(connect, connect.workers[1])
    kafka_connect.wait_rest(connect, 1)
    return want


def test_a_wrong_target_password_on_the_workers_ends_the_step_with_exit_1_in_words(
    connect: kafka_connect.ConnectCluster, brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The workers resolve the plan's target password reference to a wrong password
    (kmigrate's own client has the right one): the MM2 tasks go FAILED and the step
    ends with exit 1 within a bounded time, naming the task, its worker and the
    authentication failure in words (no stack frames, no password); the journal keeps
    the connectors, and rollback resets their source offsets and deletes them."""
    topic, group = prefix + "pay", prefix + "g"
    create_topic(brokers.source, topic, PARTITIONS)
    create_topic(brokers.target, topic, PARTITIONS)
    produce(brokers.source, topic, records(0, 100))
    plan = _plan(
        tmp_path, brokers, connect.live_url(), topic, group, WRONG_PASSWORD, name="mm2-bad"
    )
    env = _env(brokers, WRONG_PASSWORD)
    began = time.monotonic()
    code, out = _run(plan, env, "execute", str(plan), "--phase", "copy", "--yes", timeout_s=200)
    took = time.monotonic() - began
    print(f"\nfailed after {took:.1f} s:\n{out}")
    assert code == 1, out
    assert took < 150
    # Either of the 2 tasks may be the first seen FAILED (a run saw only task 1).
    assert re.search(r"task [01] of kmigrate-mm2-bad-source FAILED on worker 127\.0\.0\.1:", out)
    assert "SaslAuthenticationException" in out
    assert "\tat " not in out and "not-" not in out
    code, out = _run(plan, env, "rollback", str(plan), "--yes")
    assert code == 0, out
    assert "deleted connector kmigrate-mm2-bad-source" in out
    assert "kmigrate-mm2-bad-source" not in ConnectRest(connect.live_url()).connectors()


def test_the_mirror_command_copies_with_mirrormaker2_without_a_plan(
    connect: kafka_connect.ConnectCluster, brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """``kmigrate mirror --engine mirrormaker2 --connect-url URL --tasks-max 2`` with the
    target's settings as ``-Y`` (the password a reference): the same step code copies
    every record (independent read-back), deletes its connectors and prints the
    offset map's alignment."""
    _source, target = brokers.clusters
    topic = prefix + "cli"
    create_topic(brokers.source, topic, PARTITIONS)
    create_topic(brokers.target, topic, PARTITIONS)
    produce(brokers.source, topic, records(0, 3000))
    settings = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": apache_kafka.MIGRATION_USER,
        "sasl.password": "${" + TARGET_PASSWORD + "}",
        "ssl.ca.location": target.ca,
    }
    args = ["mirror", "--source", brokers.source, "--target", target.bootstrap]
    args += ["--topic", topic, "--engine", "mirrormaker2", "--connect-url", connect.live_url()]
    args += ["--tasks-max", "2", "--state-dir", str(tmp_path / "state")]
    for key, value in settings.items():
        args += ["-Y", f"{key}={value}"]
    (tmp_path / "plan.yaml").write_text("")  # _run's working folder
    code, out = _run(tmp_path / "plan.yaml", _env(brokers, TARGET_PASSWORD), *args)
    print(out)
    assert code == 0, out
    assert "created connector kmigrate-mirror-source" in out
    assert "deleted connector kmigrate-mirror-source" in out
    assert "mirror ended: snapshot complete" in out
    got = without_offsets(independent_read(brokers.target, topic))
    assert got == without_offsets(independent_read(brokers.source, topic))
    assert "kmigrate-mirror-source" not in ConnectRest(connect.live_url()).connectors()

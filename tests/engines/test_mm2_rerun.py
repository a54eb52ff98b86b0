"""A MirrorMaker 2 plan run again after its rollback (or with its journal gone) copies
every record again: Kafka Connect keeps a source connector's committed source
offsets by connector name after the connector is deleted, and the step's connector
names are deterministic (``kmigrate-PLAN-source``), so without a reset a new run
resumes at the old offsets and skips what the first run copied.

Runs only with ``--broker apache-kafka``: a real Kafka Connect 4.1 cluster (2
workers, the module-scoped ``connect`` fixture of ``tests/support/mm2_connect``),
the real Apache Kafka pair, kmigrate as a separate process; every count is checked
per partition by an independent read-back (kafka-python, not kmigrate's reader).

Checked before the fix (these tests, less their assertions on the new output
lines, on the code without the reset): the second run's connector resumed at the
first run's offsets, the step still said "snapshot complete" and exited 0, and the
target held only the records produced in between (1,000 of 4,000: 167 of 667 per
partition; 500 of 3,500): both tests failed on the per-partition counts.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from kmigrate.adapters import kafka_connect
from kmigrate.adapters.connect_rest import ConnectRest
from tests.conftest import Brokers, create_topic, produce
from tests.engines.test_mm2_engine import _env, _run
from tests.support.faults import independent_read, topic_partitions, without_offsets
from tests.support.mm2_connect import PARTITIONS, TARGET_PASSWORD, clusters_yaml, records

pytestmark = pytest.mark.timeout(900)


def _plan(tmp_path: Path, brokers: Brokers, url: str, topic: str, name: str) -> Path:
    """Provision (export + provision-topics: the target topic is kmigrate's, so
    rollback deletes it), then an MM2 snapshot copy (bounded by ``max_duration``)."""
    path = tmp_path / "plan.yaml"
    path.write_text(
        f"""\
version: 1
name: {name}
state_dir: state
{clusters_yaml(brokers, TARGET_PASSWORD)}topics:
  include: ["{topic}"]
phases:
  - name: provision
    steps:
      - action: export-topics
        output: snapshots/topics.yaml
      - action: provision-topics
  - name: copy
    steps:
      - action: mirror
        engine: mirrormaker2
        max_duration: 150
        connect: {{url: '{url}', tasks_max: 2, replication_factor: 3, poll_s: 0.5,
                   running_timeout_s: 120}}
"""
    )
    return path


def _execute(plan: Path, env: dict[str, str]) -> str:
    """Both phases; returns the output (exit 0 asserted)."""
    out = ""
    for phase in ("provision", "copy"):
        code, text = _run(plan, env, "execute", str(plan), "--phase", phase, "--yes")
        print(text)
        assert code == 0, text
        out += text
    return out


def _counts(rows: dict[int, list[Any]]) -> dict[int, int]:
    return {p: len(v) for p, v in rows.items()}


def _assert_whole_copy(brokers: Brokers, topic: str, total: int) -> None:
    """The target holds every source record, per partition: the exact count, and the
    same records (key, value, headers, timestamp) in order."""
    want = without_offsets(independent_read(brokers.source, topic))
    got = without_offsets(independent_read(brokers.target, topic))
    assert sum(len(v) for v in want.values()) == total
    assert _counts(got) == _counts(want)
    assert got == want


def _start(brokers: Brokers, prefix: str) -> str:
    topic = prefix + "orders"
    create_topic(brokers.source, topic, PARTITIONS)
    produce(brokers.source, topic, records(0, 3000))
    return topic


def test_a_run_after_rollback_copies_every_record_again(
    connect: kafka_connect.ConnectCluster, brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Run the plan (the target topic provisioned, 3,000 records copied), roll it back
    (the connector's source offsets reset: it is re-created STOPPED, reset and
    deleted; the target topic deleted by provision-topics' rollback), produce 1,000
    more, run again: the target holds all 4,000 source records, exact per
    partition, and the connector is gone afterwards."""
    topic = _start(brokers, prefix)
    name = prefix + "rb"
    source = f"kmigrate-{name}-source"
    plan = _plan(tmp_path, brokers, connect.url(0), topic, name)
    env = _env(brokers, TARGET_PASSWORD)

    out = _execute(plan, env)
    assert f"created connector {source} on Kafka Connect at {connect.url(0)} STOPPED" in out
    assert f"connector {source} had no source offsets" in out
    _assert_whole_copy(brokers, topic, 3000)

    code, out = _run(plan, env, "rollback", str(plan), "--yes")
    print(out)
    assert code == 0, out
    assert f"re-created connector {source} on Kafka Connect at {connect.url(0)} STOPPED" in out
    assert (
        f"connector {source}'s stored source offsets (6 source partitions) reset (KIP-875)" in out
    )
    assert f"deleted connector {source} on Kafka Connect at {connect.url(0)} again" in out
    assert not topic_partitions(brokers.target, topic), "provision's rollback deletes it"
    rest = ConnectRest(connect.url(0))
    assert source not in rest.connectors()

    produce(brokers.source, topic, records(3000, 1000))
    out = _execute(plan, env)
    assert f"connector {source} had no source offsets" in out  # rollback reset them
    assert "snapshot complete" in out
    _assert_whole_copy(brokers, topic, 4000)
    assert source not in rest.connectors()


def test_a_fresh_run_resets_offsets_an_earlier_run_left(
    connect: kafka_connect.ConnectCluster, brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The plan runs, then its state folder (journal) is removed and the target topic
    deleted outside kmigrate (no rollback: Connect still holds the connector's source
    offsets); run again, a fresh run: it creates the connector STOPPED, says "had
    source offsets from an earlier run; reset (KIP-875)", and copies every record,
    exact per partition; MM2's offset syncs from the earlier run are not checked
    against this run's map (0 disagree)."""
    topic = _start(brokers, prefix)
    name = prefix + "fr"
    source = f"kmigrate-{name}-source"
    plan = _plan(tmp_path, brokers, connect.url(0), topic, name)
    env = _env(brokers, TARGET_PASSWORD)
    _execute(plan, env)
    _assert_whole_copy(brokers, topic, 3000)

    shutil.rmtree(plan.parent / "state")
    admin = AdminClient({"bootstrap.servers": brokers.target})
    admin.delete_topics([topic])[topic].result()
    produce(brokers.source, topic, records(3000, 500))
    for _ in range(60):  # topic deletion is asynchronous
        if not topic_partitions(brokers.target, topic):
            break
        time.sleep(0.5)

    out = _execute(plan, env)
    assert f"connector {source} had source offsets from an earlier run" in out
    assert "reset (KIP-875)" in out
    _assert_whole_copy(brokers, topic, 3500)
    # MM2's offset-syncs topic still holds the first run's syncs (they point into the
    # deleted topic): only those written since this run started are checked.
    assert re.search(r"exact map, 0 disagree", out), out
    assert "disagrees with the exact map" not in out

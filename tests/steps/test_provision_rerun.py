"""A topic added on the source after provisioning: the advice given works, nothing is stuck.

Real brokers: provision, add a topic on the source, mirror refuses with a
command; that exact command re-runs export-topics and provision-topics, which
create only the missing topic; the mirror then completes and verifies; a
rollback deletes the topics of both provisioning runs and only those.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.cli import cli
from tests.conftest import STANDARD_PHASES, Brokers, create_topic, produce, read_all, write_plan

pytestmark = pytest.mark.broker


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def seed(bootstrap: str, topic: str, n: int) -> None:
    produce(
        bootstrap,
        topic,
        [{"key": f"k{i}".encode(), "value": b"v", "partition": i % 2} for i in range(n)],
    )


def test_a_topic_added_after_provisioning_is_created_by_the_advised_rerun(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    first, late, theirs = f"{prefix}first", f"{prefix}late", f"{prefix}theirs"
    for topic in (first, theirs):
        create_topic(brokers.source, topic, 2)
        seed(brokers.source, topic, 20)
    create_topic(brokers.target, theirs, 2)  # on the target before kmigrate: never deleted
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], STANDARD_PHASES)
    for phase in ("preflight", "provision"):
        assert run("execute", str(plan), "--phase", phase).exit_code == 0
    create_topic(brokers.source, late, 2)
    seed(brokers.source, late, 30)
    source_before = {t: read_all(brokers.source, t, 2) for t in (first, late, theirs)}

    stuck = run("execute", str(plan), "--phase", "mirror")

    assert stuck.exit_code == 1
    found = re.search(
        r"create them with: (kmigrate execute .*?); then run this step again",
        " ".join(stuck.output.split()),
    )
    assert found, stuck.output
    assert f"topics missing on the target: {late};" in stuck.output
    advice = shlex.split(found.group(1))
    assert advice == [
        "kmigrate",
        "execute",
        str(plan),
        "--phase",
        "provision",
        "--rerun",
        "export-topics",
        "--rerun",
        "provision-topics",
    ]

    rerun = run(*advice[1:])

    assert rerun.exit_code == 0, rerun.output
    assert f"created topic {late}" in rerun.output
    assert f"created topic {first}" not in rerun.output
    steps = {
        s["id"]: s for s in json.loads(run("status", str(plan), "--output", "json").stdout)["steps"]
    }
    record = steps["provision-topics"]["record"]
    assert record["created"] == sorted([first, late])
    assert record["existing"] == [theirs]

    mirrored = run("execute", str(plan), "--phase", "mirror")
    assert mirrored.exit_code == 0, mirrored.output
    assert "all 6 partitions match (70 records)" in mirrored.output

    rolled = run("rollback", str(plan), "--yes")

    assert rolled.exit_code == 0, rolled.output
    target_topics = KafkaCluster("target", brokers.target).topics()
    assert first not in target_topics
    assert late not in target_topics
    assert theirs in target_topics
    assert {t: read_all(brokers.source, t, 2) for t in (first, late, theirs)} == source_before

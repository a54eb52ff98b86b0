"""Issue 15, the fenced cutover: ``source-quiet`` and ``consumers-on-target`` on real
brokers, run through ``kmigrate execute`` and journaled.

* ``source-quiet`` with a live producer writing to the source (refused, naming the
  partitions written to with their rates; a topic nobody writes to is not named), and
  after the producer stopped (passes).
* ``consumers-on-target`` after a real mirror and ``translate-offsets``: without a
  consumer on the target it is refused after ``timeout_s``; with a consumer of the
  group started on the target it passes; a group still consuming on the source is named.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.cli import cli
from tests.conftest import Brokers, create_topic, produce, write_plan
from tests.support.clients import commit
from tests.support.cutover_clients import Consuming, journal_record
from tests.support.live_producer import LiveProducer

pytestmark = pytest.mark.broker


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def evidence_summary(plan: Path, step: str) -> str:
    """The evidence report's one-line summary of a step (``kmigrate report``'s JSON)."""
    made = run("report", str(plan))
    assert made.exit_code == 0, made.output
    data = json.loads((plan.parent / "state" / "reports" / "evidence.json").read_text())
    (row,) = [s for s in data["steps"] if s["id"] == step]
    summary: str = row["summary"]
    return summary


QUIET = """\
phases:
  - name: fence
    steps:
      - action: source-quiet
        quiet_s: 3
        interval_s: 0.5
"""


def test_source_quiet_refuses_a_live_producer_and_passes_once_it_stopped(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Refused while a producer writes about 300 records/s to two partitions of one
    topic: the refusal and the journal name exactly those partitions, with a rate; the
    idle topic is not named.  Once the producer stopped, the same step passes and
    journals ``quiet: true``."""
    busy, idle = f"{prefix}orders", f"{prefix}audit"
    create_topic(brokers.source, busy, 3)
    create_topic(brokers.source, idle, 1)
    produce(brokers.source, idle, [{"key": b"k", "value": b"v"}])
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], QUIET)
    producer = LiveProducer(brokers.source, busy, [0, 1], total=3_000, rate=300)
    producer.start()
    try:
        while producer.sent < 100:
            time.sleep(0.05)
        refused = run("execute", str(plan), "--phase", "fence")
        assert producer.is_alive(), "the producer ended before the check finished watching"
    finally:
        producer.join(60)

    assert refused.exit_code == 1, refused.output
    record = journal_record(plan, "source-quiet")
    assert record["quiet"] is False
    assert record["partitions"] == 4
    writing = {(w["topic"], w["partition"]): w for w in record["writing"]}
    assert set(writing) == {(busy, 0), (busy, 1)}
    for w in writing.values():
        assert w["records"] > 0
        assert w["records_per_s"] == pytest.approx(w["records"] / record["watched_s"], rel=0.01)
    out = " ".join(refused.output.split())
    assert f"{busy}[0]:" in out and f"{busy}[1]:" in out and "records/s" in out
    assert f"{idle}[0]" not in out and f"{busy}[2]" not in out

    time.sleep(1)  # the producer flushed; let the last batch's high watermark settle
    passed = run("execute", str(plan), "--phase", "fence")

    assert passed.exit_code == 0, passed.output
    record = journal_record(plan, "source-quiet")
    assert record["quiet"] is True and record["writing"] == []
    assert record["watched_s"] >= 3 and record["samples"] >= 6
    assert evidence_summary(plan, "source-quiet").startswith("quiet for ")


def test_source_quiet_refuses_a_source_that_lists_no_selected_topic(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Nothing to watch is not "quiet": a source that lists no selected topic (restarting,
    or the wrong cluster) is refused at once, not passed.  Failed before the check was
    added (a vacuous pass with 0 partitions)."""
    plan = write_plan(tmp_path, brokers, [f"{prefix}nothing-*"], QUIET)

    refused = run("execute", str(plan), "--phase", "fence")

    assert refused.exit_code == 1, refused.output
    assert "no selected topic on the source: nothing to watch" in " ".join(refused.output.split())


CUTOVER = """\
phases:
  - name: copy
    steps:
      - action: provision-topics
      - action: mirror
  - name: translate
    steps:
      - action: translate-offsets
        groups: {include: ["PREFIX*"]}
  - name: resume
    steps:
      - action: consumers-on-target
        timeout_s: 4
        interval_s: 0.5
"""


def migrated_group(brokers: Brokers, prefix: str, tmp_path: Path) -> tuple[Path, str, str]:
    """A topic mirrored and a group translated for real (phases copy and translate)."""
    topic, group = f"{prefix}orders", f"{prefix}billing"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"key": b"k%d" % i, "value": b"v", "partition": i % 2}
                                    for i in range(20)])  # fmt: skip
    commit(brokers.source, group, {(topic, 0): 6, (topic, 1): 4})
    plan = write_plan(tmp_path, brokers, [topic], CUTOVER.replace("PREFIX", prefix))
    for phase in ("copy", "translate"):
        done = run("execute", str(plan), "--phase", phase)
        assert done.exit_code == 0, done.output
    assert journal_record(plan, "translate-offsets")["groups"][0]["status"] == "translated"
    return plan, topic, group


def test_consumers_on_target_refused_after_the_timeout_without_a_consumer_then_passes(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """No consumer of the translated group on the target: refused once ``timeout_s``
    (4 s) has passed, naming the group and "no members on the target".  With a
    consumer of the group started on the target: passes, journaling its state."""
    plan, topic, group = migrated_group(brokers, prefix, tmp_path)

    t0 = time.monotonic()
    refused = run("execute", str(plan), "--phase", "resume")
    took = time.monotonic() - t0

    assert refused.exit_code == 1, refused.output
    assert took >= 4
    out = " ".join(refused.output.split())
    assert f"{group}: no members on the target" in out
    record = journal_record(plan, "consumers-on-target")
    assert record["holds"] is False and record["waited_s"] >= 4
    assert [(g["group"], g["holds"]) for g in record["groups"]] == [(group, False)]

    with Consuming(brokers.target, group, topic):
        passed = run("execute", str(plan), "--phase", "resume")

    assert passed.exit_code == 0, passed.output
    record = journal_record(plan, "consumers-on-target")
    assert record["holds"] is True
    (seen,) = record["groups"]
    assert seen["group"] == group and seen["behind"] == [] and seen["problems"] == []
    assert seen["target_state"] not in ("EMPTY", "DEAD")
    assert evidence_summary(plan, "consumers-on-target") == (
        "1 of 1 consumer groups resumed on the target"
    )


def test_consumers_on_target_names_a_group_still_consuming_on_the_source(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A consumer of the group on the target and another still on the source: refused,
    naming the group as still active on the source."""
    plan, topic, group = migrated_group(brokers, prefix, tmp_path)

    with Consuming(brokers.target, group, topic), Consuming(brokers.source, group, topic):
        refused = run("execute", str(plan), "--phase", "resume")

    assert refused.exit_code == 1, refused.output
    assert f"{group}: still active on the source" in " ".join(refused.output.split())
    (seen,) = journal_record(plan, "consumers-on-target")["groups"]
    assert seen["source_state"] not in ("EMPTY", "DEAD")
    assert len(seen["problems"]) == 1  # the target side holds; only the source is wrong


def test_a_dry_run_describes_both_checks_without_watching_or_waiting(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """``execute --dry-run`` says what each check would watch or wait for, and returns
    at once (quiet_s and timeout_s 600 here), as verify's dry run does."""
    create_topic(brokers.source, f"{prefix}orders", 2)
    plan = write_plan(tmp_path, brokers, [f"{prefix}*"], """\
phases:
  - name: fence
    steps:
      - action: source-quiet
        quiet_s: 600
      - action: consumers-on-target
        timeout_s: 600
""")  # fmt: skip

    t0 = time.monotonic()
    done = run("execute", str(plan), "--phase", "fence", "--dry-run")

    assert done.exit_code == 0, done.output
    assert time.monotonic() - t0 < 60
    said = " ".join(done.output.split())
    assert "would watch the high watermarks of 2 partitions of 1 source topics for 600 s" in said
    assert "would wait up to 600 s for the consumer groups to resume on the target" in said

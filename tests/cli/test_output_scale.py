"""Issue 18, part 6: output that holds at thousands of partitions.

Each test failed on the main branch before the fix (commit 2d5dc72); the
docstrings say how.  Data is written and read back with the tests' own client.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kmigrate.cli import cli
from kmigrate.engines.base import TopicLag, lag_line
from kmigrate.ui import UI
from tests.conftest import (
    Brokers,
    create_on_both,
    create_topic,
    produce,
    read_all,
    source_and_target,
)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def partition_rows(output: str, prefix: str) -> list[str]:
    """Lines of a per-partition table: a topic name, then a partition number."""
    return [line for line in output.splitlines() if re.match(rf"{prefix}\S+\s+\d+\s+\[", line)]


def verify_rows(output: str, prefix: str) -> list[str]:
    """Lines of verify's per-partition table: topic, partition, records, offsets."""
    row = re.compile(rf"{prefix}\S+\s+\d+\s+\d+\s+(\d+\.\.\d+|-)\s")
    return [line for line in output.splitlines() if row.match(line)]


@pytest.mark.broker
def test_mirror_and_verify_show_a_row_per_topic_and_every_differing_partition(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """3 topics of 8 partitions: mirror and verify print one row per topic and
    every partition that differs (here one, made to differ on the target),
    ``--details`` every partition.  On main both printed all 24 partition rows
    and had no ``--details``."""
    topics = [f"{prefix}t{i}" for i in range(3)]
    for topic in topics:
        create_on_both(brokers, topic, 8)
        produce(
            brokers.source,
            topic,
            [{"key": b"k%d" % i, "value": b"v", "partition": i % 8} for i in range(40)],
        )
    pair = [*source_and_target(brokers), "--topic", f"{prefix}*"]

    mirrored = run("mirror", *pair, "--state-dir", str(tmp_path / "state"))

    assert mirrored.exit_code == 0, mirrored.output
    assert partition_rows(mirrored.output, prefix) == []
    for topic in topics:
        assert re.search(rf"^{topic}\s+8\s+40\s+40\s+0$", mirrored.output, re.M), mirrored.output
    assert "--details for all 24 partitions" in mirrored.output
    assert [(r.partition, r.key) for r in read_all(brokers.target, topics[0], 8)] == [
        (r.partition, r.key) for r in read_all(brokers.source, topics[0], 8)
    ]
    produce(brokers.target, topics[1], [{"key": b"extra", "value": b"x", "partition": 3}])

    verified = run("verify", *pair)

    assert verified.exit_code == 1
    differing = verify_rows(verified.output, prefix)
    assert len(differing) == 1 and differing[0].split()[:2] == [topics[1], "3"]
    assert re.search(rf"^{topics[1]}\s+8\s+7\s+1\s+40\s+41\s+DIFFERS$", verified.output, re.M)
    detailed = run("verify", *pair, "--details")
    assert len(verify_rows(detailed.output, prefix)) == 24
    mirrored_again = run(
        "mirror", *pair, "--append", "--details", "--state-dir", str(tmp_path / "again")
    )
    assert len(partition_rows(mirrored_again.output, prefix)) == 24


def test_the_lag_note_is_one_short_line_however_many_topics() -> None:
    """A following mirror's lag over 400 topics: one line naming the total and
    the three topics most behind, not one entry per topic.  On main it listed
    every topic (10,430 characters at 401 topics)."""
    lag = {f"topic-{i:04d}": TopicLag(i % 7, 0.1 * (i % 5)) for i in range(400)}

    text = lag_line(lag)

    behind = sum(v.records for v in lag.values())
    assert len(text) < 200, text
    assert text.startswith(f"lag: {behind:,} records over ")
    assert "of 400 topics" in text
    assert text.count("topic-") == 3


@pytest.mark.broker
def test_provision_prints_a_total_not_a_line_per_topic(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """25 topics: provision prints how many it created (and the translation
    with alike rows grouped), not 25 "created topic" lines.  On main it
    printed a line per topic and no total."""
    for i in range(25):
        create_topic(brokers.source, f"{prefix}p{i:02d}", 2)
    snapshot = tmp_path / "topics.yaml"
    exported = run(
        "export", "--source", brokers.source, "--topic", f"{prefix}*", "-o", str(snapshot)
    )
    assert exported.exit_code == 0, exported.output

    result = run("provision", str(snapshot), "--target", brokers.target)

    assert result.exit_code == 0, result.output
    assert "created 25 topics (50 partitions)" in result.output
    assert "created topic" not in result.output
    assert "provision: 25 topics created, 0 already on the target, 25 in the snapshot" in (
        result.output
    )
    assert len(result.output.splitlines()) < 15, result.output
    for i in (0, 24):
        assert len(read_all(brokers.target, f"{prefix}p{i:02d}", 2)) == 0  # there, and empty


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_line_is_wider_than_the_attached_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a 60-column terminal, a wide table is wrapped column by column and a
    long line is wrapped, nothing cut.  On main both ran past the edge."""
    monkeypatch.setattr(
        shutil, "get_terminal_size", lambda fallback=(0, 0): os.terminal_size((60, 24))
    )
    out = _Terminal()
    ui = UI(out=out)
    long = "MISMATCH at source offset 12, target offset 12: value differs " * 2

    ui.table([["orders", 0, long, "x" * 30]], ["topic", "partition", "verdict", "digest"])
    ui.line("lag: " + ", ".join(f"topic-{i} 12 records, 0.4 s" for i in range(10)))
    ui.warn("appending after records already on the target in 20 partitions (append: true)")
    nine = ["topic", "partition", "source records", "source offsets", "target records"]
    nine += ["target offsets", "source digest", "target digest", "verdict"]
    ui.table([["orders", 3, 3000, "0..2999", 3000, "0..2999", "a" * 12, "b" * 12, long]], nine)

    lines = click.unstyle(out.getvalue()).splitlines()  # colours take no columns
    assert max(len(line) for line in lines) <= 60, lines
    words = " ".join(out.getvalue().split())
    assert "value differs" in words and "topic-9 12 records, 0.4 s" in words
    assert "(append: true)" in words and "target digest: bbbbbbbbbbbb" in words


def test_a_long_url_is_a_footnote_printed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a 60-column terminal a long URL becomes ``[1]``, printed whole once on
    its own footnote line however often it is mentioned; every other line fits.
    On main it was printed inline each time, past the edge."""
    monkeypatch.setattr(
        shutil, "get_terminal_size", lambda fallback=(0, 0): os.terminal_size((60, 24))
    )
    url = "https://learn.microsoft.com/en-us/azure/event-hubs/event-hubs-quotas#basic-vs-standard"
    out = _Terminal()
    ui = UI(out=out)

    ui.warn(f"the namespace's tier allows 10 hubs; see {url} for the limits")
    ui.line(f"and again: {url}")

    text = click.unstyle(out.getvalue())
    assert text.count(url) == 1
    assert f"  [1] {url}" in text.splitlines()
    assert "and again: [1]" in text
    assert all(len(line) <= 60 for line in text.splitlines() if url not in line)


def test_a_piped_output_keeps_whole_lines() -> None:
    """To a file or pipe (a log), lines are not wrapped.  (Guards the width rule
    above: it applies only when a terminal is attached.)"""
    out = io.StringIO()
    UI(out=out).line("x" * 300)
    assert out.getvalue() == "x" * 300 + "\n"


def test_plan_shows_rollback_texts_whole(tmp_path: Path) -> None:
    """A manual step's 150-character rollback text appears whole (wrapped) in
    ``plan``'s checklist.  On main it was cut at 60 characters with no mark."""
    text = (
        "Point every consumer of the orders service back at the source cluster, restart "
        "the deployments one by one and confirm that the lag dashboard is green again"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\nname: wrap\n"
        "clusters:\n"
        "  source: {type: kafka, bootstrap_servers: '127.0.0.1:9'}\n"
        "  target: {type: kafka, bootstrap_servers: '127.0.0.1:10'}\n"
        "topics: {include: ['*']}\n"
        "phases:\n"
        "  - name: cutover\n"
        "    steps:\n"
        f"      - manual: Point consumers at the target\n        rollback: {text}\n"
    )

    result = run("plan", str(plan), "--offline")

    assert result.exit_code == 0, result.output
    # Every word, in order (the wrapped cell's lines sit beside other columns' lines).
    shown = iter(result.output.split())
    assert all(word in shown for word in text.split()), result.output

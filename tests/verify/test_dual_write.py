"""The dual-write check: records both clusters received in a window, as multisets by key.

The comparison is tested pure (hand-built tallies) and end to end against the two
real local brokers, where each cluster gets its own partitioning, order and
timestamps, as it does under dual writes.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Producer

from kmigrate.cli import cli
from kmigrate.verify.dual_write import SideTally, Window, compare_topic
from kmigrate.verify.instants import format_instant, parse_instant
from tests.conftest import (
    Brokers,
    create_on_both,
    create_topic,
    produce,
    source_and_target,
    write_plan,
)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tally(*records: tuple[bytes | None, bytes | None], edge: bool = False) -> SideTally:
    side = SideTally()
    for key, value in records:
        side.add(key, value, [("h", b"1")], edge=edge)
    return side


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        # (only on source, only on target, differing, matched)
        ([(b"a", b"1"), (b"b", b"2")], [(b"b", b"2"), (b"a", b"1")], (0, 0, 0, 2)),
        ([(b"a", b"1"), (b"b", b"2")], [(b"a", b"1")], (1, 0, 0, 1)),
        ([(b"a", b"1")], [(b"a", b"1"), (b"c", b"3")], (0, 1, 0, 1)),
        ([(b"a", b"1")], [(b"a", b"X")], (0, 0, 1, 0)),
        ([(b"a", b"1"), (b"a", b"1")], [(b"a", b"1")], (1, 0, 0, 1)),
        ([(b"a", None)], [(b"a", b"")], (0, 0, 1, 0)),
        ([(None, b"1")], [(b"", b"1")], (1, 1, 0, 0)),
        ([(b"a", b"1"), (b"a", b"2")], [(b"a", b"2"), (b"a", b"3")], (0, 0, 1, 1)),
    ],
)
def test_compare_counts_each_kind_of_difference(
    source: list[tuple[bytes | None, bytes | None]],
    target: list[tuple[bytes | None, bytes | None]],
    expected: tuple[int, int, int, int],
) -> None:
    result = compare_topic("t", tally(*source), tally(*target))
    assert (
        result.only_on_source,
        result.only_on_target,
        result.differing,
        result.matched,
    ) == expected
    assert result.match == (expected[:3] == (0, 0, 0))


def test_headers_count_and_keys_are_named_printable_and_truncated() -> None:
    source, target = SideTally(), SideTally()
    long_key = b"k" * 100 + b"\xff"
    source.add(long_key, b"v", [("retry", b"1"), ("retry", b"2")])
    target.add(long_key, b"v", [("retry", b"2"), ("retry", b"1")])
    result = compare_topic("t", source, target)
    assert result.differing == 1
    (name,) = result.first_differing
    assert len(name) == 60 and name.endswith("…") and name.startswith("kkk")


def test_one_sided_records_at_an_edge_are_tolerated_not_reported() -> None:
    source = tally((b"a", b"1"))
    source.add(b"late", b"x", [], edge=True)
    target = tally((b"a", b"1"))
    target.add(b"early", b"y", [], edge=False)
    result = compare_topic("t", source, target)
    assert (result.only_on_source, result.tolerated_on_source) == (0, 1)
    assert (result.only_on_target, result.first_only_on_target) == (1, ["early"])


def test_window_classifies_by_timestamp_with_tolerance() -> None:
    w = Window(10_000, 20_000, 2_000)
    assert [w.classify(t) for t in (7_999, 8_000, 11_999, 12_000, 17_999, 18_000, 21_999)] == [
        None,
        "edge",
        "edge",
        "core",
        "core",
        "edge",
        "edge",
    ]
    assert w.classify(22_000) is None
    strict = Window(10_000, 20_000)
    assert [strict.classify(t) for t in (9_999, 10_000, 19_999, 20_000)] == [
        None,
        "core",
        "core",
        None,
    ]


def test_instants_parse_epoch_ms_and_iso_with_offset_only() -> None:
    assert parse_instant("1735700000000") == 1735700000000
    assert parse_instant("2025-01-01T03:00:00+01:00") == parse_instant("2025-01-01T02:00:00Z")
    assert format_instant(parse_instant("2025-01-01T02:00:00Z")) == "2025-01-01T02:00:00.000Z"
    with pytest.raises(ValueError, match="with a UTC offset"):
        parse_instant("2025-01-01T02:00:00")
    with pytest.raises(ValueError, match="expected epoch milliseconds or an ISO-8601"):
        parse_instant("yesterday")


def _records(keys: list[int], base_ts: int, partitions: int, *, shift: int = 0) -> list[dict]:
    """Records keyed k<i>, partitioned and stamped differently per ``shift``."""
    return [
        {
            "key": f"k{i}".encode(),
            "value": f"value-{i}".encode(),
            "headers": [("trace", f"t{i}".encode())],
            "partition": (i + shift) % partitions,
            "timestamp": base_ts + 100 * n + shift * 7,
        }
        for n, i in enumerate(keys)
    ]


@pytest.mark.broker
def test_dual_write_reports_missing_extra_differing_and_ignores_order_and_partition(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    base = int(time.time() * 1000) - 60_000
    since, until = base, base + 30_000
    names = {kind: f"{prefix}{kind}" for kind in ("missing", "extra", "differ", "reordered")}
    for topic in names.values():
        create_topic(brokers.source, topic, 3)
        create_topic(brokers.target, topic, 2)  # another partition count on purpose
    keys = list(range(20))
    # Outside the window (before it) and only on the source: not a difference.
    produce(brokers.source, names["missing"], _records([99], base - 10_000, 3))
    produce(brokers.source, names["missing"], _records(keys, base, 3))
    produce(brokers.target, names["missing"], _records(keys[:7] + keys[8:], base, 2, shift=1))
    produce(brokers.source, names["extra"], _records(keys, base, 3))
    produce(brokers.target, names["extra"], _records([*keys, 42], base, 2, shift=1))
    produce(brokers.source, names["differ"], _records(keys, base, 3))
    changed = _records(keys, base, 2, shift=1)
    changed[3]["value"] = b"something else"
    produce(brokers.target, names["differ"], changed)
    produce(brokers.source, names["reordered"], _records(keys, base, 3))
    produce(brokers.target, names["reordered"], _records(keys[::-1], base, 2, shift=1))
    report = tmp_path / "dw.json"

    result = run(
        "verify",
        "--mode",
        "dual-write",
        *source_and_target(brokers),
        "--topic",
        f"{prefix}*",
        "--from",
        format_instant(since),
        "--to",
        str(until),
        "--report",
        str(report),
    )

    assert result.exit_code == 1, result.output
    assert "3 of 4 topics differ" in result.output
    data = json.loads(report.read_text())
    by_topic = {t["topic"]: t for t in data["topics"]}
    counts = {
        kind: (
            by_topic[t]["only_on_source"],
            by_topic[t]["only_on_target"],
            by_topic[t]["differing"],
        )
        for kind, t in names.items()
    }
    assert counts == {
        "missing": (1, 0, 0),
        "extra": (0, 1, 0),
        "differ": (0, 0, 1),
        "reordered": (0, 0, 0),
    }
    assert by_topic[names["missing"]]["first_only_on_source"] == ["k7"]
    assert by_topic[names["extra"]]["first_only_on_target"] == ["k42"]
    assert by_topic[names["differ"]]["first_differing"] == ["k3"]
    assert by_topic[names["reordered"]]["match"] is True
    assert by_topic[names["missing"]]["source_records"] == 20  # k99 is outside the window


@pytest.mark.broker
def test_dual_write_step_tolerates_in_flight_records_at_the_edge(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}edge"
    create_on_both(brokers, topic, 2)
    base = int(time.time() * 1000) - 60_000
    since, until = base, base + 10_000
    produce(brokers.source, topic, _records(list(range(10)), base + 1_000, 2))
    produce(brokers.target, topic, _records(list(range(10)), base + 1_000, 2, shift=1))
    # Written to the source just before the window closes, to the target just after.
    produce(brokers.source, topic, [{"key": b"late", "value": b"x", "timestamp": until - 500}])
    produce(brokers.target, topic, [{"key": b"late", "value": b"x", "timestamp": until + 500}])
    # Written to the source just before the window closed; the target never got it (in flight).
    produce(brokers.source, topic, [{"key": b"inflight", "value": b"y", "timestamp": until - 300}])
    plan = write_plan(
        tmp_path,
        brokers,
        [topic],
        f"""\
        phases:
          - name: check
            steps:
              - action: dual-write-check
                since: {since}
                until: "{format_instant(until)}"
                tolerance_s: 2
        """,
    )

    strict = run(
        "verify",
        "--mode=dual-write",
        *source_and_target(brokers),
        "--topic",
        topic,
        f"--from={since}",
        f"--to={until}",
        f"--state-dir={tmp_path / 'strict'}",
    )
    result = run("execute", str(plan), "--phase", "1")

    assert strict.exit_code == 1, strict.output
    data = json.loads((tmp_path / "strict" / "reports" / "dual-write.json").read_text())
    (only,) = data["topics"]
    assert (only["only_on_source"], sorted(only["first_only_on_source"])) == (
        2,
        ["inflight", "late"],
    )
    assert result.exit_code == 0, result.output
    assert "1 topics, 0 differing" in run("status", str(plan)).output
    assert "1 records within the tolerance of the window's edges not reported" in result.output
    data = json.loads((tmp_path / "state" / "reports" / "dual-write.json").read_text())
    (only,) = data["topics"]
    assert (only["tolerated_on_source"], only["only_on_source"], only["match"]) == (1, 0, True)


@pytest.mark.broker
def test_dual_write_step_watches_both_clusters_live_for_duration_s(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    topic = f"{prefix}live"
    create_topic(brokers.source, topic, 2)
    create_topic(brokers.target, topic, 3)
    plan = write_plan(
        tmp_path,
        brokers,
        [topic],
        """\
        phases:
          - name: check
            steps:
              - action: dual-write-check
                duration_s: 3
        """,
    )

    source_producer = Producer({"bootstrap.servers": brokers.source})
    target_producer = Producer({"bootstrap.servers": brokers.target})

    def dual_writer() -> None:
        time.sleep(0.5)  # inside the window, which opens when the step starts
        for i in range(10):
            record = {"key": f"k{i}".encode(), "value": b"v", "headers": [("h", b"1")]}
            source_producer.produce(topic, **record)  # type: ignore[arg-type]
            if i != 4:  # the target never gets k4
                target_producer.produce(topic, **record)  # type: ignore[arg-type]
        assert source_producer.flush(10) == 0 and target_producer.flush(10) == 0

    writer = threading.Thread(target=dual_writer)
    writer.start()
    result = run("execute", str(plan), "--phase", "1")
    writer.join()

    assert result.exit_code == 1, result.output
    assert "1 only on source, 0 only on target, 0 differing (source only: k4)" in result.output

"""Issue 15: the fenced cutover's algorithms on a scripted clock (no broker): the rates a
``source-quiet`` refusal names, and when ``consumers-on-target`` stops waiting.  The
real-broker tests are in tests/cutover/test_cutover_checks.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kmigrate.cutover.consumers import (
    GroupActivity,
    TranslatedGroup,
    translated_groups,
    wait_for_consumers,
)
from kmigrate.cutover.quiet import watch_quiet


class Clock:
    """A monotonic clock that moves only when slept."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_quiet_refusal_names_each_moving_partition_with_its_rate() -> None:
    """One partition gains 10 records per second for a 5 s window, another 1 record once,
    a third none: the refusal names the first two, busiest first, with 10.0 and 0.2
    records/s, and not the third."""
    clock = Clock()
    start = clock.now

    def ends(parts: Sequence[tuple[str, int]]) -> Mapping[tuple[str, int], int]:
        t = clock.now - start
        return {("orders", 0): 500 + int(10 * t), ("orders", 1): 7 + (t >= 3), ("audit", 0): 42}

    result = watch_quiet(
        ends, [("orders", 0), ("orders", 1), ("audit", 0)], 5, clock=clock, sleep=clock.sleep
    )

    assert not result.quiet
    assert [(w.topic, w.partition, w.records) for w in result.writing] == [
        ("orders", 0, 50),
        ("orders", 1, 1),
    ]
    assert result.seconds == 5 and result.samples == 6
    assert "orders[0]: 50 records in 5.0 s (10.0 records/s)" in result.refusal()
    assert "orders[1]: 1 records in 5.0 s (0.2 records/s)" in result.refusal()
    assert "audit" not in result.refusal()


def test_quiet_passes_when_no_high_watermark_moves() -> None:
    clock = Clock()
    result = watch_quiet(
        lambda parts: {p: 9 for p in parts}, [("a", 0)], 3, clock=clock, sleep=clock.sleep
    )
    assert result.quiet and result.as_record()["writing"] == []


def test_consumers_wait_until_the_group_resumes_and_stop_waiting_then() -> None:
    """The group gets members on the target at 6 s: the check holds then, after 4 looks
    (0, 2, 4, 6 s), not at the 30 s timeout."""
    clock = Clock()
    start = clock.now
    group = TranslatedGroup("billing", {("orders", 0): 10})

    def target(g: str) -> GroupActivity:
        up = clock.now - start >= 6
        return GroupActivity(
            "STABLE" if up else "EMPTY", ("app (m1 on /1.2.3.4)",) if up else (), up
        )

    result = wait_for_consumers(
        [group], target, lambda g: {("orders", 0): 12},
        lambda g: GroupActivity("EMPTY", (), False), 30, clock=clock, sleep=clock.sleep,
    )  # fmt: skip

    assert result.holds and result.looks == 4 and result.seconds == 6


def test_consumers_refused_at_the_timeout_naming_every_reason() -> None:
    """Behind its translated offset and still active on the source: refused at the timeout,
    naming both."""
    clock = Clock()
    group = TranslatedGroup("billing", {("orders", 0): 10, ("orders", 1): 4})

    result = wait_for_consumers(
        [group], lambda g: GroupActivity("STABLE", ("a",), True),
        lambda g: {("orders", 0): 9, ("orders", 1): 4},
        lambda g: GroupActivity("STABLE", ("old (m9 on /10.0.0.1)",), True),
        5, clock=clock, sleep=clock.sleep,
    )  # fmt: skip

    assert not result.holds and result.seconds == 5
    assert result.refusal() == (
        "1 of 1 consumer groups did not resume on the target within 5 s: billing: "
        "committed below its translated offsets: orders[0] committed 9 < translated 10; "
        "still active on the source (state STABLE; members: old (m9 on /10.0.0.1))"
    )


def test_only_groups_translate_offsets_applied_are_checked() -> None:
    record = {
        "groups": [
            {"group": "b", "status": "translated",
             "partitions": [{"topic": "t", "partition": 0, "target_offset": 3},
                            {"topic": "t", "partition": 1, "target_offset": None}]},
            {"group": "a", "status": "refused", "partitions": []},
            {"group": "c", "status": "would translate", "partitions": []},
        ]
    }  # fmt: skip
    assert translated_groups(record) == [TranslatedGroup("b", {("t", 0): 3})]

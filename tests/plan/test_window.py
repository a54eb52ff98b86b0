"""Tests for kmigrate.window: inside() and describe()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kmigrate.plan.schema import Window
from kmigrate.window import describe, inside

# 2024-06-07 is a Friday, 2024-06-08 a Saturday, 2024-06-09 a Sunday.
FRI, SAT, SUN = 7, 8, 9


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=UTC)


WEEKEND = Window(days=["sat", "sun"], start="02:00", end="04:00")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(SAT, 2, 0), True),  # opens inclusive
        (utc(SAT, 3, 0), True),
        (utc(SUN, 3, 59), True),
        (utc(SAT, 4, 0), False),  # closes exclusive
        (utc(SAT, 1, 59), False),
        (utc(FRI, 3, 0), False),  # not a listed day
    ],
)
def test_inside_on_listed_days(now: datetime, expected: bool) -> None:
    assert inside(WEEKEND, now) is expected


NIGHT = Window(days=["fri"], start="22:00", end="02:00")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(FRI, 21, 59), False),
        (utc(FRI, 22, 0), True),
        (utc(FRI, 23, 30), True),
        (utc(SAT, 1, 0), True),  # the night Friday opened
        (utc(SAT, 2, 0), False),
        (utc(SAT, 23, 0), False),  # Saturday does not open a window
        (utc(FRI, 1, 0), False),  # Thursday did not open one
    ],
)
def test_window_crossing_midnight(now: datetime, expected: bool) -> None:
    assert inside(NIGHT, now) is expected


def test_window_crossing_midnight_counts_for_the_opening_day_only() -> None:
    """At 01:00 on Saturday only a window opened on Friday applies."""
    opened_saturday = Window(days=["sat"], start="22:00", end="02:00")
    assert inside(opened_saturday, utc(SAT, 1, 0)) is False
    assert inside(opened_saturday, utc(SAT, 23, 0)) is True
    assert inside(opened_saturday, utc(SUN, 1, 0)) is True


def test_end_equal_to_start_is_a_full_day() -> None:
    window = Window(days=["fri"], start="06:00", end="06:00")
    assert inside(window, utc(FRI, 6, 0))
    assert inside(window, utc(SAT, 5, 59))
    assert not inside(window, utc(SAT, 6, 0))
    assert not inside(window, utc(FRI, 5, 59))


def test_timezone_window_checked_with_a_utc_datetime() -> None:
    """Europe/Berlin is UTC+2 in June: 02:00-04:00 Berlin is 00:00-02:00 UTC."""
    berlin = Window(days=["sat"], start="02:00", end="04:00", timezone="Europe/Berlin")
    assert inside(berlin, utc(SAT, 0, 30))
    assert inside(berlin, utc(SAT, 1, 59))
    assert not inside(berlin, utc(SAT, 2, 30))  # 04:30 in Berlin
    assert not inside(berlin, utc(FRI, 23, 30))  # 01:30 Saturday in Berlin


def test_timezone_moves_the_day() -> None:
    """23:30 UTC on Friday is 01:30 on Saturday in Berlin (summer time)."""
    berlin = Window(days=["sat"], start="01:00", end="03:00", timezone="Europe/Berlin")
    assert inside(berlin, utc(FRI, 23, 30))
    assert not inside(berlin, utc(SAT, 23, 30))  # 01:30 Sunday in Berlin


def test_timezone_winter_offset() -> None:
    """Europe/Berlin is UTC+1 in January."""
    berlin = Window(days=["mon"], start="09:00", end="10:00", timezone="Europe/Berlin")
    monday_0830_utc = datetime(2024, 1, 8, 8, 30, tzinfo=UTC)
    assert inside(berlin, monday_0830_utc)
    assert not inside(berlin, monday_0830_utc + timedelta(hours=1))


def test_now_in_another_zone_is_converted() -> None:
    window = Window(days=["sat"], start="02:00", end="04:00")  # UTC
    tokyo = utc(SAT, 3, 0).astimezone(ZoneInfo("Asia/Tokyo"))  # 12:00 in Tokyo
    assert inside(window, tokyo)


def test_describe() -> None:
    assert describe(WEEKEND) == "sat,sun 02:00-04:00 UTC"
    berlin = Window(days=["fri"], start="22:00", end="02:00", timezone="Europe/Berlin")
    assert describe(berlin) == "fri 22:00-02:00 Europe/Berlin"

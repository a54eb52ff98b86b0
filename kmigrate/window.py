"""Maintenance windows: may a phase run now?"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from kmigrate.plan.schema import DAYS, Window


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def inside(window: Window, now: datetime) -> bool:
    """True when aware datetime ``now`` falls inside ``window``.

    The window opens on each of ``days`` at ``start`` (local time in the
    window's zone) and closes at ``end``; an ``end`` at or before ``start``
    closes on the next day.
    """
    local = now.astimezone(ZoneInfo(window.timezone))
    start, end = _hhmm(window.start), _hhmm(window.end)
    for days_back in (0, 1):
        day = local.date() - timedelta(days=days_back)
        if DAYS[day.weekday()] not in window.days:
            continue
        opens = datetime.combine(day, start, tzinfo=local.tzinfo)
        closes = datetime.combine(day, end, tzinfo=local.tzinfo)
        if closes <= opens:
            closes += timedelta(days=1)
        if opens <= local < closes:
            return True
    return False


def describe(window: Window) -> str:
    """``sat,sun 02:00-04:00 UTC``."""
    return f"{','.join(window.days)} {window.start}-{window.end} {window.timezone}"

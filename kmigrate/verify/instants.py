"""Instants on the command line and in plans: epoch milliseconds or ISO-8601 with an offset."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


def parse_instant(value: str | int) -> int:
    """An instant as epoch milliseconds, from epoch ms or ISO-8601 with a UTC offset.

    ``1735700000000``, ``"1735700000000"``, ``"2026-11-24T02:00:00Z"`` and
    ``"2026-11-24T03:00:00+01:00"`` are accepted.  An ISO time without an
    offset is refused: at 2 a.m. "local time" of which machine is a guess.

    Raises:
        ValueError: anything else (the message says what was expected).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected epoch milliseconds or ISO-8601 time; found {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected epoch milliseconds >= 0; found {value}")
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "expected epoch milliseconds or an ISO-8601 time such as "
            f"2026-11-24T02:00:00Z; found {value!r}"
        ) from None
    if when.tzinfo is None:
        raise ValueError(
            f"expected an ISO-8601 time with a UTC offset (Z or +HH:MM); found {value!r}"
        )
    return int(when.timestamp() * 1000)


def format_instant(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC (``2026-11-24T02:00:00.000Z``)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def wait_until(ms: int, ui_line: Callable[[str], None], sleep: Callable[[float], None]) -> None:
    """Sleep until the wall clock passes ``ms`` (epoch ms), with a line now and then."""
    last_said = 0.0
    while True:
        left = ms / 1000 - time.time()
        if left <= 0:
            return
        if time.monotonic() - last_said >= 10:
            ui_line(f"watching both clusters: {left:,.0f} s left")
            last_said = time.monotonic()
        sleep(min(left, 1.0))


__all__ = ["format_instant", "parse_instant", "wait_until"]

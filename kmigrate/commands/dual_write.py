"""``kmigrate verify --mode dual-write``: compare a dual-write window without a plan."""

from __future__ import annotations

from pathlib import Path

from kmigrate.context import standalone_context
from kmigrate.errors import UsageError
from kmigrate.selection import select_topics
from kmigrate.steps.dual_write_check import run_dual_write
from kmigrate.ui import UI
from kmigrate.verify.dual_write import Window
from kmigrate.verify.instants import parse_instant

#: Where the report goes without ``--report``: ``<state-dir>/reports/<this>``.
REPORT_NAME = "dual-write.json"


def _instant(option: str, value: str | None) -> int:
    if value is None:
        raise UsageError(f"{option} is required with --mode dual-write")
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def verify_dual_write(
    source: str,
    target: str,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    ui: UI,
    *,
    since: str | None,
    until: str | None,
    tolerance_s: float = 0.0,
    state_dir: Path = Path(".kmigrate"),
    report: str | None = None,
    source_config: tuple[str, ...] = (),
    target_config: tuple[str, ...] = (),
) -> int:
    """Compare the records both clusters received in ``[since, until)``.  Returns 0 on a match.

    Args:
        since / until: epoch ms or ISO-8601 with a UTC offset.
        tolerance_s: records within this many seconds of an edge that only one
            side holds are counted as tolerated, not as differences.
        report: the JSON report's path (default ``<state_dir>/reports/dual-write.json``).

    Raises:
        UsageError: a missing or malformed instant, ``since`` not before ``until``,
            or a negative tolerance (exit 2).
        kmigrate.errors.VerificationFailed: a topic differs (exit 1).
    """
    since_ms, until_ms = _instant("--from", since), _instant("--to", until)
    if since_ms >= until_ms:
        raise UsageError(f"--from must be before --to; found {since!r} and {until!r}")
    if tolerance_s < 0:
        raise UsageError(f"--tolerance-s must be >= 0; found {tolerance_s}")
    ctx = standalone_context(
        source,
        target,
        ui,
        topics=topics,
        exclude=exclude,
        source_config=source_config,
        target_config=target_config,
    )
    names = select_topics(ctx.source.topics(), topics, exclude)
    path = Path(report) if report else state_dir / "reports" / REPORT_NAME
    record = run_dual_write(ctx, names, Window(since_ms, until_ms, int(tolerance_s * 1000)), path)
    ui.emit_json(record)
    return 0

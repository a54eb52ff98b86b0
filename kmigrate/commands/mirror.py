"""``kmigrate mirror``: copy topics between two clusters without a plan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, cast

from kmigrate import safefs
from kmigrate.context import standalone_context
from kmigrate.errors import StoppedByOperator, UsageError
from kmigrate.offsets.map import OffsetMap
from kmigrate.plan.schema import MirrorStep
from kmigrate.runtime.dry_run import dry_run_context
from kmigrate.steps.mirror import Mirror
from kmigrate.ui import UI


def _refuse_follow_options(until: str, settle_s: float, max_duration: float | None) -> None:
    """Follow options given without ``--follow``.

    Raises:
        kmigrate.errors.UsageError: naming each option given.
    """
    given = [
        name
        for name, used in (
            ("--until", until != "caught-up"),
            ("--settle-s", settle_s != 5.0),
            ("--max-duration", max_duration is not None),
        )
        if used
    ]
    if given:
        raise UsageError(f"only with --follow: {', '.join(given)}")


def mirror(
    source: str,
    target: str,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    ui: UI,
    *,
    dry_run: bool = False,
    append: bool = False,
    follow: bool = False,
    until: str = "caught-up",
    settle_s: float = 5.0,
    max_duration: float | None = None,
    state_dir: str | Path = ".kmigrate",
    allow_shared_state: bool = False,
    workers: int | None = None,
    source_config: tuple[str, ...] = (),
    target_config: tuple[str, ...] = (),
) -> int:
    """Copy the source's records (same code as the step), resuming from the offset
    map in ``state_dir``.  Returns 0, also when a following copy is stopped by
    SIGINT / SIGTERM (a clean, resumable stop).

    With ``follow``, keeps copying new records until ``until`` (``caught-up``:
    lag 0 held for ``settle_s`` seconds; ``stopped``: SIGINT / SIGTERM) or
    ``max_duration`` seconds.  ``workers``: processes the copy (snapshot or
    follow) is sharded over (default: the number of CPUs).  The JSON output
    (``--output json``) is the step record plus the offset map
    (``offset_map_runs``).  ``state_dir`` is created 0700; one another user
    owns or may write is refused unless ``allow_shared_state`` (then warned about).

    Raises:
        kmigrate.safefs.SharedStateError: ``state_dir`` is not private (exit 2).
        kmigrate.errors.StepFailed: the target refused records, lacks a topic,
            or already holds records the map does not know (without ``append``).
        kmigrate.errors.RecordsLost: records were lost on either side (named).
        kmigrate.errors.UsageError: a ``KEY=VALUE`` setting is malformed, or a
            follow option is given without ``follow``.
    """
    if not follow:
        _refuse_follow_options(until, settle_s, max_duration)
    folder = Path(state_dir)
    if (not dry_run or os.path.lexists(folder)) and safefs.private_dir(
        folder, allow_shared=allow_shared_state
    ):
        ui.warn(f"--allow-shared-state: going on although {safefs.dir_problem(folder)}")
    ctx = standalone_context(
        source,
        target,
        ui,
        topics=topics,
        exclude=exclude,
        source_config=source_config,
        target_config=target_config,
    )
    ctx.state_dir = Path(state_dir)
    if dry_run:
        ctx = dry_run_context(ctx)
    records: list[dict[str, object]] = []
    ctx.checkpoint = records.append
    spec = MirrorStep(
        action="mirror",
        append=append,
        mode="follow" if follow else "snapshot",
        until=cast(Literal["caught-up", "stopped"], until),
        settle_s=settle_s,
        max_duration=max_duration,
        workers=workers,
    )
    try:
        record = Mirror(spec).run(ctx, {})
    except StoppedByOperator as exc:
        ui.ok(str(exc))
        record = exc.record
    ui.emit_json({**record, "offset_map_runs": OffsetMap.load(ctx.state_dir).as_json()})
    return 0

"""``kmigrate mirror``: copy topics between two clusters without a plan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, cast

from pydantic import ValidationError

from kmigrate import safefs
from kmigrate.context import standalone_context
from kmigrate.engines.mirrormaker2.spec import (
    Mm2ClusterSpec,
    Mm2Pair,
    Mm2Selection,
    Mm2TopicSelection,
)
from kmigrate.errors import StoppedByOperator, UsageError
from kmigrate.offsets.map import OffsetMap
from kmigrate.plan.schema import ConnectSpec, MirrorStep
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
    engine: tuple[str, str | None, int | None] = ("native", None, None),
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
        kmigrate.errors.UsageError: a ``KEY=VALUE`` setting is malformed, a
            follow option is given without ``follow``, or the engine options do
            not fit (``--connect-url`` is needed with, and only with, mirrormaker2).

    ``engine``: ``(name, Connect REST URL, tasks_max)``; ``mirrormaker2`` copies
    with MM2 connectors there, as the step does (configs: :func:`mm2_selection`).
    """
    if not follow:
        _refuse_follow_options(until, settle_s, max_duration)
    connect = _connect_spec(*engine)
    _private_state_dir(Path(state_dir), dry_run, allow_shared_state, ui)
    ctx = standalone_context(
        source, target, ui, topics=topics, exclude=exclude,
        source_config=source_config, target_config=target_config,
    )  # fmt: skip
    ctx.state_dir = Path(state_dir)
    if connect is not None:
        ctx.mm2_plan = mm2_selection(
            (source, source_config), (target, target_config), topics, exclude
        )
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
        engine="mirrormaker2" if connect is not None else "native",
        connect=connect,
    )
    try:
        record = Mirror(spec).run(ctx, {})
    except StoppedByOperator as exc:
        ui.ok(str(exc))
        record = exc.record
    ui.emit_json({**record, "offset_map_runs": OffsetMap.load(ctx.state_dir).as_json()})
    return 0


def _private_state_dir(folder: Path, dry_run: bool, allow_shared: bool, ui: UI) -> None:
    """Create ``folder`` 0700 (not in a dry run) or check it is private.

    Raises:
        kmigrate.safefs.SharedStateError: not private, without ``allow_shared``.
    """
    if (not dry_run or os.path.lexists(folder)) and safefs.private_dir(
        folder, allow_shared=allow_shared
    ):
        ui.warn(f"--allow-shared-state: going on although {safefs.dir_problem(folder)}")


def _connect_spec(name: str, url: str | None, tasks_max: int | None) -> ConnectSpec | None:
    """The ``connect`` block of ``--engine mirrormaker2 --connect-url URL
    [--tasks-max N]``; None for the native engine.

    Raises:
        kmigrate.errors.UsageError: ``--connect-url`` missing with mirrormaker2, or
            ``--connect-url`` / ``--tasks-max`` given without it, or not a URL.
    """
    if name != "mirrormaker2":
        given = [o for o, v in (("--connect-url", url), ("--tasks-max", tasks_max)) if v]
        if given:
            raise UsageError(f"only with --engine mirrormaker2: {', '.join(given)}")
        return None
    if not url:
        raise UsageError("--engine mirrormaker2 needs --connect-url (a Kafka Connect REST API)")
    try:
        return ConnectSpec(url=url, tasks_max=tasks_max or 1)
    except ValidationError as exc:
        raise UsageError(f"--connect-url: {exc.errors()[0]['msg']}") from None


def mm2_selection(
    source: tuple[str, tuple[str, ...]],
    target: tuple[str, tuple[str, ...]],
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
) -> Mm2Selection:
    """What MM2's configs are made from without a plan: each side's bootstrap servers
    and ``KEY=VALUE`` settings as given (references unresolved), the topic globs."""

    def side(bootstrap: str, pairs: tuple[str, ...]) -> Mm2ClusterSpec:
        config = dict(pair.partition("=")[::2] for pair in pairs)
        return Mm2ClusterSpec("kafka", bootstrap, config)

    return Mm2Selection(
        "mirror",
        Mm2Pair(side(*source), side(*target)),
        Mm2TopicSelection(tuple(topics), tuple(exclude)),
    )

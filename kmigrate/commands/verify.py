"""``kmigrate verify``: compare two clusters partition by partition without a plan.

With a state dir (``--state-dir``) verify reuses and extends the proven ranges
kept there (:mod:`kmigrate.verify.proof`) and aligns through the mirror's
offset map when the folder holds one; ``--follow`` verifies in rounds behind
a running mirror (:func:`kmigrate.verify.follow.follow`) until caught up or
stopped (SIGINT / SIGTERM: a clean, checkpointed stop, exit 0).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, cast

from kmigrate import safefs
from kmigrate.context import standalone_context
from kmigrate.errors import StoppedByOperator, UsageError
from kmigrate.offsets.map import FILE_NAME as MAP_FILE
from kmigrate.offsets.map import OffsetMap
from kmigrate.plan.schema import VerifyStep
from kmigrate.preflight import check_output_option
from kmigrate.selection import select_topics
from kmigrate.steps.verify import run_follow, run_verify
from kmigrate.ui import UI


def verify(
    source: str,
    target: str,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    ui: UI,
    *,
    report: str | None = None,
    workers: int | None = None,
    source_config: tuple[str, ...] = (),
    target_config: tuple[str, ...] = (),
    state_dir: str | Path | None = None,
    full: bool = False,
    follow: bool = False,
    until: str = "caught-up",
    settle_s: float = 5.0,
    max_duration: float | None = None,
    allow_shared_state: bool = False,
) -> int:
    """Compare the selected topics' partitions.  Returns 0 when all match (with
    ``follow``: when all proven so far match, however the following ended).

    ``workers``: processes the partitions are sharded over (default: the
    number of CPUs).  ``state_dir``: reuse the proven ranges kept there and
    align through the offset map it holds (None: read whole partitions, in
    order); ``full``: read everything again all the same.  ``follow``: verify
    behind the mirror until ``until`` (``caught-up``: every partition proven
    up to both sides' high watermarks for ``settle_s`` seconds; ``stopped``:
    SIGINT / SIGTERM) or ``max_duration`` seconds, printing the proof lag.

    Raises:
        kmigrate.errors.UsageError: ``report`` cannot be written (checked
            first), or options that do not go together.
        kmigrate.safefs.SharedStateError: ``state_dir`` is not private (exit 2).
        kmigrate.errors.VerificationFailed: a partition differs, or a re-check
            of the proof failed (exit 1); the message names the partition and
            the first differing offsets.
    """
    check_output_option("--report", report)
    if follow and full:
        raise UsageError("--full reads everything once; it cannot --follow")
    if follow and report:
        raise UsageError("--report is written by the final verify, not by --follow")
    folder = Path(state_dir) if state_dir is not None else None
    if (
        folder is not None
        and (follow or os.path.lexists(folder))
        and safefs.private_dir(folder, allow_shared=allow_shared_state)
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
    names = select_topics(ctx.source.topics(), topics, exclude)
    if follow:
        assert folder is not None
        ctx.state_dir = folder
        spec = VerifyStep(
            action="verify",
            mode="follow",
            until=cast(Literal["caught-up", "stopped"], until),
            settle_s=settle_s,
            max_duration=max_duration,
        )
        try:
            ui.emit_json(run_follow(ctx, names, spec))
        except StoppedByOperator as exc:
            ui.ok(str(exc))
            ui.emit_json(exc.record)
        return 0
    offset_map = None
    if folder is not None and (folder / MAP_FILE).exists():
        offset_map = OffsetMap.load(folder)
    record = run_verify(
        ctx,
        names,
        None,
        Path(report) if report else None,
        offset_map,
        workers=workers,
        proof_dir=None if full or folder is None else folder,
    )
    ui.emit_json(record)
    return 0

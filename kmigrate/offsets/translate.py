"""Consumer-group offset translation through the offset map (pure; no cluster access).

A committed offset is the offset of the next record the group will read.  It
maps to the target offset of that same record:

* ``record``: a copied record's offset maps to that record's target offset;
* ``gap``: an offset that holds no copied record (a transaction marker, a
  record compacted away, below the log start offset) maps to the target offset
  of the next copied record after it;
* ``end``: a committed offset at the source log end, when the mirror has read
  that far (its source position equals the source log end), maps to the
  target's copy position (the target log end when nobody else writes there);
* ``refused``: anything the map cannot answer exactly: the mirror has not
  copied up to the committed offset yet, or the offset is past the log end.

Source: the committed-offset semantics of the Kafka consumer (``position`` /
``commitSync``: "the offset of the next record the application will read").
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

RECORD, GAP, END, REFUSED = "record", "gap", "end", "refused"


class Run(Protocol):
    """What translation needs of a run (:class:`kmigrate.offsets.map.OffsetRun`)."""

    @property
    def source_start(self) -> int: ...

    @property
    def target_start(self) -> int: ...

    @property
    def length(self) -> int: ...


@dataclass(frozen=True)
class Translation:
    """Where one committed offset goes.

    Attributes:
        kind: ``record``, ``gap``, ``end`` or ``refused``.
        target_offset: the offset to commit on the target (None when refused).
        source_next: the source offset of the record a consumer at the committed
            offset reads next (None at the end, or when refused).
        reason: why it was refused.
    """

    kind: str
    target_offset: int | None
    source_next: int | None = None
    reason: str | None = None


def translate_offset(
    runs: Sequence[Run],
    committed: int,
    *,
    source_position: int,
    target_position: int,
    source_end: int,
) -> Translation:
    """Map one committed source offset through a partition's runs (module docstring).

    Args:
        runs: the partition's runs, in source order.
        committed: the group's committed source offset.
        source_position: the next source offset the mirror would read.
        target_position: the next target offset after the last copied record.
        source_end: the source log end offset now (the true end, not a lagging
            ListOffsets answer).
    """
    if committed > source_end:
        return Translation(
            REFUSED,
            None,
            reason=f"committed offset {committed} is past the source log end {source_end}",
        )
    caught_up = source_position >= source_end
    i = bisect_right([r.source_start for r in runs], committed) - 1
    if i >= 0 and committed < runs[i].source_start + runs[i].length:
        run = runs[i]
        return Translation(RECORD, run.target_start + committed - run.source_start, committed)
    if committed < source_position:
        if i + 1 < len(runs):
            nxt = runs[i + 1]
            return Translation(GAP, nxt.target_start, nxt.source_start)
        if caught_up:
            return Translation(END, target_position)
    elif committed == source_end and caught_up:
        return Translation(END, target_position)
    return Translation(
        REFUSED,
        None,
        reason=(
            f"the mirror has copied up to source offset {source_position} but the group "
            f"committed {committed} and the source log ends at {source_end}: "
            "run the mirror until it is caught up"
        ),
    )

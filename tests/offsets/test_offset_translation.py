"""The pure offset translation, table-driven over hand-built runs."""

from __future__ import annotations

import pytest

from kmigrate.offsets.map import OffsetRun
from kmigrate.offsets.translate import END, GAP, RECORD, REFUSED, translate_offset

# A transactional source: data at 0-4, 6-10, 12-16, commit markers at 5, 11, 17.
TXN = [OffsetRun(0, 0, 5), OffsetRun(6, 5, 5), OffsetRun(12, 10, 5)]
# A source whose log start was 100 when the copy began, onto a target at 0.
LATE_START = [OffsetRun(100, 0, 50)]
# A compacted source: offsets 3 and 7-8 compacted away; the target was not empty (append).
COMPACTED = [OffsetRun(0, 20, 3), OffsetRun(4, 23, 3), OffsetRun(9, 26, 1)]


@pytest.mark.parametrize(
    ("runs", "committed", "source_position", "target_position", "source_end", "expected"),
    [
        # start, middle and end of a run
        (TXN, 0, 18, 15, 18, (RECORD, 0, 0)),
        (TXN, 3, 18, 15, 18, (RECORD, 3, 3)),
        (TXN, 8, 18, 15, 18, (RECORD, 7, 8)),
        (TXN, 16, 18, 15, 18, (RECORD, 14, 16)),
        # in a gap (a commit marker): the next copied record
        (TXN, 5, 18, 15, 18, (GAP, 5, 6)),
        (TXN, 11, 18, 15, 18, (GAP, 10, 12)),
        # the trailing marker and the log end: the target's end, when caught up
        (TXN, 17, 18, 15, 18, (END, 15, None)),
        (TXN, 18, 18, 15, 18, (END, 15, None)),
        # not caught up: the committed offset is past what the mirror read
        (TXN, 18, 18, 15, 25, (REFUSED, None, None)),
        (TXN, 17, 18, 15, 25, (REFUSED, None, None)),
        (TXN, 20, 18, 15, 25, (REFUSED, None, None)),
        # not caught up, but the offset lies inside what was copied: exact anyway
        (TXN, 12, 18, 15, 25, (RECORD, 10, 12)),
        # past the log end: impossible, refused
        (TXN, 19, 18, 15, 18, (REFUSED, None, None)),
        # below the log start the copy began at: the first copied record
        (LATE_START, 0, 150, 50, 150, (GAP, 0, 100)),
        (LATE_START, 99, 150, 50, 150, (GAP, 0, 100)),
        (LATE_START, 120, 150, 50, 150, (RECORD, 20, 120)),
        (LATE_START, 150, 150, 50, 150, (END, 50, None)),
        # compacted-away offsets map to the next record that survived
        (COMPACTED, 3, 10, 27, 10, (GAP, 23, 4)),
        (COMPACTED, 7, 10, 27, 10, (GAP, 26, 9)),
        (COMPACTED, 8, 10, 27, 10, (GAP, 26, 9)),
        (COMPACTED, 9, 10, 27, 10, (RECORD, 26, 9)),
        # an empty partition, and one whose every offset was a marker
        ([], 0, 0, 0, 0, (END, 0, None)),
        ([], 0, 3, 0, 3, (END, 0, None)),
        ([], 0, 0, 0, 4, (REFUSED, None, None)),
    ],
)
def test_translate_offset(
    runs: list[OffsetRun],
    committed: int,
    source_position: int,
    target_position: int,
    source_end: int,
    expected: tuple[str, int | None, int | None],
) -> None:
    got = translate_offset(
        runs,
        committed,
        source_position=source_position,
        target_position=target_position,
        source_end=source_end,
    )
    assert (got.kind, got.target_offset, got.source_next) == expected
    assert (got.reason is not None) == (got.kind == REFUSED)


def test_refusal_names_the_copy_position_and_the_log_end() -> None:
    got = translate_offset(TXN, 20, source_position=18, target_position=15, source_end=25)
    assert got.reason == (
        "the mirror has copied up to source offset 18 but the group committed 20 and the "
        "source log ends at 25: run the mirror until it is caught up"
    )

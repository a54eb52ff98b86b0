"""The offset map alone: runs, lookups both ways, atomic persistence (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmigrate.errors import StepFailed
from kmigrate.offsets.map import OffsetMap, OffsetRun


def test_runs_break_at_source_gaps_like_transaction_markers(tmp_path: Path) -> None:
    """Three transactions of 5 records with a commit marker after each (offsets 5, 11, 17)."""
    m = OffsetMap.load(tmp_path)
    part = m.begin("t", 0, 0, 0)
    target = 0
    for start in (0, 6, 12):
        for i in range(5):
            part.extend(start + i, target, 1)
            target += 1
        part.skip_to(start + 6)
    assert m.runs("t", 0) == [OffsetRun(0, 0, 5), OffsetRun(6, 5, 5), OffsetRun(12, 10, 5)]
    assert m.source_position("t", 0) == 18
    assert m.target_position("t", 0) == 15
    assert m.to_target("t", 0, 6) == 5
    assert m.to_target("t", 0, 16) == 14
    assert m.to_target("t", 0, 5) is None  # the marker holds no record
    assert m.to_source("t", 0, 10) == 12


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    m = OffsetMap.load(tmp_path)
    m.begin("a", 1, 7, 3).extend(7, 3, 100)
    m.save()
    again = OffsetMap.load(tmp_path)
    assert again.partitions() == [("a", 1)]
    assert again.runs("a", 1) == [OffsetRun(7, 3, 100)]
    assert again.as_json() == m.as_json()
    assert OffsetMap.load(tmp_path / "nowhere").partitions() == []


def test_a_damaged_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "offset-map.json").write_text("{not json")
    with pytest.raises(StepFailed, match="offset-map.json: not a valid offset map"):
        OffsetMap.load(tmp_path)


def test_the_map_never_grows_backwards(tmp_path: Path) -> None:
    part = OffsetMap.load(tmp_path).begin("t", 0, 10, 0)
    part.extend(10, 0, 5)
    with pytest.raises(ValueError, match="starts before"):
        part.extend(12, 5, 1)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 4)), max_size=30))
def test_lookups_agree_with_a_naive_dictionary(steps: list[tuple[int, int, int]]) -> None:
    """Any sequence of gaps on either side: to_target/to_source match a per-offset dict."""
    m = OffsetMap(Path("unused"))
    part = m.begin("t", 0, 0, 0)
    naive: dict[int, int] = {}
    s = t = 0
    for sgap, tgap, n in steps:
        s += sgap
        t += tgap
        part.extend(s, t, n)
        for i in range(n):
            naive[s + i] = t + i
        s += n
        t += n
    for offset in range(s + 2):
        assert m.to_target("t", 0, offset) == naive.get(offset)
    back = {v: k for k, v in naive.items()}
    for offset in range(t + 2):
        assert m.to_source("t", 0, offset) == back.get(offset)
    assert sum(r.length for r in m.runs("t", 0)) == len(naive)

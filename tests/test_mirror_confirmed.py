"""``confirmed_only``: a mirror's journal entry cut to the records the target confirmed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kmigrate.steps.mirror import confirmed_only


def entry_from(runs: list[tuple[int, int]]) -> dict[str, object]:
    """A journal entry whose offset map has runs of (gap before, length) source offsets."""
    offset_map, source, target = [], 10, 5
    for gap, length in runs:
        source += gap
        offset_map.append([source, target, length])
        source += length
        target += length
    records = sum(n for _, n in runs)
    return {
        "topic": "t",
        "partition": 0,
        "source_start": 10,
        "source_end": source,
        "target_start": 5,
        "target_end": 5 + records,
        "records": records,
        "bytes": 7,
        "offset_map": offset_map,
    }


def expand(offset_map: list[list[int]]) -> list[tuple[int, int]]:
    return [(s + i, t + i) for s, t, n in offset_map for i in range(n)]


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5)), max_size=6),
    st.integers(0, 40),
)
def test_the_entry_claims_exactly_the_first_confirmed_records(
    runs: list[tuple[int, int]], confirmed: int
) -> None:
    entry = entry_from(runs)
    cut = confirmed_only(entry, confirmed)
    kept = min(confirmed, entry["records"])  # type: ignore[type-var]
    assert cut["records"] == kept
    assert cut["target_end"] == 5 + kept
    pairs = expand(cut["offset_map"])
    assert pairs == expand(entry["offset_map"])[:kept]  # type: ignore[arg-type]
    if kept == entry["records"]:
        assert cut == entry
    else:
        assert cut["source_end"] == (pairs[-1][0] + 1 if pairs else 10)

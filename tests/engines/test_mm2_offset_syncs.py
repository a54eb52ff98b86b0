"""MM2's offset syncs: the record format (Apache Kafka's ``OffsetSync``: key STRING
topic + INT32 partition, value INT64 upstream + INT64 downstream, big-endian) and
the check against the exact map (pure, no broker)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmigrate.engines.mirrormaker2.offset_syncs import (
    OffsetSync,
    disagreements,
    encode_offset_sync,
    offset_syncs_topic,
    parse_offset_sync,
)
from kmigrate.offsets.map import OffsetMap, OffsetRun


def test_bytes_as_mm2_writes_them() -> None:
    """A sync of orders[3], upstream 7 -> downstream 5, byte for byte (Kafka's
    protocol STRING is an int16 length and UTF-8 bytes)."""
    key, value = encode_offset_sync(OffsetSync("orders", 3, 7, 5))
    assert key == b"\x00\x06orders\x00\x00\x00\x03"
    assert value == struct.pack(">qq", 7, 5)
    assert parse_offset_sync(key, value, 42) == OffsetSync("orders", 3, 7, 5, 42)
    assert offset_syncs_topic("target") == "mm2-offset-syncs.target.internal"


@given(
    st.text(max_size=30), st.integers(0, 2**31 - 1), st.integers(0, 2**62), st.integers(0, 2**62)
)
def test_round_trip(topic: str, partition: int, up: int, down: int) -> None:
    sync = OffsetSync(topic, partition, up, down)
    assert parse_offset_sync(*encode_offset_sync(sync)) == sync


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        (None, b"\x00" * 16, "null"),
        (b"\x00\x05ab\x00\x00\x00\x01", b"\x00" * 16, "does not hold"),
        (b"\x00\x02ab\x00\x00\x00\x01", b"\x00" * 15, "16 bytes"),
        (b"\x00", b"\x00" * 16, "shorter"),
    ],
)
def test_malformed_records_are_refused(key: bytes | None, value: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_offset_sync(key, value)


def test_every_disagreement_is_named(tmp_path: Path) -> None:
    """Map: source 0-5 at target 0-5, source 3-5 again at 6-8 (a replay), source 6-9
    at 9-12.  Syncs: one right, one at the replay, one at a record with no copy, one
    off by one, one for a partition the map does not hold (left out)."""
    omap = OffsetMap.load(tmp_path)
    part = omap.begin("t", 0, 0, 0)
    part.extend(0, 0, 6)
    part.extend(6, 9, 4)
    part.duplicates = [OffsetRun(3, 6, 3)]
    syncs = [
        OffsetSync("t", 0, 2, 2),
        OffsetSync("t", 0, 4, 7),
        OffsetSync("t", 0, 20, 14),
        OffsetSync("t", 0, 8, 12),
        OffsetSync("other", 0, 1, 1),
    ]
    found = disagreements(syncs, omap)
    assert [(x["upstream"], x["downstream"], x["exact"]) for x in found] == [
        (4, 7, 4),
        (20, 14, None),
        (8, 12, 11),
    ]
    assert "second copy" in found[0]["reason"]
    assert "no copy" in found[1]["reason"]
    assert "found at target offset 11" in found[2]["reason"]

"""Source ranges lost before a copy someone else made reached them (pure).

MirrorMaker 2 does not notice when it loses records: when retention moves the
source's log start offset past the position its consumer reads, the consumer
resets to the log start (``auto.offset.reset``) and copies on; when a source
topic is deleted and re-created while MM2 copies, the new topic (a new topic
id, KIP-516) starts again at offset 0 and what the old one held after MM2's
position is gone (../shared/docs/peers.md: "gaps from retention truncation").

What kmigrate can observe, and this module reasons from:

* :class:`SourceMark`: the source partition's log start offset, high
  watermark and topic id, recorded by the mirror step when it starts and while
  it follows (ListOffsets, DescribeTopics);
* the aligned map (:mod:`kmigrate.offsets.align`): the source offset of the
  first record whose copy was found, and how many target records before it are
  no current source record's copy (copies of records deleted since, or of the
  deleted topic).

Copies are written in source order, so a target that holds ``n`` records
before the first aligned copy holds copies of the first ``n`` records from the
log start the copy began at; the offsets from there up to the first aligned
copy (or the log start now, if lower) were deleted before they were copied.
Offsets are counted as records: where the deleted range held transaction
markers (one offset each, no record) the range named is longer than what was
lost, never shorter, and the reason says so.  Duplicates among those first
``n`` target records would make the range named shorter: they cannot be told
from copies once their source records are gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SourceMark:
    """What was seen of one source partition at one time.

    Attributes:
        at_ms: when (Unix epoch ms).
        log_start: the log start offset (ListOffsets earliest).
        high_watermark: the offset after the last record (ListOffsets latest, read
            to the end where ListOffsets lags: ``watermark_offsets(read_end=True)``).
        topic_id: the topic id (KIP-516; DescribeTopics), None when unknown
            (then no re-creation can be seen).
    """

    at_ms: int
    log_start: int
    high_watermark: int
    topic_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"at_ms", "log_start", "high_watermark", "topic_id"}``."""
        return {
            "at_ms": self.at_ms,
            "log_start": self.log_start,
            "high_watermark": self.high_watermark,
            "topic_id": self.topic_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceMark:
        """Rebuild from :meth:`as_json`.

        Raises:
            KeyError, TypeError, ValueError: malformed data.
        """
        tid = data.get("topic_id")
        return cls(
            int(data["at_ms"]),
            int(data["log_start"]),
            int(data["high_watermark"]),
            None if tid is None else str(tid),
        )


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _incarnations(marks: Sequence[SourceMark]) -> list[list[SourceMark]]:
    """Marks in time order, split where the topic id changes (None never splits)."""
    groups: list[list[SourceMark]] = []
    current: str | None = None
    for mark in sorted(marks, key=lambda m: m.at_ms):
        if groups and (mark.topic_id is None or current is None or mark.topic_id == current):
            groups[-1].append(mark)
        else:
            groups.append([mark])
        if mark.topic_id is not None:
            current = mark.topic_id
    return groups


def keep_marks(seen: Sequence[SourceMark], now: SourceMark) -> list[SourceMark]:
    """The marks worth journaling after one more observation ``now``: per topic id
    (incarnation) its first and its last mark, in time order.  That is all
    :func:`lost_ranges` reads (the log start the copy began at, the deleted
    topic's last high watermark), so a mirror that follows for days journals a few
    marks per partition, not one per observation."""
    out: list[SourceMark] = []
    for group in _incarnations([*seen, now]):
        out += [group[0], group[-1]] if len(group) > 1 else [group[0]]
    return out


def lost_ranges(
    marks: Sequence[SourceMark],
    now: SourceMark,
    first_copy: int | None,
    copies_before_first: int,
) -> list[dict[str, Any]]:
    """The source ranges deleted before they were copied (module docstring).

    Args:
        marks: what the mirror step saw, at its start and while it followed.
        now: the source partition now (as verify / alignment read it).
        first_copy: the source offset of the first record whose copy the
            alignment found (None: none found).
        copies_before_first: target records before that copy that are no
            current source record's copy.

    Returns ``[{"first": int, "last": int, "reason": str}]`` (source offsets,
    inclusive), oldest first; ranges of a deleted topic name its topic id.
    """
    groups = _incarnations([*marks, now])
    left = copies_before_first
    out: list[dict[str, Any]] = []
    for i, group in enumerate(groups[:-1]):
        low = group[0].log_start
        high = max(m.high_watermark for m in group)
        held = min(left, max(high - low, 0))
        left -= held
        if low + held < high:
            nxt = groups[i + 1][0]
            out.append(
                {
                    "first": low + held,
                    "last": high - 1,
                    "reason": (
                        f"the source topic was deleted and re-created (topic id "
                        f"{group[-1].topic_id} -> {nxt.topic_id}, seen between "
                        f"{_when(group[-1].at_ms)} and {_when(nxt.at_ms)}): offsets "
                        f"{low + held}..{high - 1} of the deleted topic (high watermark "
                        f"last seen {high}) are not on the target, which holds {held} "
                        "of its records (fewer offsets were lost if some held "
                        "transaction markers)"
                    ),
                }
            )
    current = groups[-1]
    start = current[0].log_start if len(groups) == 1 else 0
    covered = start + left
    limit = now.log_start if first_copy is None else min(first_copy, now.log_start)
    if covered < limit:
        out.append(
            {
                "first": covered,
                "last": limit - 1,
                "reason": (
                    f"deleted from the source before they were copied (log start offset "
                    f"now {now.log_start}; the copy began at {start} and the target holds "
                    f"{left} copies of records before offset {limit}): offsets "
                    f"{covered}..{limit - 1} (fewer records if some offsets held "
                    "transaction markers)"
                ),
            }
        )
    return out

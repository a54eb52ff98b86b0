"""Before a copy: records lost on either side, target partitions already
occupied, and source records close to their retention limit.

The mirror step (:mod:`kmigrate.steps.mirror`) runs these checks against the
persistent offset map (:mod:`kmigrate.offsets.map`) and both clusters before
it hands the copy to an engine; each lost range is a
``{"side", "topic", "partition", "start", "end"}`` dict (offsets, end
exclusive), as the mirror's record journals it.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.errors import RecordsLost
from kmigrate.offsets.map import OffsetMap, PartitionMap
from kmigrate.offsets.resume import reconcile_tail

#: Warn when the oldest record not yet copied has used this share of its
#: topic's retention.ms (or the partition this share of retention.bytes).
RETENTION_WARN_RATIO = 0.8


def short_list(items: list[str]) -> str:
    """``a, b, c`` for at most 10 items, then ``and N more``."""
    more = f" and {len(items) - 10} more" if len(items) > 10 else ""
    return ", ".join(items[:10]) + more


def lost_range(side: str, topic: str, partition: int, start: int, end: int) -> dict[str, Any]:
    """One lost range as the mirror's record journals it (offsets ``[start, end)``)."""
    return {"side": side, "topic": topic, "partition": partition, "start": start, "end": end}


def _lost_target(part: PartitionMap, end: int) -> dict[str, Any]:
    first = part.runs[0].target_start if part.runs else part.target_position
    return {
        "side": "target",
        "topic": part.topic,
        "partition": part.partition,
        "start": max(end, first),
        "end": part.target_position,
    }


def lost_on_target(
    omap: OffsetMap, parts: list[tuple[str, int]], target_ends: dict[tuple[str, int], int]
) -> list[dict[str, Any]]:
    """The target ranges the map says were copied but the target no longer holds
    (its log end offset, ``target_ends``, 0 when absent, is below the map's
    target position: a target restarted empty, a topic deleted)."""
    lost = []
    for tp in parts:
        part = omap.get(*tp)
        if part is not None and part.records and target_ends.get(tp, 0) < part.target_position:
            lost.append(_lost_target(part, target_ends.get(tp, 0)))
    return lost


def _raise_lost(message: str, lost: list[dict[str, Any]]) -> RecordsLost:
    first = lost[0]
    return RecordsLost(
        message,
        first["side"],
        first["topic"],
        first["partition"],
        first["start"],
        first["end"],
    )


def target_lost_error(lost: list[dict[str, Any]]) -> RecordsLost:
    """The error naming the target ranges :func:`lost_on_target` found."""
    return _raise_lost(
        "the target no longer holds records the offset map says were copied: "
        + short_list(
            [
                f"{d['topic']}[{d['partition']}] target offsets [{d['start']}, {d['end']})"
                for d in lost
            ]
        )
        + " (was the target restarted empty, or the topic deleted?). Nothing was "
        "written; roll back the mirror and its provisioning and copy again",
        lost,
    )


@dataclass
class StartPositions:
    """What :func:`begin_positions` found.

    Attributes:
        occupied: ``topic[p] (n offsets)`` of target partitions that held
            records no earlier attempt wrote.
        lost: source ranges deleted before they were copied (see module).
        foreign_records: records on the targets' tails that are not copies.
    """

    occupied: list[str] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)
    foreign_records: int = 0


def begin_positions(
    source: Cluster,
    target: Cluster,
    omap: OffsetMap,
    parts: list[tuple[str, int]],
    marks: tuple[
        dict[tuple[str, int], tuple[int, int]],
        dict[tuple[str, int], int],
        dict[tuple[str, int], tuple[int, int]],
    ],
    untimed: Collection[str] = (),
) -> StartPositions:
    """Begin each new partition in the map at the source's log start offset and
    find where the others resume.

    Args:
        marks: ``(source (low, high) watermarks, target log ends, target (low,
            high) watermarks)`` per ``(topic, partition)``.
        untimed: target topics that stamp their own time (their tails are
            compared without timestamps).

    A new partition whose target partition holds records is ``occupied``; a
    begun one whose copy position the source's log start offset passed is
    ``lost``; a begun one whose target holds more than the map says has its
    tail reconciled (:func:`kmigrate.offsets.resume.reconcile_tail`).

    Raises:
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    source_marks, target_ends, target_lows = marks
    found = StartPositions()
    for tp in parts:
        low, _high = source_marks[tp]
        end = target_ends.get(tp, 0)
        part = omap.get(*tp)
        if part is None:
            omap.begin(tp[0], tp[1], low, end)
            if end > target_lows.get(tp, (0, 0))[0]:
                found.occupied.append(f"{tp[0]}[{tp[1]}] ({end} offsets)")
            continue
        if low > part.source_position:
            found.lost.append(lost_range("source", tp[0], tp[1], part.source_position, low))
        elif end > part.target_position:
            match = reconcile_tail(source, target, part, end, tp[0] not in untimed)
            found.foreign_records += match.foreign
    return found


def source_lost_error(lost: list[dict[str, Any]]) -> RecordsLost:
    """The error naming the source ranges :func:`begin_positions` found lost."""
    return _raise_lost(
        "source records were deleted before they were copied (the log start offset "
        "passed the mirror's position, e.g. by retention): "
        + short_list(
            [
                f"{d['topic']}[{d['partition']}] source offsets [{d['start']}, {d['end']})"
                for d in lost
            ]
        )
        + "; they cannot be copied any more",
        lost,
    )


def occupied_refusal(occupied: list[str]) -> str:
    """Why a copy into partitions that already hold records is refused."""
    return (
        "target partitions already hold records: "
        + short_list(occupied)
        + "; a second copy would duplicate them. Roll back the provisioning that "
        "created these topics and provision again, or set 'append: true' on the "
        "mirror step (--append) if another writer put them there on purpose"
    )


def retention_warnings(
    source: Cluster,
    positions: dict[tuple[str, int], int],
    marks: dict[tuple[str, int], tuple[int, int]],
    now_ms: float | None = None,
) -> list[str]:
    """Partitions whose oldest record not yet copied is close to its retention limit.

    For ``retention.ms``: the age of the record at the copy position (now minus
    its timestamp) against the limit.  For ``retention.bytes``: an estimate of
    the partition's size (records in the log times the size of that record)
    against the limit.  "Close" is :data:`RETENTION_WARN_RATIO` of the limit.
    The limits come from DescribeConfigs (Kafka docs, topic configs
    ``retention.ms`` / ``retention.bytes``; -1 means none).

    Raises:
        kmigrate.errors.ClusterError: the source could not be read.
    """
    topics = sorted({t for t, _ in positions})
    configs = source.topic_configs(topics)
    limits: dict[str, tuple[int, int]] = {}
    for topic in topics:
        cfg = configs.get(topic, {})

        def num(key: str, cfg: Any = cfg) -> int:
            value = cfg.get(key)
            try:
                return int(value.value) if value is not None and value.value is not None else -1
            except ValueError:
                return -1

        limits[topic] = (num("retention.ms"), num("retention.bytes"))
    wanted = [(t, p, o) for (t, p), o in positions.items() if max(limits[t]) > 0]
    if not wanted:
        return []
    firsts = {tp: r for tp, r in source.first_records(wanted).items() if r is not None}
    now = time.time() * 1000 if now_ms is None else now_ms
    out = []
    for (topic, partition), record in sorted(firsts.items()):
        ms, nbytes = limits[topic]
        if ms > 0:
            age = now - record.timestamp_ms
            if age >= RETENTION_WARN_RATIO * ms:
                out.append(
                    f"{topic}[{partition}]: the oldest record not yet copied (offset "
                    f"{record.offset}) is {age / 1000:,.0f} s old, {age / ms:.0%} of "
                    f"retention.ms {ms} ({ms / 1000:,.0f} s): retention may delete it "
                    "before it is copied"
                )
        if nbytes > 0:
            low, high = marks[(topic, partition)]
            estimate = (high - low) * max(record.size, 1)
            if estimate >= RETENTION_WARN_RATIO * nbytes:
                out.append(
                    f"{topic}[{partition}]: about {estimate:,} bytes in the log, "
                    f"{estimate / nbytes:.0%} of retention.bytes {nbytes}: retention may "
                    f"delete the oldest records (from offset {record.offset}) before they "
                    "are copied"
                )
    return out

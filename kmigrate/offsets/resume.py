"""Resume a copy exactly: extend the offset map with what reached the target after
its last checkpoint.

The map is saved only after the target acknowledged every record it lists, so
after a crash (``kill -9``) the target may hold more of our copies than the map
says: those written between the last checkpoint and the crash.  They sit past
the map's ``target_position``.  They are recognised by content, never by
counting: the records on the target from ``target_position`` to its log end are
compared, in order, with the source records from ``source_position`` on, by
the SHA-256 digest of key, value, headers and timestamp
(:func:`kmigrate.verify.digest.record_digest`).  A target record that equals the
next source record is that record's copy; one that does not was written by
someone else (``append: true``) and is left alone.  (A foreign record equal in
key, value, headers and timestamp to the next source record cannot be told
apart from a copy; it is then taken for one.)
"""

from __future__ import annotations

from dataclasses import dataclass

from kmigrate.clusters.port import Cluster, PartitionEnd, Record
from kmigrate.offsets.map import PartitionMap
from kmigrate.verify.digest import record_digest


@dataclass(frozen=True)
class TailMatch:
    """What the tail read found: ``copies`` of source records, ``foreign`` records."""

    copies: int
    foreign: int


def reconcile_tail(
    source: Cluster, target: Cluster, part: PartitionMap, target_end: int, timestamps: bool = True
) -> TailMatch:
    """Extend ``part`` with the copies on the target in ``[target_position, target_end)``.

    Args:
        part: the partition's map (changed in place: runs added, positions moved).
        target_end: the target partition's log end offset now.
        timestamps: compare timestamps too (False for a target topic that
            stamps its own time, ``message.timestamp.type=LogAppendTime``).

    Returns how many tail records were copies and how many were foreign.

    Raises:
        kmigrate.errors.ClusterError: a side could not be read (a source position
            out of range is :class:`kmigrate.errors.OffsetOutOfRange`).
    """
    tp = (part.topic, part.partition)
    if target_end <= part.target_position:
        return TailMatch(0, 0)
    tail = [
        item
        for item in target.read(
            [(tp[0], tp[1], part.target_position)], stop_offsets={tp: target_end}
        )
        if not isinstance(item, PartitionEnd)
    ]
    wanted: list[Record] = []
    reader = source.read([(tp[0], tp[1], part.source_position)])
    try:
        for item in reader:
            if isinstance(item, PartitionEnd):
                break
            wanted.append(item)
            if len(wanted) >= len(tail):
                break
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
    i = copies = foreign = 0
    for record in tail:
        if i < len(wanted) and record_digest(record, timestamps) == record_digest(
            wanted[i], timestamps
        ):
            part.extend(wanted[i].offset, record.offset, 1)
            i += 1
            copies += 1
        else:
            foreign += 1
    return TailMatch(copies, foreign)

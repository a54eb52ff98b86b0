"""MirrorMaker 2's offset syncs, read and checked against kmigrate's exact offset map.

MM2's MirrorSourceTask writes an ``OffsetSync`` to the offset-syncs topic
(``mm2-offset-syncs.<alias>.internal``; on the target with
``offset-syncs.topic.location=target``, KIP-716, and then named after the
*source* cluster's alias: ``MirrorSourceConfig.offsetSyncsTopic`` names it after
the cluster it is not on) for some of the records it
copies: the source ``(topic, partition)``, the record's source ("upstream")
offset and the offset the target gave its copy ("downstream", from the
producer's acknowledgement).  The format, from ``OffsetSync`` in Apache Kafka's
``connect/mirror`` (``KEY_SCHEMA`` / ``VALUE_SCHEMA``, written with Kafka's
protocol types, big-endian):

* key: ``topic`` STRING (int16 length, UTF-8 bytes), ``partition`` INT32;
* value: ``upstreamOffset`` INT64, ``offset`` INT64 (the downstream offset).

The syncs are sparse (one when the translation drifts by more than
``offset.lag.max``), and MM2's checkpoints translate group offsets from them.
Each sync claims "source offset ``u`` is at target offset ``d``"; the exact
map (:mod:`kmigrate.offsets.align`) says where ``u``'s first copy is, so
:func:`disagreements` names every sync where the two differ (a sync pointing at
a second copy after a task restart, at a record the map has no copy of, or
elsewhere).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kmigrate.adapters.kafka import OFFSET_BEGINNING
from kmigrate.clusters.port import Cluster, PartitionEnd
from kmigrate.offsets.map import OffsetMap


def offset_syncs_topic(alias: str) -> str:
    """The offset-syncs topic's name for a cluster alias (MM2's
    ``DefaultReplicationPolicy.offsetSyncsTopic``: ``mm2-offset-syncs.ALIAS.internal``;
    IdentityReplicationPolicy keeps it).  With the syncs on the target, pass the
    *source* cluster's alias (``Mm2Options.source_alias``; module docstring)."""
    return f"mm2-offset-syncs.{alias}.internal"


@dataclass(frozen=True)
class OffsetSync:
    """One sync: source ``upstream`` offset of ``topic[partition]`` copied to target
    offset ``downstream``; ``at`` is the sync record's own offset in the syncs topic."""

    topic: str
    partition: int
    upstream: int
    downstream: int
    at: int = -1


def parse_offset_sync(key: bytes | None, value: bytes | None, at: int = -1) -> OffsetSync:
    """Decode one offset-syncs record (module docstring).

    Raises:
        ValueError: not an offset sync (null, too short, bad UTF-8, trailing bytes).
    """
    if key is None or value is None:
        raise ValueError("null key or value")
    if len(key) < 2:
        raise ValueError("key shorter than a STRING length")
    (n,) = struct.unpack_from(">h", key, 0)
    if n < 0 or len(key) != 2 + n + 4:
        raise ValueError(f"key of {len(key)} bytes does not hold a topic of {n} bytes and an INT32")
    topic = key[2 : 2 + n].decode("utf-8")
    (partition,) = struct.unpack_from(">i", key, 2 + n)
    if len(value) != 16:
        raise ValueError(f"value of {len(value)} bytes, expected two INT64 (16 bytes)")
    upstream, downstream = struct.unpack(">qq", value)
    return OffsetSync(topic, partition, upstream, downstream, at)


def encode_offset_sync(sync: OffsetSync) -> tuple[bytes, bytes]:
    """``(key, value)`` bytes of a sync, as MM2 writes them (for tests and tools)."""
    raw = sync.topic.encode("utf-8")
    key = struct.pack(">h", len(raw)) + raw + struct.pack(">i", sync.partition)
    return key, struct.pack(">qq", sync.upstream, sync.downstream)


@dataclass
class SyncsRead:
    """What :func:`read_offset_syncs` found: the syncs in order, and how many
    records of the topic were not offset syncs (named by offset, first 10)."""

    syncs: list[OffsetSync]
    malformed: list[str]


def syncs_ends(target: Cluster, topic: str) -> dict[str, int]:
    """``{"partition": high watermark}`` of the offset-syncs topic on the target now;
    empty when it does not exist.  Noted when a run starts, so that syncs an earlier
    run left (the topic outlives a target topic deleted by hand) are not checked
    against this run's map.

    Raises:
        kmigrate.errors.ClusterError: the target could not be read.
    """
    meta = target.topics().get(topic)
    if meta is None:
        return {}
    ends = target.watermark_offsets([(topic, p) for p in range(meta.partitions)])
    return {str(p): high for (_t, p), (_low, high) in ends.items()}


def read_offset_syncs(
    target: Cluster, topic: str, since: Mapping[str, int] | None = None
) -> SyncsRead:
    """Every record of the offset-syncs topic on the target, decoded, in order;
    with ``since`` (``{"partition": offset}``, :func:`syncs_ends` at a run's start)
    only those written from there on.

    An absent topic gives no syncs (MM2 has not written one yet).

    Raises:
        kmigrate.errors.ClusterError: the target could not be read.
    """
    meta = target.topics().get(topic)
    if meta is None:
        return SyncsRead([], [])
    syncs: list[OffsetSync] = []
    malformed: list[str] = []
    since = since or {}
    starts = [(topic, p, since.get(str(p), OFFSET_BEGINNING)) for p in range(meta.partitions)]
    for item in target.read(starts):
        if isinstance(item, PartitionEnd):
            continue
        try:
            syncs.append(parse_offset_sync(item.key, item.value, item.offset))
        except (ValueError, UnicodeDecodeError) as exc:
            malformed.append(f"{topic}[{item.partition}] offset {item.offset}: {exc}")
    return SyncsRead(syncs, malformed)


def disagreements(syncs: Iterable[OffsetSync], omap: OffsetMap) -> list[dict[str, Any]]:
    """Every sync whose downstream offset is not where the exact map puts the
    first copy of its upstream record: ``{"topic", "partition", "upstream",
    "downstream", "exact", "reason"}`` (``exact`` None when the map has no copy).

    Syncs of partitions the map does not hold are left out (not copied by this
    migration)."""
    out = []
    for s in syncs:
        part = omap.get(s.topic, s.partition)
        if part is None:
            continue
        exact = part.to_target(s.upstream)
        if exact == s.downstream:
            continue
        dup = next(
            (r for r in part.duplicates if r.target_start <= s.downstream < r.target_end), None
        )
        if exact is None:
            reason = (
                f"MM2 says source offset {s.upstream} was copied to target offset "
                f"{s.downstream}; no copy of that record was found on the target"
            )
        elif dup is not None:
            reason = (
                f"MM2's sync points at target offset {s.downstream}, a second copy written "
                f"after a restart; the first copy of source offset {s.upstream} is at {exact}"
            )
        else:
            reason = (
                f"MM2 says target offset {s.downstream}; the record at source offset "
                f"{s.upstream} was found at target offset {exact}"
            )
        out.append(
            {
                "topic": s.topic,
                "partition": s.partition,
                "upstream": s.upstream,
                "downstream": s.downstream,
                "exact": exact,
                "reason": reason,
            }
        )
    return out


def check_offset_syncs(
    target: Cluster, omap: OffsetMap, source_alias: str, since: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Read MM2's offset syncs on the target (those written since ``since``, see
    :func:`read_offset_syncs`) and check them against the exact map, for the
    mirror's record and the evidence report (``alignment.offset_syncs``)::

        {"topic": "mm2-offset-syncs.source.internal", "read": 120,
         "checked": 40, "malformed": [...], "disagreements": [...]}

    ``checked``: syncs of partitions the map holds (the others are another
    migration's); ``disagreements``: :func:`disagreements`.

    Raises:
        kmigrate.errors.ClusterError: the target could not be read.
    """
    topic = offset_syncs_topic(source_alias)
    read = read_offset_syncs(target, topic, since)
    mine = [s for s in read.syncs if omap.get(s.topic, s.partition) is not None]
    return {
        "topic": topic,
        "read": len(read.syncs),
        "checked": len(mine),
        "malformed": read.malformed[:10],
        "disagreements": disagreements(mine, omap),
    }

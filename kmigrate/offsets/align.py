"""The exact offset map of a copy someone else made (MirrorMaker 2), by aligning
source and target records by digest (pure: no cluster access).

After a MirrorMaker 2 copy kmigrate has no offset map of its own: MM2 keeps only
sparse offset syncs (KIP-382; :mod:`kmigrate.engines.mirrormaker2.offset_syncs`).
:func:`align_partition` builds the map the native engine would have written
(:class:`kmigrate.offsets.map.PartitionMap`: runs of source offset -> target
offset) from the two partitions' records in offset order, each given as
``(offset, digest)`` with the digest of :mod:`kmigrate.verify.digest` (key,
value, headers, timestamp: the one crash-resume's tail reconciliation,
:mod:`kmigrate.offsets.resume`, uses).  Offsets may jump on either side
(transaction markers, records compacted away, a log start offset above 0):
the runs break there, exactly as the native engine's.

Each target record, in target order, is one of:

* **a copy**: its digest equals the next source record not copied yet; the
  map gets ``source offset -> target offset``.
* **a duplicate**: it repeats a source record already copied (MM2 without
  exactly-once is at-least-once: a task restarted from its last committed
  source offset writes those records again, KIP-382 / Kafka Connect source
  offsets).  A replay is recognised while it continues the same source run.
  The map keeps the *first* copy: translation never points into a duplicate,
  so a group moved to the target reads each record once from there on.  The
  duplicates go into the map's ``duplicates`` and verify reports them as
  differences (the target holds more records than the source).
* **a copy after skipped source records**: its digest equals a source record
  further on (within :data:`LOOKAHEAD` records); the source records in between
  are *missing* on the target (not in the map, so verify names them).
* **unmatched**: none of the above (a record of a deleted incarnation of the
  topic, of a source range retention deleted since, another writer's); it is
  left out of the map and named by target offset range.

Bounds and limits: a duplicate is recognised only within the last
:data:`WINDOW` copied records of the partition (a replay reaching further back
is reported as unmatched target records, never hidden); memory per partition
is at most ``WINDOW + LOOKAHEAD`` digests.  Records equal in key, value,
headers and timestamp cannot be told apart by content: such a pair may be
aligned to each other's copies (as in crash-resume).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kmigrate.offsets.map import OffsetRun, PartitionMap

#: ``(offset, digest)`` of one record, in offset order.
Item = tuple[int, bytes]
#: Copied source records kept per partition to recognise a duplicate (records).
WINDOW = 200_000
#: Source records read ahead to find the copy of a target record after skipped
#: source records (records).
LOOKAHEAD = 10_000


@dataclass
class PartitionAlignment:
    """What aligning one partition found (offsets; ranges ``[start, end)``).

    Attributes:
        copies: target records that are copies (now in the map's runs).
        duplicates: runs of second copies (also put in the map).
        missing: source ranges ``(first, end)`` whose records the target
            skipped although copies of later records are there.
        unmatched: target ranges ``(first, end)`` that are no source record's copy.
        unmatched_records: target records that are no source record's copy
            (a range of ``unmatched`` may span offsets holding no record).
        unmatched_before_first: of those, records before the first copy
            (e.g. copies of source records retention deleted since).
        pending: source records after the last copy (not copied yet: lag).
        source_records / target_records: records read on each side.
    """

    topic: str
    partition: int
    copies: int = 0
    duplicates: list[OffsetRun] = field(default_factory=list)
    missing: list[tuple[int, int]] = field(default_factory=list)
    unmatched: list[tuple[int, int]] = field(default_factory=list)
    unmatched_records: int = 0
    unmatched_before_first: int = 0
    pending: int = 0
    source_records: int = 0
    target_records: int = 0

    @property
    def duplicate_records(self) -> int:
        """Target records that are second copies."""
        return sum(r.length for r in self.duplicates)

    @property
    def missing_records(self) -> int:
        """Source records skipped on the target (a range may hold markers: offsets)."""
        return sum(end - first for first, end in self.missing)


class _Window:
    """The last ``size`` copied source records, by position and by digest."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: deque[Item] = deque()
        self.base = 0  # position of items[0] among all copied records
        self.where: dict[bytes, int] = {}

    def add(self, item: Item) -> None:
        self.where[item[1]] = self.base + len(self.items)
        self.items.append(item)
        if len(self.items) > self.size:
            _offset, digest = self.items.popleft()
            if self.where.get(digest) == self.base:
                del self.where[digest]
            self.base += 1

    def at(self, position: int) -> Item | None:
        i = position - self.base
        return self.items[i] if 0 <= i < len(self.items) else None


class _Source:
    """The source records not copied yet: a read-ahead buffer over the iterator."""

    def __init__(self, items: Iterable[Item], lookahead: int) -> None:
        self.it: Iterator[Item] = iter(items)
        self.ahead: deque[Item] = deque()
        self.counts: dict[bytes, int] = {}
        self.lookahead = lookahead
        self.read = 0
        self.exhausted = False

    def _pull(self) -> bool:
        item = next(self.it, None)
        if item is None:
            self.exhausted = True
            return False
        self.read += 1
        self.ahead.append(item)
        self.counts[item[1]] = self.counts.get(item[1], 0) + 1
        return True

    def head(self) -> Item | None:
        if not self.ahead and (self.exhausted or not self._pull()):
            return None
        return self.ahead[0]

    def pop(self) -> Item:
        item = self.ahead.popleft()
        n = self.counts[item[1]] - 1
        if n:
            self.counts[item[1]] = n
        else:
            del self.counts[item[1]]
        return item

    def ahead_has(self, digest: bytes) -> bool:
        while digest not in self.counts and len(self.ahead) < self.lookahead:
            if self.exhausted or not self._pull():
                break
        return digest in self.counts

    def rest(self) -> int:
        """Count (and drop) every record not taken (read to the end)."""
        n = len(self.ahead)
        self.ahead.clear()
        self.counts.clear()
        for _ in self.it:
            self.read += 1
            n += 1
        return n


def _add_range(ranges: list[tuple[int, int]], first: int, end: int, joined: bool) -> None:
    """Append ``[first, end)``, or extend the last range to ``end`` when ``joined``."""
    if joined and ranges:
        ranges[-1] = (ranges[-1][0], end)
    else:
        ranges.append((first, end))


def _add_duplicate(dups: list[OffsetRun], source_offset: int, target_offset: int) -> None:
    last = dups[-1] if dups else None
    if last is not None and last.source_end == source_offset and last.target_end == target_offset:
        dups[-1] = OffsetRun(last.source_start, last.target_start, last.length + 1)
    else:
        dups.append(OffsetRun(source_offset, target_offset, 1))


class _Walk:
    """The walk over one partition's target records (see :func:`align_partition`)."""

    def __init__(
        self, part: PartitionMap, found: PartitionAlignment, src: _Source, copied: _Window
    ) -> None:
        self.part, self.found, self.src, self.copied = part, found, src, copied
        self.replay: int | None = None  # position in ``copied`` a replay repeated last
        self.prev_unmatched = False

    def take(self, offset: int, digest: bytes) -> None:
        """Classify one target record: copy, duplicate, copy after missing source
        records, or unmatched (module docstring)."""
        found, src, copied = self.found, self.src, self.copied
        joined, self.prev_unmatched = self.prev_unmatched, False
        if self.replay is not None:
            nxt = copied.at(self.replay + 1)
            if nxt is not None and nxt[1] == digest:
                self.replay += 1
                _add_duplicate(found.duplicates, nxt[0], offset)
                return
            self.replay = None
        head = src.head()
        if head is None or head[1] != digest:
            position = copied.where.get(digest)
            if position is not None:
                self.replay = position
                _add_duplicate(found.duplicates, copied.items[position - copied.base][0], offset)
                return
            if not src.ahead_has(digest):
                _add_range(found.unmatched, offset, offset + 1, joined)
                self.prev_unmatched = True
                found.unmatched_records += 1
                if not found.copies:
                    found.unmatched_before_first += 1
                return
            first = src.pop()
            head = src.head()
            while head is not None and head[1] != digest:
                src.pop()
                head = src.head()
            assert head is not None
            found.missing.append((first[0], head[0]))
        item = src.pop()
        self.part.extend(item[0], offset, 1)
        copied.add(item)
        found.copies += 1


def align_partition(
    part: PartitionMap,
    source: Iterable[Item],
    target: Iterable[Item],
    *,
    source_end: int | None = None,
    target_end: int | None = None,
    window: int = WINDOW,
    lookahead: int = LOOKAHEAD,
) -> PartitionAlignment:
    """Fill ``part`` (empty, begun at the offsets the reads start from) with the
    runs and duplicates that align ``source`` with ``target`` (module docstring).

    Args:
        part: the partition's map; its ``runs`` and ``duplicates`` grow, its
            positions move.  Its ``source_start`` / ``target_start`` should be
            where ``source`` / ``target`` begin.
        source / target: ``(offset, digest)`` per record in offset order, from
            the log start offsets (or the map's starts) to the ends.
        source_end / target_end: the offsets after the last ones read (the log
            end offsets the reads stopped at).  When every source record was
            copied, the map's source position moves to ``source_end``
            (trailing transaction markers are then behind it) and its target
            position to ``target_end`` (so a group at the source end resumes
            after any trailing duplicates).
        window / lookahead: see :data:`WINDOW` and :data:`LOOKAHEAD` (records).

    Returns what was found.

    Raises:
        ValueError: offsets not increasing on a side, or ``part`` not empty.
    """
    if part.runs:
        raise ValueError(f"{part.topic}[{part.partition}]: align into an empty partition map")
    found = PartitionAlignment(part.topic, part.partition)
    src = _Source(source, lookahead)
    walk = _Walk(part, found, src, _Window(window))
    last_target = -1
    for offset, digest in target:
        if offset <= last_target:
            raise ValueError(f"{part.topic}[{part.partition}]: target offsets not increasing")
        last_target = offset
        found.target_records += 1
        walk.take(offset, digest)
    next_pending = src.head()
    found.pending = src.rest()
    found.source_records = src.read
    part.duplicates = list(found.duplicates)
    if next_pending is not None:
        part.skip_to(next_pending[0])  # offsets before it hold copies or no record
    else:
        if source_end is not None:
            part.skip_to(source_end)
        if target_end is not None and target_end > part.target_position:
            part.target_position = target_end
    return found

"""The persistent offset map: which source offset landed at which target offset.

Per ``(topic, partition)`` the map keeps *runs* of contiguous copied records
(``OffsetRun``: source offsets ``[source_start, source_start + length)`` were
written at target offsets ``[target_start, target_start + length)``), in
source order, plus the copy position on each side.  A run breaks wherever the
source has an offset gap (a transaction marker, a record compacted away, a
log start offset above 0 with respect to the target) or the target has one
(records another writer put there, ``append: true``), so a partition copied
without gaps is one run however many records it holds.

On disk: ``<state_dir>/offset-map.json``, replaced atomically (temp file,
fsync, rename) by :meth:`OffsetMap.save`, so a crash leaves the previous
checkpoint or the new one, never a torn file::

    {"version": 1,
     "partitions": [
       {"topic": "orders", "partition": 0,
        "source_start": 0, "target_start": 0,      # where the copy began
        "source_position": 18, "target_position": 15,
        "runs": [[0, 0, 5], [6, 5, 5], [12, 10, 5]]}]}   # source, target, length

A map built by alignment after a MirrorMaker 2 copy (:mod:`kmigrate.offsets.align`)
may also hold, per partition, ``"duplicates"`` (runs of target records that
repeat source records already in ``runs``: an at-least-once copy wrote them
twice; the map keeps the first copy and never translates into a duplicate) and
``"lost"`` (source offset ranges deleted from the source before they were
copied, ``{"first", "last", "reason"}``); verify reports both as differences.

The copy writes the map only after the target acknowledged every record it
lists (the writer is flushed first), so what the map says was copied is on
the target; records written after the last checkpoint are recognised on
resume by reading the target's tail (see :mod:`kmigrate.engines.native`).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmigrate.safefs import atomic_write, load_versioned_json

#: The file name inside ``state_dir``.
FILE_NAME = "offset-map.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class OffsetRun:
    """A run of contiguous copied records: source offsets [source_start, source_start+length)
    were written at target offsets [target_start, target_start+length)."""

    source_start: int
    target_start: int
    length: int

    @property
    def source_end(self) -> int:
        """Exclusive end of the run's source offsets."""
        return self.source_start + self.length

    @property
    def target_end(self) -> int:
        """Exclusive end of the run's target offsets."""
        return self.target_start + self.length


@dataclass(slots=True)
class PartitionMap:
    """The map of one partition: runs in source order and the copy positions.

    Attributes:
        source_start: the source offset the copy began at (log start then).
        target_start: the target's log end offset when the copy began.
        source_position: the next source offset the copy would read.
        target_position: the next target offset after the last copied record.
        runs: the copied runs, in source (and target) order.
        duplicates: second copies on the target (``OffsetRun``: source records
            ``[source_start, source_end)`` written again at ``[target_start,
            target_end)``), in target order; only alignment fills them.
        lost: source ranges deleted before they were copied, ``{"first": int,
            "last": int, "reason": str}`` (offsets inclusive); only alignment
            fills them.
    """

    topic: str
    partition: int
    source_start: int
    target_start: int
    source_position: int
    target_position: int
    runs: list[OffsetRun] = field(default_factory=list)
    _keys: list[int] = field(default_factory=list, repr=False)
    duplicates: list[OffsetRun] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, source_offset: int, target_offset: int, length: int) -> None:
        """Record ``length`` records copied from ``source_offset`` to ``target_offset``.

        Merges with the last run when both sides continue it.  Moves both
        positions to the run's end.

        Raises:
            ValueError: the run starts before the current positions (the map
                only grows forward).
        """
        if length <= 0:
            return
        if source_offset < self.source_position or target_offset < self.target_position:
            raise ValueError(
                f"{self.topic}[{self.partition}]: run ({source_offset}, {target_offset}, "
                f"{length}) starts before the map's positions ({self.source_position}, "
                f"{self.target_position})"
            )
        last = self.runs[-1] if self.runs else None
        if (
            last is not None
            and last.source_end == source_offset
            and last.target_end == target_offset
        ):
            self.runs[-1] = OffsetRun(last.source_start, last.target_start, last.length + length)
        else:
            self.runs.append(OffsetRun(source_offset, target_offset, length))
            self._keys.append(source_offset)
        self.source_position = source_offset + length
        self.target_position = target_offset + length

    def assign(self, other: PartitionMap) -> None:
        """Take ``other``'s starts, positions and runs in place (e.g. a worker
        process's checkpoint of this partition), so that whoever holds this
        object sees the new state.

        Raises:
            ValueError: ``other`` maps another partition.
        """
        if (other.topic, other.partition) != (self.topic, self.partition):
            raise ValueError(
                f"{self.topic}[{self.partition}]: cannot take the map of "
                f"{other.topic}[{other.partition}]"
            )
        self.source_start = other.source_start
        self.target_start = other.target_start
        self.source_position = other.source_position
        self.target_position = other.target_position
        self.runs = list(other.runs)
        self._keys = [r.source_start for r in self.runs]
        self.duplicates = list(other.duplicates)
        self.lost = list(other.lost)

    def skip_to(self, source_offset: int) -> None:
        """Move the source position forward over offsets holding no record to copy
        (transaction markers, compacted-away offsets); never backwards."""
        if source_offset > self.source_position:
            self.source_position = source_offset

    def to_target(self, source_offset: int) -> int | None:
        """The target offset of the copied record at ``source_offset``, or None."""
        i = bisect_right(self._keys, source_offset) - 1
        if i < 0:
            return None
        run = self.runs[i]
        if source_offset < run.source_end:
            return run.target_start + (source_offset - run.source_start)
        return None

    def to_source(self, target_offset: int) -> int | None:
        """The source offset of the record copied to ``target_offset``, or None
        (not a copy: written by someone else, or not copied yet)."""
        lo, hi = 0, len(self.runs)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.runs[mid].target_start <= target_offset:
                lo = mid + 1
            else:
                hi = mid
        if lo == 0:
            return None
        run = self.runs[lo - 1]
        if target_offset < run.target_end:
            return run.source_start + (target_offset - run.target_start)
        return None

    @property
    def records(self) -> int:
        """Records copied (sum of run lengths)."""
        return sum(r.length for r in self.runs)

    @property
    def duplicate_records(self) -> int:
        """Target records that are second copies (sum of the duplicate runs' lengths)."""
        return sum(r.length for r in self.duplicates)

    def as_json(self) -> dict[str, Any]:
        """The partition's JSON form (module docstring)."""
        data = self._base_json()
        if self.duplicates:
            data["duplicates"] = [
                [r.source_start, r.target_start, r.length] for r in self.duplicates
            ]
        if self.lost:
            data["lost"] = [dict(d) for d in self.lost]
        return data

    def _base_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "source_start": self.source_start,
            "target_start": self.target_start,
            "source_position": self.source_position,
            "target_position": self.target_position,
            "records": self.records,
            "runs": [[r.source_start, r.target_start, r.length] for r in self.runs],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartitionMap:
        """Rebuild from :meth:`as_json` output.

        Raises:
            KeyError, TypeError, ValueError: malformed data.
        """
        runs = [OffsetRun(int(s), int(t), int(n)) for s, t, n in data["runs"]]
        return cls(
            topic=str(data["topic"]),
            partition=int(data["partition"]),
            source_start=int(data["source_start"]),
            target_start=int(data["target_start"]),
            source_position=int(data["source_position"]),
            target_position=int(data["target_position"]),
            runs=runs,
            _keys=[r.source_start for r in runs],
            duplicates=[
                OffsetRun(int(s), int(t), int(n)) for s, t, n in data.get("duplicates", [])
            ],
            lost=[
                {"first": int(d["first"]), "last": int(d["last"]), "reason": str(d["reason"])}
                for d in data.get("lost", [])
            ],
        )

    def summary(self) -> str:
        """``orders[0]: 15 records in 3 runs, source [0, 18) -> target [0, 15)``."""
        return (
            f"{self.topic}[{self.partition}]: {self.records:,} records in "
            f"{len(self.runs)} runs, source [{self.source_start}, {self.source_position}) -> "
            f"target [{self.target_start}, {self.target_position})"
        )


class OffsetMap:
    """Per (topic, partition): runs in source order, plus the copy position.

    Load with :meth:`load` (an empty map when the file is absent), start a
    partition with :meth:`begin`, grow it with :meth:`extend` / :meth:`skip_to`
    and persist with :meth:`save` (atomic).
    """

    def __init__(self, path: Path, parts: dict[tuple[str, int], PartitionMap] | None = None):
        self.path = path
        self._parts: dict[tuple[str, int], PartitionMap] = dict(parts or {})

    @classmethod
    def load(cls, state_dir: Path) -> OffsetMap:
        """The map in ``state_dir`` (``offset-map.json``); an empty map when no file.

        Raises:
            StepFailed: the file exists but is not a valid offset map (names the file).
        """
        path = Path(state_dir) / FILE_NAME

        def parse(data: dict[str, Any]) -> OffsetMap:
            parts = [PartitionMap.from_json(p) for p in data["partitions"]]
            return cls(path, {(p.topic, p.partition): p for p in parts})

        return load_versioned_json(path, FORMAT_VERSION, "offset map", parse) or cls(path)

    def save(self) -> None:
        """Write the map to its file atomically (temp file, fsync, rename)."""
        atomic_write(self.path, json.dumps(self.as_json(), separators=(",", ":")) + "\n")

    def partitions(self) -> list[tuple[str, int]]:
        """Every ``(topic, partition)`` in the map, sorted."""
        return sorted(self._parts)

    def get(self, topic: str, partition: int) -> PartitionMap | None:
        """The partition's map, or None when the copy never began there."""
        return self._parts.get((topic, partition))

    def begin(
        self, topic: str, partition: int, source_start: int, target_start: int
    ) -> PartitionMap:
        """The partition's map, created at the given start offsets when absent."""
        part = self._parts.get((topic, partition))
        if part is None:
            part = PartitionMap(
                topic, partition, source_start, target_start, source_start, target_start
            )
            self._parts[(topic, partition)] = part
        return part

    def forget(self, topic: str, partition: int) -> None:
        """Drop a partition (e.g. its target topic was deleted by rollback)."""
        self._parts.pop((topic, partition), None)

    def runs(self, topic: str, partition: int) -> list[OffsetRun]:
        """The partition's runs in source order (empty when never copied)."""
        part = self._parts.get((topic, partition))
        return list(part.runs) if part else []

    def source_position(self, topic: str, partition: int) -> int | None:
        """The next source offset the mirror would read (exclusive end of what it
        has read, including gaps it skipped past), or None when never started."""
        part = self._parts.get((topic, partition))
        return part.source_position if part else None

    def target_position(self, topic: str, partition: int) -> int | None:
        """The next target offset after the last copied record, or None."""
        part = self._parts.get((topic, partition))
        return part.target_position if part else None

    def to_target(self, topic: str, partition: int, source_offset: int) -> int | None:
        """The target offset of the copied record at ``source_offset``, or None if not copied."""
        part = self._parts.get((topic, partition))
        return part.to_target(source_offset) if part else None

    def to_source(self, topic: str, partition: int, target_offset: int) -> int | None:
        """The source offset of the record at ``target_offset``, or None if not a copy."""
        part = self._parts.get((topic, partition))
        return part.to_source(target_offset) if part else None

    def as_json(self) -> dict[str, Any]:
        """``{"version": 1, "partitions": [...]}`` (module docstring), for status and reports."""
        return {
            "version": FORMAT_VERSION,
            "partitions": [self._parts[k].as_json() for k in sorted(self._parts)],
        }

    def summary(self) -> str:
        """One line: partitions, records and runs in the map."""
        records = sum(p.records for p in self._parts.values())
        runs = sum(len(p.runs) for p in self._parts.values())
        return f"{len(self._parts)} partitions, {records:,} records in {runs:,} runs"

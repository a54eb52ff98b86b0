"""The dual-write check: did both clusters receive the same records in a time window?

While producers write to both clusters (a dual-write period before cutover),
the two copies of a topic differ in partition, order, offsets and timestamps
(each cluster, or each producer, stamps its own), so an ordered comparison
cannot work.  This module compares, per topic, the *multiset* of records in
the window, keyed by record key, of ``(value digest, headers digest)``:

* a record both sides hold (same key, value and headers) is **matched**;
* for one key, what one side has beyond the other is first paired with what
  the other side has beyond the first: each pair is **differing** (same key,
  different value or headers);
* what is left is **only on source** / **only on target**, except records
  within ``tolerance`` of either window edge (in-flight writes that landed
  just inside the window on one cluster and just outside on the other): those
  are counted as **tolerated**, not reported.

Each side selects records by its own timestamps, in ``[since - tolerance,
until + tolerance)``.  The start offset per partition comes from ListOffsets
by timestamp (KIP-79); records are then still filtered by timestamp, because
CreateTime timestamps need not grow with offsets.

Memory: per distinct record a fixed-size entry (SHA-256 digests of key, value
and headers in the encoding of :mod:`kmigrate.verify.digest`, two counters)
and one printable key per distinct key (at most :data:`KEY_CHARS`
characters), never the records themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from kmigrate.clusters.port import Cluster, PartitionEnd, Record
from kmigrate.escape import escape_controls
from kmigrate.verify.digest import field_digest, headers_digest
from kmigrate.verify.instants import format_instant

#: Keys shown per category in a report.
SAMPLE_KEYS = 5
#: Characters of a printable key kept (longer keys end in ``…``).
KEY_CHARS = 60


def printable_key(key: bytes | None) -> str:
    """A key for a report: UTF-8 with escapes for other bytes and for control characters
    (:func:`kmigrate.escape.escape_controls`), ``(null)``, truncated."""
    if key is None:
        return "(null)"
    text = escape_controls(key.decode("utf-8", errors="backslashreplace"))
    return text if len(text) <= KEY_CHARS else text[: KEY_CHARS - 1] + "…"


@dataclass
class SideTally:
    """One side of one topic: records in the window as digests.

    ``entries``: key digest → ``{(value digest, headers digest): [core, edge]}``,
    where ``edge`` counts records within the tolerance of a window edge.
    ``keys``: key digest → printable key.
    """

    records: int = 0
    entries: dict[bytes, dict[tuple[bytes, bytes], list[int]]] = field(default_factory=dict)
    keys: dict[bytes, str] = field(default_factory=dict)

    def add(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: Iterable[tuple[str, bytes | None]],
        *,
        edge: bool = False,
    ) -> None:
        """Count one record (``edge``: within the tolerance of a window edge)."""
        kd = field_digest(key)
        if kd not in self.keys:
            self.keys[kd] = printable_key(key)
        counts = self.entries.setdefault(kd, {}).setdefault(
            (field_digest(value), headers_digest(headers)), [0, 0]
        )
        counts[1 if edge else 0] += 1
        self.records += 1


@dataclass
class TopicResult:
    """The verdict for one topic (counts are records).

    ``tolerated_*``: records on one side only, within the tolerance of a
    window edge, not reported as differences.  ``first_*``: up to
    :data:`SAMPLE_KEYS` printable keys of each kind, in the order read.
    """

    topic: str
    source_records: int
    target_records: int
    matched: int
    only_on_source: int
    only_on_target: int
    differing: int
    tolerated_on_source: int = 0
    tolerated_on_target: int = 0
    first_only_on_source: list[str] = field(default_factory=list)
    first_only_on_target: list[str] = field(default_factory=list)
    first_differing: list[str] = field(default_factory=list)

    @property
    def match(self) -> bool:
        """No record only on one side (beyond the tolerance) and none differing."""
        return not (self.only_on_source or self.only_on_target or self.differing)

    def as_dict(self) -> dict[str, Any]:
        """JSON form, with ``match``."""
        return {**asdict(self), "match": self.match}


def _leftover(
    mine: dict[tuple[bytes, bytes], list[int]], other: dict[Any, list[int]]
) -> tuple[int, int]:
    """Records of ``mine`` beyond ``other`` for one key: ``(count, of which at an edge)``."""
    count = edge = 0
    for item, (core, at_edge) in mine.items():
        theirs = sum(other.get(item, (0, 0)))
        extra = core + at_edge - theirs
        if extra > 0:
            count += extra
            edge += min(extra, at_edge)
    return count, edge


def compare_topic(topic: str, source: SideTally, target: SideTally) -> TopicResult:
    """Compare two sides of one topic as multisets keyed by record key (module docstring)."""
    result = TopicResult(topic, source.records, target.records, 0, 0, 0, 0)
    ordered = list(source.keys) + [k for k in target.keys if k not in source.keys]
    for kd in ordered:
        s = source.entries.get(kd, {})
        t = target.entries.get(kd, {})
        for item in s.keys() & t.keys():
            result.matched += min(sum(s[item]), sum(t[item]))
        ls, ls_edge = _leftover(s, t)
        lt, lt_edge = _leftover(t, s)
        pairs = min(ls, lt)
        alone_s, alone_t = ls - pairs, lt - pairs
        tol_s, tol_t = min(alone_s, ls_edge), min(alone_t, lt_edge)
        name = source.keys.get(kd) or target.keys[kd]
        for count, kind in (
            (pairs, "differing"),
            (alone_s - tol_s, "only_on_source"),
            (alone_t - tol_t, "only_on_target"),
        ):
            if count:
                setattr(result, kind, getattr(result, kind) + count)
                sample: list[str] = getattr(result, f"first_{kind}")
                if len(sample) < SAMPLE_KEYS:
                    sample.append(name)
        result.tolerated_on_source += tol_s
        result.tolerated_on_target += tol_t
    return result


@dataclass(frozen=True)
class Window:
    """The window ``[since_ms, until_ms)`` and the tolerance at its edges (ms)."""

    since_ms: int
    until_ms: int
    tolerance_ms: int = 0

    def classify(self, timestamp_ms: int) -> str | None:
        """``core``, ``edge`` (within the tolerance of an edge) or None (outside)."""
        tol = self.tolerance_ms
        if not self.since_ms - tol <= timestamp_ms < self.until_ms + tol:
            return None
        if tol and any(
            edge - tol <= timestamp_ms < edge + tol for edge in (self.since_ms, self.until_ms)
        ):
            return "edge"
        return "core" if self.since_ms <= timestamp_ms < self.until_ms else "edge"


def collect(cluster: Cluster, topics: Iterable[str], window: Window) -> dict[str, SideTally]:
    """Read one cluster's records of ``topics`` in the window into tallies, per topic.

    Topics the cluster does not hold give an empty tally.  Each partition is
    read from its offset for ``since - tolerance`` (ListOffsets by timestamp)
    to its end, and records are selected by their own timestamps.

    Raises:
        kmigrate.errors.ClusterError: the cluster could not be read.
    """
    wanted = list(topics)
    metas = cluster.topics()
    tallies = {t: SideTally() for t in wanted}
    parts = [(t, p) for t in wanted if t in metas for p in range(metas[t].partitions)]
    starts = cluster.offsets_for_times(parts, window.since_ms - window.tolerance_ms)
    reads = [(t, p, o) for (t, p), o in sorted(starts.items()) if o is not None]
    for item in cluster.read(reads):
        if isinstance(item, PartitionEnd):
            continue
        _tally(tallies[item.topic], item, window)
    return tallies


def _tally(tally: SideTally, record: Record, window: Window) -> None:
    where = window.classify(record.timestamp_ms)
    if where is not None:
        tally.add(record.key, record.value, record.headers, edge=where == "edge")


def dual_write_check(
    source: Cluster, target: Cluster, topics: Iterable[str], window: Window
) -> list[TopicResult]:
    """Compare the window's records of every topic on both clusters; one result per topic.

    Raises:
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    names = sorted(topics)
    src = collect(source, names, window)
    tgt = collect(target, names, window)
    return [compare_topic(t, src[t], tgt[t]) for t in names]


def report(results: list[TopicResult], window: Window) -> dict[str, Any]:
    """The JSON report: window, per-topic results, overall ``match``."""
    return {
        "kind": "dual-write",
        "since": format_instant(window.since_ms),
        "until": format_instant(window.until_ms),
        "since_ms": window.since_ms,
        "until_ms": window.until_ms,
        "tolerance_s": window.tolerance_ms / 1000,
        "match": all(r.match for r in results),
        "topics": [r.as_dict() for r in results],
    }


#: The dual-write table's columns (:func:`table_rows`).
TABLE_HEADERS = [
    "topic",
    "source records",
    "target records",
    "only on source",
    "only on target",
    "differing",
    "tolerated",
    "first keys",
]


def first_keys(r: TopicResult) -> str:
    """Up to :data:`SAMPLE_KEYS` printable keys of each kind of difference, for a table cell."""
    parts = []
    for label, keys in (
        ("source only", r.first_only_on_source),
        ("target only", r.first_only_on_target),
        ("differ", r.first_differing),
    ):
        if keys:
            parts.append(f"{label}: " + ", ".join(keys))
    return "; ".join(parts)


def table_rows(results: list[TopicResult]) -> list[list[Any]]:
    """One row per topic under :data:`TABLE_HEADERS` (counts are records)."""
    return [
        [
            r.topic,
            r.source_records,
            r.target_records,
            r.only_on_source,
            r.only_on_target,
            r.differing,
            r.tolerated_on_source + r.tolerated_on_target,
            first_keys(r),
        ]
        for r in results
    ]

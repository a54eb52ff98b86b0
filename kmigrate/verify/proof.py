"""The proven ranges: what verify has already proven equal, per partition, kept
in the state dir so that a later verify reads only the rest.

A following verify (:mod:`kmigrate.verify.follow`) and a final verify with a
state dir keep, per partition, the records proven equal on both sides as a
whole number of blocks of the chained digest (:mod:`kmigrate.verify.digest`):
the count, the 32-byte chain value ``d_K`` after them, the offsets of the
first and last proven record on each side and the SHA-256 of that last record
alone on each side.  A verify that goes on from there
(:func:`kmigrate.verify.summaries.summarize_side` with ``resume``) ends with
exactly the digest a full read gives, because the chain after ``K`` blocks
depends only on those blocks.

Before the proof is reused it is re-checked (:func:`recheck`):

* the clusters are the same (cluster ids) and each topic is the same topic
  (its topic id, KIP-516, where the broker gives one): a topic deleted and
  re-created under a proven range is named;
* each side's log start offset has not passed records that were never proven
  (retention or DeleteRecords): those records can no longer be verified, and
  are named;
* each side still holds the last proven record, with the same digest.

A log start offset that passed proven records only (retention on a long
migration) leaves the proof standing: those records were proven while they
existed.  A full verify then reads fewer records, so its digests differ from
the reusing verify's there (the one case where they do).

What the re-checks cannot catch: Kafka records are immutable once written;
only compaction, retention and re-creation change what a partition holds.  A
record *inside* a proven range removed by compaction (``cleanup.policy=compact``)
after it was proven, or a topic re-created (on a broker that gives no topic
ids: the all-zero UUID) and refilled so that the last proven record is again
the same record at the same offset, is not seen: only ``--full`` re-reads it.
(Apache Kafka and Tansu both give topic ids.)

On disk: ``<state_dir>/verify-proof.json`` (0600, in a 0700 folder, replaced
atomically, never written through a symlink: :func:`kmigrate.safefs.atomic_write`)::

    {"version": 1, "source_cluster": "id", "target_cluster": "id",
     "topic_ids": {"source": {"orders": "b64"}, "target": {...}},
     "passes": [{"id": 1, "kind": "follow", "started": "...Z"}],
     "partitions": [
       {"topic": "orders", "partition": 0, "aligned": true, "timestamps": true,
        "records": 4096, "chain": "hex d_K",
        "source": {"first": 0, "last": 4095, "last_digest": "hex"},
        "target": {"first": 0, "last": 4095, "last_digest": "hex"},
        "ranges": [{"pass": 1, "at": "...Z", "records": 4096,
                    "source": [0, 4096], "target": [0, 4096]}]}]}
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kmigrate.clusters.port import Cluster, PartitionEnd
from kmigrate.safefs import atomic_write, load_versioned_json
from kmigrate.verify.compare import Checkpoint, PartitionRange
from kmigrate.verify.digest import record_digest

#: The file name inside ``state_dir``.
FILE_NAME = "verify-proof.json"
FORMAT_VERSION = 1

TP = tuple[str, int]


def now_iso() -> str:
    """The current UTC time, ``2026-12-05T03:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ProvenSide:
    """One side of a proven partition: offsets of the first and last proven
    record, and the SHA-256 (hex) of the last one alone."""

    first: int | None = None
    last: int | None = None
    last_digest: str = ""

    @property
    def next(self) -> int | None:
        """The offset a read goes on from (after the last proven record)."""
        return None if self.last is None else self.last + 1

    def as_json(self) -> dict[str, Any]:
        """``{"first", "last", "last_digest"}`` (module docstring)."""
        return {"first": self.first, "last": self.last, "last_digest": self.last_digest}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProvenSide:
        """Rebuild from :meth:`as_json` output (missing keys: nothing proven)."""
        first, last = data.get("first"), data.get("last")
        return cls(
            None if first is None else int(first),
            None if last is None else int(last),
            str(data.get("last_digest") or ""),
        )


@dataclass
class ProvenPartition:
    """What is proven of one partition (module docstring).

    Attributes:
        aligned: proven through the mirror's offset map (else n-th with n-th).
        timestamps: timestamps were part of the digests.
        records: records proven (a whole number of digest blocks).
        chain: the chained digest ``d_K`` after them (32 bytes; empty for none).
        ranges: per pass, what it proved: ``{"pass", "at", "records",
            "source": [from, to), "target": [from, to)}`` (offsets).
    """

    topic: str
    partition: int
    aligned: bool
    timestamps: bool = True
    records: int = 0
    chain: bytes = b""
    source: ProvenSide = field(default_factory=ProvenSide)
    target: ProvenSide = field(default_factory=ProvenSide)
    ranges: list[dict[str, Any]] = field(default_factory=list)

    def advance(
        self,
        pass_id: int,
        source_mark: Checkpoint,
        target_mark: Checkpoint,
        source_first: int | None,
        target_first: int | None,
    ) -> None:
        """Take the proof up to the equal checkpoints ``source_mark`` /
        ``target_mark`` (same count, same chain value); ``*_first``: the first
        offset read on each side in this pass (kept for a first proof)."""
        src_from = self.source.next if self.source.next is not None else source_first
        tgt_from = self.target.next if self.target.next is not None else target_first
        added = source_mark.records - self.records
        if self.source.first is None:
            self.source.first = source_first
            self.target.first = target_first
        self.records = source_mark.records
        self.chain = source_mark.digest
        self.source.last, self.source.last_digest = source_mark.offset, source_mark.last.hex()
        self.target.last, self.target.last_digest = target_mark.offset, target_mark.last.hex()
        last = self.ranges[-1] if self.ranges else None
        if last is not None and last["pass"] == pass_id:
            last.update(
                at=now_iso(),
                records=last["records"] + added,
                source=[last["source"][0], source_mark.offset + 1],
                target=[last["target"][0], target_mark.offset + 1],
            )
        else:
            self.ranges.append(
                {
                    "pass": pass_id,
                    "at": now_iso(),
                    "records": added,
                    "source": [src_from, source_mark.offset + 1],
                    "target": [tgt_from, target_mark.offset + 1],
                }
            )

    def as_json(self) -> dict[str, Any]:
        """The partition's entry in the file (module docstring)."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "aligned": self.aligned,
            "timestamps": self.timestamps,
            "records": self.records,
            "chain": self.chain.hex(),
            "source": self.source.as_json(),
            "target": self.target.as_json(),
            "ranges": self.ranges,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProvenPartition:
        """Rebuild from :meth:`as_json` output.

        Raises:
            KeyError, TypeError, ValueError: malformed data.
        """
        return cls(
            str(data["topic"]),
            int(data["partition"]),
            bool(data["aligned"]),
            bool(data.get("timestamps", True)),
            int(data["records"]),
            bytes.fromhex(str(data["chain"])),
            ProvenSide.from_json(data["source"]),
            ProvenSide.from_json(data["target"]),
            [dict(r) for r in data.get("ranges", [])],
        )


@dataclass
class Proof:
    """The proven ranges of every partition, and the identities they hold for.

    Load with :meth:`load`, start a pass with :meth:`begin_pass`, save with
    :meth:`save` (atomic).
    """

    path: Path
    source_cluster: str | None = None
    target_cluster: str | None = None
    topic_ids: dict[str, dict[str, str | None]] = field(
        default_factory=lambda: {"source": {}, "target": {}}
    )
    passes: list[dict[str, Any]] = field(default_factory=list)
    partitions: dict[TP, ProvenPartition] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> Proof:
        """The proof in ``state_dir`` (an empty one when there is no file).

        Raises:
            StepFailed: the file exists but is not a valid proof (names the file).
        """
        path = Path(state_dir) / FILE_NAME

        def parse(data: dict[str, Any]) -> Proof:
            parts = [ProvenPartition.from_json(p) for p in data["partitions"]]
            ids = data.get("topic_ids") or {}
            return cls(
                path,
                data.get("source_cluster"),
                data.get("target_cluster"),
                {"source": dict(ids.get("source", {})), "target": dict(ids.get("target", {}))},
                [dict(p) for p in data.get("passes", [])],
                {(p.topic, p.partition): p for p in parts},
            )

        hint = "; remove it (or run verify --full) to verify everything again"
        return load_versioned_json(path, FORMAT_VERSION, "verify proof", parse, hint) or cls(path)

    def save(self) -> None:
        """Write the proof atomically (temp file 0600, fsync, rename; no symlink followed)."""
        atomic_write(self.path, json.dumps(self.as_json(), separators=(",", ":")) + "\n")

    def as_json(self) -> dict[str, Any]:
        """The file's form (module docstring)."""
        return {
            "version": FORMAT_VERSION,
            "source_cluster": self.source_cluster,
            "target_cluster": self.target_cluster,
            "topic_ids": self.topic_ids,
            "passes": self.passes,
            "partitions": [self.partitions[k].as_json() for k in sorted(self.partitions)],
        }

    def begin_pass(self, kind: str) -> int:
        """Number a new pass (``follow`` or ``final``) and note when it started."""
        pass_id = len(self.passes) + 1
        self.passes.append({"id": pass_id, "kind": kind, "started": now_iso()})
        return pass_id

    def part(self, rng: PartitionRange) -> ProvenPartition:
        """The partition's proof, made (empty) when absent."""
        tp = (rng.topic, rng.partition)
        got = self.partitions.get(tp)
        if got is None:
            got = ProvenPartition(rng.topic, rng.partition, rng.offset_map is not None)
            got.timestamps = rng.timestamps
            self.partitions[tp] = got
        return got


def _ids(cluster: Cluster, topics: list[str]) -> dict[str, str | None]:
    """Topic ids (KIP-516) of ``topics``, None where the cluster gives none (a
    cluster type without the request, a service that refuses it)."""
    fetch = getattr(cluster, "topic_ids", None)
    try:
        return dict(fetch(topics)) if fetch is not None else dict.fromkeys(topics)
    except Exception:  # noqa: BLE001 - then only the last-record re-check holds
        return dict.fromkeys(topics)


def _cluster_id(cluster: Cluster) -> str | None:
    try:
        return cluster.describe().cluster_id
    except Exception:  # noqa: BLE001 - an id is only compared when both are known
        return None


def bind(proof: Proof, source: Cluster, target: Cluster, topics: list[str]) -> list[str]:
    """Tie ``proof`` to the clusters and topics now being verified: drop what
    no longer holds, note what is new.  Returns one line per proof dropped
    (a different cluster, a topic re-created, a range that no longer fits).

    Raises:
        kmigrate.errors.ClusterError: a cluster could not be asked.
    """
    notes: list[str] = []
    ids = {"source": _cluster_id(source), "target": _cluster_id(target)}
    for side, known in (("source", proof.source_cluster), ("target", proof.target_cluster)):
        if known and ids[side] and known != ids[side]:
            notes.append(
                f"the {side} is another cluster (id {ids[side]}, proof made on {known}): "
                "every proven range is dropped"
            )
            proof.partitions.clear()
            proof.topic_ids = {"source": {}, "target": {}}
    proof.source_cluster = ids["source"] or proof.source_cluster
    proof.target_cluster = ids["target"] or proof.target_cluster
    for side, cluster in (("source", source), ("target", target)):
        now = _ids(cluster, topics)
        kept = proof.topic_ids.setdefault(side, {})
        for topic, topic_id in now.items():
            was = kept.get(topic)
            if was and topic_id and was != topic_id:
                notes.append(
                    f"{topic} was deleted and re-created on the {side} (topic id {was} -> "
                    f"{topic_id}) under a proven range: its proof is dropped"
                )
                for tp in [tp for tp in proof.partitions if tp[0] == topic]:
                    del proof.partitions[tp]
            kept[topic] = topic_id or was
    return notes


@dataclass
class Problem:
    """A re-check that failed for one partition: what it found (a full sentence)."""

    topic: str
    partition: int
    reason: str
    source_offset: int | None = None
    target_offset: int | None = None
    #: False when the partition cannot be read from where its range starts
    #: (a log start offset passed it): it is then judged on this finding alone.
    readable: bool = True

    def as_difference(self) -> dict[str, Any]:
        """The form of a result's ``first_difference``."""
        return {
            "source_offset": self.source_offset,
            "target_offset": self.target_offset,
            "reason": self.reason,
        }


def recheck(
    proof: Proof,
    source: Cluster,
    target: Cluster,
    ranges: list[PartitionRange],
    *,
    last_records: bool = True,
) -> list[Problem]:
    """The re-checks of a proof before it is reused (module docstring): log start
    offsets against the unproven records, and (``last_records``) the last
    proven record on each side.  One :class:`Problem` per partition that fails; a partition whose
    re-check fails must not be taken as matching.

    Raises:
        kmigrate.errors.ClusterError: a side could not be asked or read.
    """
    problems: list[Problem] = []
    proven = [
        (r, proof.partitions[(r.topic, r.partition)])
        for r in ranges
        if (r.topic, r.partition) in proof.partitions
        and proof.partitions[(r.topic, r.partition)].records
    ]
    if not proven:
        return problems
    # Both sides side by side (each read waits on its own broker); the source's
    # problems first, as when they were read one after the other.
    with ThreadPoolExecutor(2, thread_name_prefix="kmigrate-recheck") as pool:
        on_target = pool.submit(_recheck_side, "target", target, proven, last_records)
        problems = _recheck_side("source", source, proven, last_records)
        problems += on_target.result()
    return _first_per_partition(problems)


def _recheck_side(
    side: str,
    cluster: Cluster,
    proven: list[tuple[PartitionRange, ProvenPartition]],
    last_records: bool,
) -> list[Problem]:
    """:func:`recheck` on one side (``"source"`` or ``"target"``): its problems.

    Raises:
        kmigrate.errors.ClusterError: the side could not be asked or read.
    """
    problems: list[Problem] = []
    tps = [(r.topic, r.partition) for r, _ in proven]
    marks = cluster.watermark_offsets(tps)
    wanted = [  # a record below the log start is not asked for (named below)
        (p.topic, p.partition, last, p.timestamps)
        for _, p in proven
        if (last := getattr(p, side).last) is not None
        and last >= marks.get((p.topic, p.partition), (0, 0))[0]
    ]
    lasts = _read_at(cluster, wanted) if last_records else {}
    for _r, p in proven:
        one: ProvenSide = getattr(p, side)
        low, _high = marks.get((p.topic, p.partition), (0, 0))
        where = f"{p.topic}[{p.partition}]"
        at: dict[str, int | None] = {"source_offset": None, "target_offset": None}
        if one.next is not None and low > one.next:
            at[f"{side}_offset"] = one.next
            problems.append(
                Problem(
                    p.topic,
                    p.partition,
                    f"{side} log start offset {low} passed unproven records at offsets "
                    f"{one.next}..{low - 1} of {where} (retention or DeleteRecords): "
                    "they were never verified and can no longer be read",
                    at["source_offset"],
                    at["target_offset"],
                    readable=False,
                )
            )
            continue
        got = lasts.get((p.topic, p.partition))
        if not last_records or (one.last is not None and low > one.last):
            continue  # retention passed proven records only: the proof stands
        if got is None or got.hex() != one.last_digest:
            at[f"{side}_offset"] = one.last
            what = "no longer holds" if got is None else "holds another record at"
            problems.append(
                Problem(
                    p.topic,
                    p.partition,
                    f"the {side} {what} the last proven record of {where} (offset "
                    f"{one.last}): the topic was re-created or the record compacted "
                    "away since it was proven",
                    at["source_offset"],
                    at["target_offset"],
                )
            )
    return problems


def _first_per_partition(problems: list[Problem]) -> list[Problem]:
    seen: set[TP] = set()
    out = []
    for p in problems:
        if (p.topic, p.partition) not in seen:
            seen.add((p.topic, p.partition))
            out.append(p)
    return out


def _read_at(cluster: Cluster, wanted: list[tuple[str, int, int, bool]]) -> dict[TP, bytes]:
    """The record digest (:func:`kmigrate.verify.digest.record_digest`, with
    timestamps when the 4th item says so) of the record at each
    ``(topic, partition, offset, timestamps)``, in one read; absent where that
    offset holds no record any more."""
    if not wanted:
        return {}
    starts = [(t, p, o) for t, p, o, _ in wanted]
    stops = {(t, p): o + 1 for t, p, o, _ in wanted}
    want = {(t, p): o for t, p, o, _ in wanted}
    stamped = {(t, p): ts for t, p, _, ts in wanted}
    out: dict[TP, bytes] = {}
    for item in cluster.read(starts, stop_offsets=stops):
        if isinstance(item, PartitionEnd):
            continue
        tp = (item.topic, item.partition)
        if item.offset == want.get(tp):
            out[tp] = record_digest(item, stamped[tp])
    return out

"""``mirror``: copy every record present on the source when the step starts.

Each record keeps its partition number, key, value (null stays null, empty
stays empty), headers (order, duplicate names, null values) and timestamp.
Per-partition order holds because the target producer is idempotent
(KIP-98: a retry never reorders or duplicates within a partition).

Resume after a crash: before writing, the step journals each partition's
``source_start`` and ``target_start`` (the target's log end).  A re-run counts
the records already on the target past ``target_start`` and skips that many
source records, so nothing is copied twice and nothing is skipped.  This
assumes no one else writes to the target topics during the migration.

The record journaled per partition::

    {"topic": "purchase-created", "partition": 0,
     "source_start": 0, "source_end": 1200,   # offsets read: [start, end)
     "target_start": 0, "target_end": 1200,   # offsets written: [start, end)
     "records": 1200, "bytes": 240000,
     "offset_map": [[0, 0, 1200]]}            # runs: source offset, target offset, count
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kmigrate.adapters.kafka import KafkaCluster, PartitionEnd, Record, RecordWriter
from kmigrate.errors import ClusterError, StepFailed
from kmigrate.selection import select_topics
from kmigrate.steps.base import Record as StepRecord
from kmigrate.steps.base import Step, StepContext


@dataclass
class PartitionCopy:
    """Progress of one partition; ``as_record`` is what the journal keeps."""

    topic: str
    partition: int
    source_start: int
    target_start: int
    skip: int = 0
    records: int = 0
    bytes: int = 0
    source_end: int | None = None
    offset_map: list[list[int]] = field(default_factory=list)

    def add(self, record: Record) -> None:
        """Count one copied (or already-copied) record and extend the offset map."""
        target_offset = self.target_start + self.records
        last = self.offset_map[-1] if self.offset_map else None
        if (
            last is not None
            and last[0] + last[2] == record.offset
            and last[1] + last[2] == target_offset
        ):
            last[2] += 1
        else:
            self.offset_map.append([record.offset, target_offset, 1])
        self.records += 1

    def as_record(self) -> dict[str, Any]:
        """The partition's journal entry (module docstring shows its shape)."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "source_start": self.source_start,
            "source_end": self.source_end,
            "target_start": self.target_start,
            "target_end": self.target_start + self.records,
            "records": self.records,
            "bytes": self.bytes,
            "offset_map": self.offset_map,
        }


def confirmed_only(entry: dict[str, Any], count: int) -> dict[str, Any]:
    """Cut a partition's journal entry down to its first ``count`` records.

    ``count`` is how many records the target confirmed (those kept from an
    earlier attempt plus those this attempt's delivery reports acknowledged).
    ``records``, ``target_end``, ``offset_map`` and ``source_end`` then claim
    only those; ``bytes`` stays the bytes read.  An entry already within
    ``count`` is returned unchanged.
    """
    if entry["records"] <= count:
        return entry
    runs: list[list[int]] = []
    left = count
    for src, tgt, n in entry["offset_map"]:
        if left <= 0:
            break
        runs.append([src, tgt, min(n, left)])
        left -= n
    last = runs[-1] if runs else None
    return {
        **entry,
        "records": count,
        "target_end": entry["target_start"] + count,
        "source_end": last[0] + last[2] if last else entry["source_start"],
        "offset_map": runs,
    }


def partitions_of(source: KafkaCluster, topics: Iterable[str]) -> list[tuple[str, int]]:
    """Every ``(topic, partition)`` of the given source topics, sorted."""
    metas = source.topics()
    return sorted((t, p) for t in topics if t in metas for p in range(metas[t].partitions))


def mirror(
    ctx: StepContext, topics: list[str], previous: StepRecord, *, append: bool = False
) -> StepRecord:
    """Copy the topics' records from ``ctx.source`` to ``ctx.target``.

    Args:
        previous: the record of an interrupted attempt, to resume from.
        append: copy although a target partition already holds records that
            no earlier attempt of this step wrote (otherwise refused: a second
            copy after the first would pass a range-based verify unnoticed).

    Returns the step record (``partitions``: one entry per partition, as in
    the module docstring; ``resumed``: true when an earlier attempt's copies
    were kept).

    Raises:
        StepFailed: a target topic is missing or has fewer partitions, a target
            partition already holds records (without ``append``), or the target
            refused records.
        kmigrate.errors.ClusterError: a cluster could not be read.
    """
    parts = partitions_of(ctx.source, topics)
    target_topics = ctx.target.topics()
    missing = sorted({t for t, _ in parts if t not in target_topics})
    if missing and not ctx.dry_run:
        raise StepFailed(
            f"topics missing on the target: {', '.join(missing)}; run provision-topics first"
        )
    narrow = sorted(
        {t for t, p in parts if t in target_topics and p >= target_topics[t].partitions}
    )
    if narrow:
        raise StepFailed(
            f"target topics have fewer partitions than the source: {', '.join(narrow)}; "
            "records could not keep their partition"
        )
    before = {(p["topic"], p["partition"]): p for p in previous.get("partitions", [])}
    copies: dict[tuple[str, int], PartitionCopy] = {}
    occupied: list[str] = []
    estimate = 0
    source_marks = ctx.source.offsets(parts)
    present = [(t, p) for t, p in parts if t not in missing]
    target_marks = ctx.target.offsets(present) if present else {}
    target_ends = ctx.target.log_ends(present) if present else {}
    for topic, partition in parts:
        low, high = source_marks[(topic, partition)]
        estimate += max(high - low, 0)
        target_end = target_ends.get((topic, partition), 0)
        earlier = before.get((topic, partition))
        if earlier is not None:
            copy = PartitionCopy(topic, partition, earlier["source_start"], earlier["target_start"])
            copy.skip = target_end - copy.target_start
        else:
            copy = PartitionCopy(topic, partition, low, target_end)
            if target_end > target_marks.get((topic, partition), (0, 0))[0]:
                occupied.append(f"{topic}[{partition}] ({target_end} offsets)")
        copies[(topic, partition)] = copy
    if occupied and not append:
        refusal = (
            "target partitions already hold records: "
            + ", ".join(occupied[:10])
            + (f" and {len(occupied) - 10} more" if len(occupied) > 10 else "")
            + "; a second copy would duplicate them. Roll back the provisioning that "
            "created these topics and provision again, or set 'append: true' on the "
            "mirror step (--append) if another writer put them there on purpose"
        )
        if not ctx.dry_run:
            raise StepFailed(refusal)
        ctx.ui.warn(f"a real run would be refused: {refusal}")
    elif occupied:
        ctx.ui.warn(
            f"appending after records already on the target in {len(occupied)} "
            "partitions (append: true)"
        )
    resumed = sum(c.skip for c in copies.values())
    kept = {tp: max(c.skip, 0) for tp, c in copies.items()}
    writer: RecordWriter | None = None

    def state() -> StepRecord:
        # Only records the target confirmed count as copied (delivery reports),
        # never records merely queued in the producer.
        parts = [
            c.as_record()
            if writer is None
            else confirmed_only(c.as_record(), kept[tp] + writer.delivered(*tp))
            for tp, c in copies.items()
        ]
        return {"partitions": parts, "resumed": bool(resumed)}

    if ctx.dry_run:
        ctx.ui.line(
            f"would copy about {estimate:,} records from {len(parts)} partitions "
            f"of {len(topics)} topics"
            + (f", keeping {resumed:,} already copied" if resumed else "")
        )
        return state()
    ctx.checkpoint(state())
    if resumed:
        ctx.ui.line(f"resuming: {resumed:,} records are already on the target and are kept")
    errors: list[str] = []
    writer = ctx.target.writer(errors.append)
    starts = [(c.topic, c.partition, c.source_start) for c in copies.values()]
    since_poll = 0
    try:
        with ctx.ui.progress(estimate, "mirror") as bar:
            for item in ctx.source.read(starts):
                if isinstance(item, PartitionEnd):
                    copies[(item.topic, item.partition)].source_end = item.offset
                    continue
                copy = copies[(item.topic, item.partition)]
                size = item.size
                copy.bytes += size
                copy.add(item)
                if copy.skip > 0:  # already on the target from an earlier attempt
                    copy.skip -= 1
                    continue
                writer.write(item.topic, item)
                bar.advance(1, size)
                since_poll += 1
                if since_poll >= 5000:
                    since_poll = 0
                    writer.poll()
                    if errors:
                        break
            undelivered = writer.flush()
    except ClusterError as exc:
        # A read failed or the producer stopped on a fatal error (e.g. the
        # target broker restarted): journal what the target confirmed.
        writer.drain(30.0)
        ctx.checkpoint(state())
        raise StepFailed(f"mirror failed: {exc} (re-run execute to resume)") from None
    except BaseException:
        # Interrupted: let queued records land so the target holds a clean
        # prefix, and keep what was done for the resume.
        writer.drain(30.0)
        ctx.checkpoint(state())
        raise
    record = state()
    unconfirmed = sum(c.records for c in copies.values()) - sum(
        p["records"] for p in record["partitions"]
    )
    if errors or undelivered or unconfirmed:
        ctx.checkpoint(record)
        detail = errors[0] if errors else f"{unconfirmed} records not confirmed by the target"
        raise StepFailed(f"mirror failed: {detail} (re-run execute to resume)")
    return record


class Mirror(Step):
    """Copy the selected topics' records, resuming after a crash."""

    action = "mirror"
    rollback_summary = "none of its own: copies go with the topics kmigrate created"

    def run(self, ctx: StepContext, previous: StepRecord) -> StepRecord:
        topics = select_topics(ctx.source.topics(), ctx.include, ctx.exclude)
        record = mirror(ctx, topics, previous, append=self.spec.append)
        rows = [
            [
                p["topic"],
                p["partition"],
                f"[{p['source_start']}, {p['source_end']})",
                f"[{p['target_start']}, {p['target_end']})",
                p["records"],
            ]
            for p in record["partitions"]
        ]
        headers = ["topic", "partition", "source range", "target range", "records copied"]
        ctx.ui.table(rows, headers)
        return record

    def rollback(self, ctx: StepContext, record: StepRecord) -> list[str]:
        created = set((ctx.journal_lookup("provision-topics") or {}).get("created", []))
        lines = []
        for p in record.get("partitions", []):
            if p["topic"] not in created and p["records"]:
                lines.append(
                    f"keep {p['records']} copied records in pre-existing target topic "
                    f"{p['topic']}[{p['partition']}] offsets {p['target_start']}.."
                    f"{p['target_end']} (kmigrate deletes no records it did not "
                    "create a topic for)"
                )
        return lines or [
            "nothing to undo: the copied records go with the topics kmigrate created "
            "(to copy again, roll back their provisioning too)"
        ]

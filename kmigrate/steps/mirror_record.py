"""The mirror step's record: what it copied, per partition, and how the copy ended
(:class:`MirrorRecord`); with the MirrorMaker 2 engine also its connectors and the
internal topics it created (:class:`~kmigrate.engines.mirrormaker2.engine.Mm2State`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Self

from kmigrate.engines.mirrormaker2.engine import Mm2State
from kmigrate.offsets.map import PartitionMap
from kmigrate.steps.base import JsonRecord, StepRecord


@dataclass
class PartitionCopy:
    """One partition in the mirror's record: offsets copied so far (over all
    attempts, from the offset map) and what this attempt copied.

    ``source_start``/``source_end``: source offsets read ``[start, end)``;
    ``target_start``/``target_end``: the target's log end when the copy began and
    the next target offset after the last copy; ``records``: copies in the map;
    ``runs``: runs in the map; ``copied_now``/``bytes``: this attempt.
    """

    topic: str
    partition: int
    source_start: int
    source_end: int
    target_start: int
    target_end: int
    records: int
    runs: int
    copied_now: int = 0
    bytes: int = 0

    @classmethod
    def of(cls, part: PartitionMap, stats: list[int] | None = None) -> PartitionCopy:
        """From the partition's map (and ``[records, bytes]`` of this attempt)."""
        return cls(
            part.topic,
            part.partition,
            part.source_start,
            part.source_position,
            part.target_start,
            part.target_position,
            part.records,
            len(part.runs),
            *(stats or [0, 0]),
        )


@dataclass
class MirrorRecord(StepRecord):
    """What the mirror step journals; other steps read it through :meth:`from_json`.

    Attributes:
        mode: ``snapshot`` or ``follow``.
        ended: why the copy stopped (``snapshot complete``, ``caught up (…)``,
            ``max_duration reached (…)``, ``stopped by operator (SIGTERM)``), or
            None while running.
        offset_map: path of the offset map file.
        resumed_records: copies kept from earlier attempts.
        foreign_records: records found on the target's tail that are not copies.
        partitions: one :class:`PartitionCopy` each.
        lag: last lag per topic, ``{topic: {"records": n, "seconds": s}}``.
        lost: ranges found lost, ``[{"side", "topic", "partition", "start", "end"}]``.
        retention_warnings: the retention warnings given before copying.
        target_stamps_time: target topics with ``message.timestamp.type=
            LogAppendTime``: the target stamps their records with its own time.
        engine: ``native`` or ``mirrormaker2``.
        mm2: with ``mirrormaker2``: its connectors (with the plane's ``where``),
            what each side held at the start, and the MM2 internal topics this run
            created on the target (:class:`Mm2State`).
        alignment: with ``mirrormaker2``: what aligning both sides found
            (:meth:`kmigrate.offsets.build.AlignReport.as_json`: problems,
            records/s, MM2's offset syncs checked against the map).
        verify: with ``verify: follow``: what the following verify beside the
            copy saw (:meth:`kmigrate.verify.beside.BesideOutcome.as_json`:
            ``ended``, ``rounds``, ``proven_offsets``, ``lag``, ``difference``).
    """

    mode: str
    ended: str | None
    offset_map: str
    resumed_records: int = 0
    foreign_records: int = 0
    partitions: list[PartitionCopy] = field(default_factory=list)
    lag: dict[str, dict[str, float]] = field(default_factory=dict)
    lost: list[dict[str, Any]] = field(default_factory=list)
    retention_warnings: list[str] = field(default_factory=list)
    target_stamps_time: list[str] = field(default_factory=list)
    engine: str = "native"
    mm2: Mm2State | None = None
    alignment: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None

    @property
    def end(self) -> str:
        """How the copy ended, in a few words: ``snapshot complete``, ``caught
        up``, ``stopped by operator``, ``max_duration reached`` or ``running``
        (not ended: still running, or it failed; the journal's status says)."""
        return end_of(self.ended)

    @property
    def resumed(self) -> bool:
        """Whether an earlier attempt's copies were kept."""
        return self.resumed_records > 0

    def to_json(self) -> JsonRecord:
        """The journal form (plain JSON)."""
        data = asdict(self)
        data["resumed"] = self.resumed
        if self.mm2 is None:  # a native copy's record keeps the keys it always had
            del data["engine"], data["mm2"], data["alignment"]
        if self.verify is None:
            del data["verify"]
        return data

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record or one from before the offset map."""
        if not data or "offset_map" not in data or not isinstance(data["offset_map"], str):
            return None
        return cls(
            mode=str(data.get("mode", "snapshot")),
            ended=data.get("ended"),
            offset_map=data["offset_map"],
            resumed_records=int(data.get("resumed_records", 0)),
            foreign_records=int(data.get("foreign_records", 0)),
            partitions=[PartitionCopy(**p) for p in data.get("partitions", [])],
            lag=dict(data.get("lag", {})),
            lost=list(data.get("lost", [])),
            retention_warnings=list(data.get("retention_warnings", [])),
            target_stamps_time=list(data.get("target_stamps_time", [])),
            engine=str(data.get("engine", "native")),
            mm2=Mm2State.from_json(data.get("mm2")),
            alignment=data.get("alignment") if isinstance(data.get("alignment"), dict) else None,
            verify=data.get("verify") if isinstance(data.get("verify"), dict) else None,
        )

    def summary(self) -> str:
        """``6 partitions, 1,200 records in 6 runs; follow: caught up; lag orders 0``."""
        records = sum(p.records for p in self.partitions)
        runs = sum(p.runs for p in self.partitions)
        text = f"{len(self.partitions)} partitions, {records:,} records in {runs:,} runs"
        if self.mode == "follow":
            text += f"; follow: {self.ended or 'running'}"
        if self.lag:
            behind = sum(int(v.get("records", 0)) for v in self.lag.values())
            worst = max(float(v.get("seconds", 0)) for v in self.lag.values())
            text += f"; lag {behind:,} records, {worst:.1f} s"
        if self.lost:
            text += f"; LOST {len(self.lost)} ranges"
        if self.verify is not None:
            proven = sum(int(n) for n in self.verify.get("proven_offsets", {}).values())
            lag = sum(int(n) for n in self.verify.get("lag", {}).values())
            text += f"; verify beside: {self.verify.get('ended')}, proven {proven:,}, lag {lag:,}"
            text += "; VERIFY FOUND A DIFFERENCE" if self.verify.get("difference") else ""
        if self.mm2 is not None:
            text += f"; MirrorMaker 2 on {self.mm2.where}, {len(self.mm2.connectors)} connectors"
            text += " (deleted)" if self.mm2.connectors_deleted else ""
        return text


STOPPED_BY_OPERATOR = "stopped by operator"
#: The ``ended`` texts' beginnings (:func:`kmigrate.engines.base.follow_ended`)
#: and the few words each is shown as.
_ENDS = (
    ("snapshot complete", "snapshot complete"),
    ("caught up", "caught up"),
    (STOPPED_BY_OPERATOR, STOPPED_BY_OPERATOR),
    ("stopped", STOPPED_BY_OPERATOR),  # a worker engine told to stop without a reason
    ("max_duration", "max_duration reached"),
)


def end_of(ended: str | None) -> str:
    """How a copy ended, in a few words (see :attr:`MirrorRecord.end`)."""
    for prefix, words in _ENDS:
        if ended and ended.startswith(prefix):
            return words
    return "running"

"""The typed record of a read-only cutover check (``source-quiet``,
``consumers-on-target``): what the check saw, journaled as found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from kmigrate.cutover.evidence import summary as cutover_summary
from kmigrate.steps.base import JsonRecord, StepRecord


@dataclass
class CheckRecord(StepRecord):
    """What a cutover check saw.

    ``data`` is the journal form, kept whole: the shapes of
    :meth:`kmigrate.cutover.quiet.QuietResult.as_record` and
    :meth:`kmigrate.cutover.consumers.ConsumersResult.as_record`.
    """

    data: JsonRecord

    def to_json(self) -> JsonRecord:
        """The journal form, as the check wrote it."""
        return dict(self.data)

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record."""
        return cls(dict(data)) if data else None

    def summary(self) -> str:
        """``quiet for 30.0 s on 6 partitions (7 samples)``, ``NOT quiet: orders[0] 12.0
        records/s``, ``2 of 2 consumer groups resumed on the target``."""
        return cutover_summary(self.data) or "-"

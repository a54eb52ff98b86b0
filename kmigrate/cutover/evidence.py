"""One line of evidence per cutover check, for the evidence report's step table.

Works on the journaled records only (:meth:`kmigrate.cutover.quiet.QuietResult.as_record`,
:meth:`kmigrate.cutover.consumers.ConsumersResult.as_record`), as found: a record of
another shape gives None.
"""

from __future__ import annotations

from typing import Any


def summary(record: Any) -> str | None:
    """``quiet for 30.0 s on 6 partitions``, ``NOT quiet: orders[0] 12.0 records/s, …``,
    ``2 of 2 consumer groups resumed on the target``; None for other records."""
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("quiet"), bool) and isinstance(record.get("writing"), list):
        if record["quiet"]:
            return (
                f"quiet for {record.get('watched_s')} s on {record.get('partitions')} "
                f"partitions ({record.get('samples')} samples)"
            )
        rows = [
            f"{w.get('topic')}[{w.get('partition')}] {w.get('records_per_s')} records/s"
            for w in record["writing"][:5]
            if isinstance(w, dict)
        ]
        more = len(record["writing"]) - len(rows)
        return "NOT quiet: " + ", ".join(rows) + (f" and {more} more" if more > 0 else "")
    if isinstance(record.get("holds"), bool) and isinstance(record.get("groups"), list):
        groups = [g for g in record["groups"] if isinstance(g, dict)]
        ok = sum(1 for g in groups if g.get("holds") is True)
        text = f"{ok} of {len(groups)} consumer groups resumed on the target"
        bad = [f"{g.get('group')}: {'; '.join(g.get('problems') or [])}" for g in groups
               if g.get("holds") is not True]  # fmt: skip
        return text + (
            f" (waited {record.get('waited_s')} s; " + " | ".join(bad) + ")" if bad else ""
        )
    return None

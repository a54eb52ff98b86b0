"""The evidence report's data: a plain, JSON-ready dict built from the journal and step reports.

Nothing here touches a cluster.  The inputs are what ``kmigrate status``
reads (:func:`kmigrate.commands.status.step_rows` and ``Journal.events()``)
and the files steps wrote (the ``verify`` step's JSON report, see
:mod:`kmigrate.verify.evidence`).  Each step's record is read as the record
type of its journaled action (:func:`kmigrate.steps.read_record`), never
guessed from its keys.  Every input is read tolerantly: keys other helpers
add later (``id``, ``definition_changed``, ``offset_map``) are shown when
present and absent keys are not an error, so an older or newer journal still
gives a report (the mirror's section also reads the offset-map format from
before the map was a file, which :class:`kmigrate.steps.mirror.MirrorRecord`
does not).

The model (the JSON file is exactly this)::

    {"format": 1, "generated_at": "2026-11-24T18:00:00+00:00", "kmigrate": "0.1.0",
     "verdict": {"verdict": "VERIFIED" | "DIFFERENCES FOUND" | "ROLLED BACK" | "INCOMPLETE",
                 "reasons": ["…", …]},
     "plan": {"name", "file", "state_dir", "journal",
              "clusters": {"source": {"type", "bootstrap_servers"}, "target": {…}}},
     "steps": [{"step", "id", "phase", "description", "status", "by", "started_at",
                "ended_at", "duration_s", "attempts", "error", "summary", "ended",
                "rolled_back_at", "rolled_back_by", "undone", "extra": {…}}, …],
     "events": [{"at", "by", "event", "detail": {…}}, …],
     "provision": [{"step", "created", "existing", "dropped": [[topic, key, why], …],
                    "rewritten": [[topic, key, why], …], "accepted": [[topic, key, why], …],
                    "differences": [[topic, text], …]}, …],
     "verify": [{"step", "status", "ended_at", "report_file", "generated_at", "error",
                 "summary": {…},
                 "partitions": [{"topic", "partition", "match", "source": {records,
                    first_offset, last_offset, digest}, "target": {…},
                    "first_difference": {…} | None}, …]}, …],
     "offset_maps": [{"step", "records", "bytes", "duration_s", "ended", "map_file",
                      "partitions": [{"topic", "partition", "source_start", "source_end",
                                      "target_start", "target_end", "records", "bytes",
                      "runs": [[source_offset, target_offset, count], …]}, …]}, …],
     "groups": [{"step", "columns": [...], "rows": [[...], …]}, …],
     "timings": {"first_started_at", "last_ended_at", "elapsed_s", "steps_s"}}

Never in it: cluster ``config`` values (they may hold secrets, and are
``${VAR}`` references anyway), only cluster types and bootstrap servers.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from kmigrate.steps import read_record
from kmigrate.steps.mirror import Mirror
from kmigrate.steps.provision_topics import ProvisionRecord
from kmigrate.steps.translate_offsets import TranslateOffsetsRecord
from kmigrate.steps.verify import VerifyRecord

VERIFIED = "VERIFIED"
DIFFERENCES = "DIFFERENCES FOUND"
INCOMPLETE = "INCOMPLETE"
ROLLED_BACK = "ROLLED BACK"
#: Actions that change nothing (nothing for a rollback to undo).
READ_ONLY = {"check-connectivity", "export-topics", "verify", "dual-write-check"}

# step_rows keys shown in their own columns; any other key lands in ``extra``.
_ROW_KEYS = {
    "step",
    "id",
    "phase",
    "description",
    "status",
    "started_at",
    "ended_at",
    "by",
    "attempts",
    "error",
    "record",
    "rolled_back_at",
    "rolled_back_by",
    "undone",
    "ended",
}


def _seconds(start: Any, end: Any) -> float | None:
    """Seconds between two ISO 8601 stamps, or None when either is missing or unreadable."""
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


def action_of(row: dict[str, Any]) -> str:
    """The journaled action of a step row (its description when a row has none)."""
    return str(row.get("action") or row.get("description") or "")


def summarize_record(action: str, record: Any) -> str:
    """A short human summary of a step record (``"12 matched, 0 mismatched"``), or ``-``.

    Read as the record type of the journaled ``action``
    (:func:`kmigrate.steps.read_record`, the same line ``kmigrate status``
    shows); a record that type cannot read is shown by its keys.
    """
    if not isinstance(record, dict) or not record:
        return "-"
    typed = read_record(action, record)
    if typed is not None:
        return typed.summary()
    return ", ".join(sorted(str(k) for k in record))[:80]


def _step(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "step": row.get("step"),
        "id": row.get("id"),
        "phase": row.get("phase"),
        "description": row.get("description"),
        "status": row.get("status") or "not run",
        "by": row.get("by"),
        "started_at": row.get("started_at"),
        "ended_at": row.get("ended_at"),
        "duration_s": _seconds(row.get("started_at"), row.get("ended_at")),
        "attempts": row.get("attempts") or 0,
        "error": row.get("error"),
        "summary": summarize_record(action_of(row), row.get("record")),
        # How a mirror ended: caught up, stopped by operator, max_duration reached, failed.
        "ended": row.get("ended"),
        "rolled_back_at": row.get("rolled_back_at"),
        "rolled_back_by": row.get("rolled_back_by"),
        "undone": list(row.get("undone") or []),
        "action": action_of(row) or None,
        "definition": row.get("definition") if isinstance(row.get("definition"), dict) else {},
        "extra": {
            k: v
            for k, v in row.items()
            if k not in _ROW_KEYS | {"action", "definition", "phase_number"}
            and v not in (None, False, [], {})
        },
    }


def _label(row: dict[str, Any]) -> str:
    """How a section names the step a fact comes from: ``mirror (step 3.1)``."""
    ident = row.get("id") or row.get("step")
    return f"{row.get('description')} (step {ident})"


def _read_verify_report(
    record: VerifyRecord, default: Path | None
) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """The verify step's JSON report: ``(data, file, error)``; ``data`` None when unreadable."""
    named = record.report
    path = Path(named) if isinstance(named, str) and named else default
    if path is None:
        return None, None, "the verify step recorded no report file"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, str(path), f"report file {path} is missing"
    except (OSError, ValueError) as exc:
        return None, str(path), f"report file {path} cannot be read: {exc}"
    if not isinstance(data, dict):
        return None, str(path), f"report file {path} is not a JSON object"
    return data, str(path), None


def _side(data: Any) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    return {
        "records": data.get("records"),
        "first_offset": data.get("first_offset"),
        "last_offset": data.get("last_offset"),
        "digest": data.get("digest") or "",
    }


def _proven(data: Any) -> dict[str, Any] | None:
    """A partition's proven ranges from the verify report (``proven``: records
    reused from earlier passes, and per pass the offsets it proved, when)."""
    if not isinstance(data, dict):
        return None
    ranges = [r for r in data.get("ranges") or [] if isinstance(r, dict)]
    return {"reused_records": data.get("reused_records"), "ranges": ranges}


def _verify_section(row: dict[str, Any], record: VerifyRecord, default: Path | None) -> Any:
    data, file, error = _read_verify_report(record, default)
    journaled = record.to_json()
    summary = {
        k: journaled[k]
        for k in ("partitions", "matched", "mismatched", "source_records", "target_records")
        if journaled[k] is not None
    }
    partitions: list[dict[str, Any]] = []
    generated_at = None
    if data is not None:
        summary = dict(data.get("summary") or summary)
        generated_at = data.get("generated_at")
        for p in data.get("partitions") or []:
            if not isinstance(p, dict):
                continue
            partitions.append(
                {
                    "topic": p.get("topic"),
                    "partition": p.get("partition"),
                    "match": bool(p.get("match")),
                    "source": _side(p.get("source")),
                    "target": _side(p.get("target")),
                    "first_difference": p.get("first_difference"),
                    "proven": _proven(p.get("proven")),
                }
            )
    partitions.sort(key=lambda p: (p["match"], str(p["topic"]), p["partition"] or 0))
    return {
        "step": _label(row),
        "status": row.get("status"),
        "ended_at": row.get("ended_at"),
        "report_file": file,
        "generated_at": generated_at,
        "error": error,
        "summary": summary,
        "partitions": partitions,
        "proof": (data or {}).get("proof"),
    }


def _provision_section(row: dict[str, Any], record: ProvisionRecord) -> dict[str, Any]:
    differences = record.differences

    def per_key(found: dict[str, Any]) -> list[list[Any]]:
        return [
            [topic, key, why]
            for topic, keys in sorted(found.items())
            if isinstance(keys, dict)
            for key, why in sorted(keys.items())
        ]

    return {
        "step": _label(row),
        "created": sorted(str(t) for t in record.created),
        "existing": sorted(str(t) for t in record.existing),
        "dropped": per_key(record.dropped),
        "rewritten": per_key(record.rewritten),
        "accepted": [
            [str(a.get("topic")), str(a.get("key")), f"{a.get('reason')} [{a.get('rule')}]"]
            for a in record.accepted
            if isinstance(a, dict)
        ],
        "differences": [
            [topic, text]
            for topic, texts in sorted(differences.items())
            for text in (texts if isinstance(texts, list) else [texts])
        ],
    }


def _map_runs(path: Any) -> dict[tuple[Any, Any], list[list[Any]]]:
    """Runs per partition from the mirror's offset-map file (``offset-map.json``,
    :mod:`kmigrate.offsets.map`); empty when the file is gone or unreadable."""
    if not isinstance(path, str) or not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    parts = data.get("partitions") if isinstance(data, dict) else None
    return {
        (p.get("topic"), p.get("partition")): [list(r) for r in p.get("runs") or []]
        for p in parts or []
        if isinstance(p, dict)
    }


def mirror_ended(row: dict[str, Any], record: dict[str, Any]) -> str:
    """How a mirror ended, in words: its journaled end reason (``end_reason``, else
    ``ended``: caught up, stopped by the operator, max_duration), or its outcome."""
    reason = record.get("end_reason") or record.get("ended")
    if row.get("status") == "failed":
        return f"failed: {row.get('error')}" if row.get("error") else "failed"
    if reason:
        return str(reason)
    return "running or interrupted" if row.get("status") == "started" else str(row.get("status"))


def _offset_map_section(row: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    runs = _map_runs(record.get("offset_map"))
    rows = []
    for p in record.get("partitions") or []:
        if not isinstance(p, dict):
            continue
        listed = p.get("offset_map")
        rows.append(
            {
                "topic": p.get("topic"),
                "partition": p.get("partition"),
                "source_start": p.get("source_start"),
                "source_end": p.get("source_end"),
                "target_start": p.get("target_start"),
                "target_end": p.get("target_end"),
                "records": p.get("records"),
                "bytes": p.get("bytes"),
                "runs": [list(r) for r in listed if isinstance(r, list | tuple)]
                if isinstance(listed, list)
                else runs.get((p.get("topic"), p.get("partition")), []),
            }
        )
    return {
        "step": _label(row),
        "records": sum(p["records"] or 0 for p in rows),
        "bytes": sum(p["bytes"] or 0 for p in rows),
        "duration_s": _seconds(row.get("started_at"), row.get("ended_at")),
        "ended": mirror_ended(row, record),
        "map_file": record.get("offset_map"),
        "partitions": rows,
    }


def _groups_section(row: dict[str, Any], groups: list[Any]) -> dict[str, Any]:
    columns: list[str] = []
    for g in groups:
        if isinstance(g, dict):
            columns += [str(k) for k in g if str(k) not in columns]
    if not columns:
        return {"step": _label(row), "columns": ["group"], "rows": [[g] for g in groups]}
    rows = [
        [g.get(c) if isinstance(g, dict) else None for c in columns] if isinstance(g, dict) else [g]
        for g in groups
    ]
    return {"step": _label(row), "columns": columns, "rows": rows}


def _offset(value: Any) -> str:
    """An offset for a sentence: ``-`` when the side has no record there."""
    return "-" if value is None else str(value)


def _stale_verifies(steps: list[dict[str, Any]], verifies: list[dict[str, Any]]) -> list[str]:
    """Reasons for verify evidence older than the last mirror (re-run after verify)."""
    mirrors = [
        s["ended_at"]
        for s in steps
        if s["description"] == "mirror" and s["status"] == "succeeded" and s["ended_at"]
    ]
    if not mirrors:
        return []
    last_mirror = max(mirrors)
    return [
        f"{v['step']} ended {v['ended_at']}, before the last mirror ended ({last_mirror}): "
        "its evidence predates records copied since; run verify again"
        for v in verifies
        if v["ended_at"] and (_seconds(v["ended_at"], last_mirror) or 0) > 0
    ]


def _rolled_back(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """ROLLED BACK when some step was rolled back and every step that changed
    something (not a read-only action) is rolled back or never ran; else None."""
    undone = [s for s in steps if s["status"] == "rolled_back"]
    if not undone:
        return None
    changing = [
        s for s in steps if s["action"] not in READ_ONLY and s["status"] not in ("not run",)
    ]
    if any(s["status"] != "rolled_back" for s in changing):
        return None
    last = max(undone, key=lambda s: str(s["rolled_back_at"] or ""))
    return {
        "verdict": ROLLED_BACK,
        "reasons": [
            f"all {len(undone)} steps that changed the target were rolled back, newest first; "
            f"the last at {last['rolled_back_at']} by {last['rolled_back_by']}"
        ],
    }


def _verdict(steps: list[dict[str, Any]], verifies: list[dict[str, Any]]) -> dict[str, Any]:
    """VERIFIED only when every step succeeded and every verify report shows all partitions equal.

    ROLLED BACK when every step that changed something was rolled back (the
    migration was undone: what verify saw before no longer matters).
    DIFFERENCES FOUND when any verify found a partition that differs (it wins
    over everything else: it is the fact a change board must see first).
    INCOMPLETE otherwise, with the reasons (steps not run, failed, rolled
    back; no verify step; a verify report missing).
    """
    undone = _rolled_back(steps)
    if undone is not None:
        return undone
    reasons: list[str] = []
    for v in verifies:
        bad = [p for p in v["partitions"] if not p["match"]]
        mismatched = v["summary"].get("mismatched") or len(bad)
        if mismatched:
            total = v["summary"].get("partitions", len(v["partitions"]))
            text = f"{v['step']}: {mismatched} of {total} partitions differ"
            if bad:
                d = bad[0]["first_difference"] or {}
                text += (
                    f"; first: {bad[0]['topic']}[{bad[0]['partition']}] at source offset "
                    f"{_offset(d.get('source_offset'))}, target offset "
                    f"{_offset(d.get('target_offset'))} ({d.get('reason')})"
                )
            reasons.append(text)
    if reasons:
        return {"verdict": DIFFERENCES, "reasons": reasons}
    for s in steps:
        name = f"step {s['id'] or s['step']} ({s['description']})"
        if s["status"] == "not run":
            reasons.append(f"{name} has not run")
        elif s["status"] != "succeeded":
            why = f": {s['error']}" if s["error"] else ""
            reasons.append(f"{name} is {s['status'].replace('_', ' ')}{why}")
    if not verifies:
        reasons.append("the plan has no verify step that ran: nothing proves the target's data")
    reasons += _stale_verifies(steps, verifies)
    for v in verifies:
        if v["error"]:
            reasons.append(f"{v['step']}: {v['error']}")
        elif v["status"] == "succeeded" and not v["partitions"]:
            reasons.append(f"{v['step']}: the report compares no partition")
    if reasons:
        return {"verdict": INCOMPLETE, "reasons": reasons}
    n = sum(len(v["partitions"]) for v in verifies)
    records = sum(p["source"]["records"] or 0 for v in verifies for p in v["partitions"])
    return {
        "verdict": VERIFIED,
        "reasons": [
            f"every step succeeded; all {n} partitions verified equal "
            f"({records:,} records: counts, offsets and ordered SHA-256 digests)"
        ],
    }


def build_model(
    *,
    plan: dict[str, Any],
    rows: list[dict[str, Any]],
    events: list[dict[str, Any]],
    state_dir: Path | None,
    generated_at: str,
    version: str,
) -> dict[str, Any]:
    """Build the report model (module docstring) from journal rows and events.

    Args:
        plan: ``{"name", "file", "state_dir", "journal", "clusters": {role: {"type",
            "bootstrap_servers"}}}`` (no config values).
        rows: :func:`kmigrate.commands.status.step_rows` output, plan order.
        events: ``Journal.events()``, oldest first.
        state_dir: where a verify step's report lies when its record names none
            (``state_dir / reports/verify.json``); None to not look.
        generated_at: ISO 8601 time of this report.
        version: kmigrate's version.

    Returns the model; never raises on odd journal contents (they are shown as found).
    """
    steps = [_step(r) for r in rows]
    verifies, provisions, maps, groups = [], [], [], []
    default_report = state_dir / "reports" / "verify.json" if state_dir is not None else None
    for row in rows:
        record = row.get("record")
        if not isinstance(record, dict) or not record:
            continue
        typed = read_record(action_of(row), record)
        if isinstance(typed, VerifyRecord):
            # A following verify proves ranges, not a verdict: the final verify's
            # section shows them (its report's ``proven``).
            if typed.follow is None:
                verifies.append(_verify_section(row, typed, default_report))
        elif isinstance(typed, ProvisionRecord):
            provisions.append(_provision_section(row, typed))
        elif isinstance(typed, TranslateOffsetsRecord):
            groups.append(_groups_section(row, typed.groups))
        elif action_of(row) == Mirror.action and isinstance(record.get("partitions"), list):
            maps.append(_offset_map_section(row, record))
    durations = [s["duration_s"] for s in steps if s["duration_s"] is not None]
    starts = sorted(s["started_at"] for s in steps if isinstance(s["started_at"], str))
    ends = sorted(s["ended_at"] for s in steps if isinstance(s["ended_at"], str))
    return {
        "format": 1,
        "generated_at": generated_at,
        "kmigrate": version,
        "verdict": _verdict(steps, verifies),
        "plan": plan,
        "steps": steps,
        "events": [
            {
                "at": e.get("at"),
                "by": e.get("by"),
                "event": e.get("event"),
                "detail": {k: v for k, v in e.items() if k not in ("at", "by", "event")},
            }
            for e in events
            if isinstance(e, dict)
        ],
        "provision": provisions,
        "verify": verifies,
        "offset_maps": maps,
        "groups": groups,
        "timings": {
            "first_started_at": starts[0] if starts else None,
            "last_ended_at": ends[-1] if ends else None,
            "elapsed_s": _seconds(starts[0], ends[-1]) if starts and ends else None,
            "steps_s": sum(durations) if durations else None,
        },
    }

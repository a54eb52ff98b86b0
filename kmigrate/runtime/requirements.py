"""A phase's ``requires:`` gates: what each says, and whether it holds on the journal."""

from __future__ import annotations

from kmigrate.journal import FAILED, SUCCEEDED, Journal
from kmigrate.plan.schema import Requirement


def requirement_text(req: Requirement) -> str:
    """A gate as written in the plan, e.g. ``{step: verify, mismatches: 0}``."""
    parts = [f"step: {req.step}"]
    if req.status is not None:
        parts.append(f"status: {req.status}")
    if req.mismatches is not None:
        parts.append(f"mismatches: {req.mismatches}")
    return "{" + ", ".join(parts) + "}"


def requirement_problem(req: Requirement, journal: Journal) -> str | None:
    """Why ``req`` does not hold on ``journal``, or None when it holds.

    Without ``status`` the step must have succeeded; with ``mismatches`` alone a
    succeeded or failed verify whose record counts at most that many
    mismatched partitions holds.
    """
    entry = journal.entry(req.step)
    if entry is None:
        return f"step {req.step} has not run"
    status = entry.get("status")
    if req.status is not None:
        wanted: tuple[str, ...] = (req.status,)
    elif req.mismatches is not None:
        wanted = (SUCCEEDED, FAILED)
    else:
        wanted = (SUCCEEDED,)
    if status not in wanted:
        return f"step {req.step} is {status}, expected {' or '.join(wanted)}"
    if req.mismatches is not None:
        found = (entry.get("record") or {}).get("mismatched")
        if not isinstance(found, int):
            return f"step {req.step} recorded no count of mismatched partitions"
        if found > req.mismatches:
            return (
                f"step {req.step} found {found} mismatched partitions, "
                f"at most {req.mismatches} allowed"
            )
    return None

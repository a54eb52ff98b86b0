"""What the runtime tells an operator about a plan's steps: the command that re-runs
some of them, and what to do when source topics are missing on the target.

Step identity itself (ids, definitions, the walk) is :mod:`kmigrate.plan.identity`.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from kmigrate.plan import LoadedPlan
from kmigrate.plan.identity import walk


def rerun_command(plan: LoadedPlan, step_ids: Sequence[str]) -> str | None:
    """The ``kmigrate execute`` command(s) that re-run these steps of the plan.

    Steps are grouped by phase, in plan order, e.g. ``kmigrate execute
    plan.yaml --phase provision --rerun export-topics --rerun provision-topics``;
    several phases are joined by ``; then``.  None when no id is in the plan.
    """
    by_phase: dict[str, list[str]] = {}
    for step in walk(plan.model):
        if step.id in step_ids:
            by_phase.setdefault(step.phase, []).append(step.id)
    if not by_phase:
        return None
    return "; then ".join(
        f"kmigrate execute {shlex.quote(str(plan.path))} --phase {shlex.quote(phase)} "
        + " ".join(f"--rerun {step_id}" for step_id in ids)
        for phase, ids in by_phase.items()
    )


def missing_topics_advice(plan: LoadedPlan) -> str:
    """Advice that works when source topics are missing on the target (for mirror's error).

    With the plan's ``provision-topics`` reading the ``export-topics`` output
    (the default), re-running both creates the missing topics.  With a
    separately reviewed snapshot file, that file must list them first.
    """
    steps = walk(plan.model)
    provisions = [s for s in steps if s.action == "provision-topics"]
    if not provisions:
        return "create them first (kmigrate provision SNAPSHOT --target …)"
    provision = provisions[-1]
    snapshot = provision.spec.snapshot
    exports = [
        s
        for s in steps
        if s.action == "export-topics"
        and s.phase_number <= provision.phase_number
        and (snapshot is None or s.spec.output == snapshot)
    ]
    if snapshot is None or exports:
        command = rerun_command(plan, [*(e.id for e in exports[-1:]), provision.id])
        return f"create them with: {command}; then run this step again"
    command = rerun_command(plan, [provision.id])
    return (
        f"add them to the snapshot {plan.state_dir / snapshot} that {provision.id} reads "
        f"(kmigrate export … -o that file, and review it), then create them with: "
        f"{command}; then run this step again"
    )

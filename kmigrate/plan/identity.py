"""Step and phase identity, computed in one place (and checked by the plan's checks,
:mod:`kmigrate.plan.checks`).

A phase is identified by its ``name`` (unique in a plan).  A step is
identified by its ``id:`` when the plan gives one, otherwise by an id derived
from what the step *is*, never from its position, so inserting, removing or
reordering steps does not change which journal entry belongs to which step:

* an action step: the action name (``mirror``, ``export-topics``); a plan
  with two steps of the same action must give them explicit ids;
* a shell step: ``shell-<first words of the command>-<6 hex of sha256(command)>``;
* a manual step: ``manual-<first words of the instruction>-<6 hex of sha256(text)>``.

A step's *definition* is its validated spec as canonical JSON: every key
whose value differs from the schema's default (so writing ``append: false``
equals leaving it out, and a key a later kmigrate adds with a default does not
make every journaled step look changed), its rollback command or text
included, its ``id`` not; the
journal records it when the step starts, so ``execute`` can tell a changed
step from an unchanged one and ``rollback`` can rebuild a step that is no
longer in the plan.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from kmigrate.plan.schema import ManualStep, PlanModel, ShellStep, Step
from kmigrate.plan.yaml_reader import Loc

_STEP_ADAPTER: TypeAdapter[Any] = TypeAdapter(Step)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class PlannedStep:
    """One step of the plan with its identity.

    Attributes:
        id: the stable step id (explicit ``id:`` or derived).
        phase: the phase's name.
        phase_number: 1-based position of the phase (informational only).
        position: 1-based position of the step in its phase (informational only).
        spec: the validated step spec (a :mod:`kmigrate.plan.schema` model).
        action: the action name, or ``shell`` / ``manual``.
        description: one line for tables (``mirror``, ``shell: ./switch.sh``).
        definition: the canonical spec dict (see the module docstring).
        definition_hash: sha256 hex of the canonical JSON of ``definition``.
    """

    id: str
    phase: str
    phase_number: int
    position: int
    spec: Any
    action: str
    description: str
    definition: dict[str, Any]
    definition_hash: str

    @property
    def loc(self) -> Loc:
        """Key path of the step in the plan file (0-based indexes), for error lines."""
        return ("phases", self.phase_number - 1, "steps", self.position - 1)


def canonical_json(data: Any) -> str:
    """``data`` as canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_of(spec: Any) -> dict[str, Any]:
    """The definition of a validated step spec: its keys but ``id``, defaults left out."""
    data: dict[str, Any] = spec.model_dump(mode="json", exclude={"id"}, exclude_defaults=True)
    return data


def definition_hash(definition: dict[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON of a definition."""
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()


def step_action(spec: Any) -> str:
    """The action name of a spec; ``shell`` or ``manual`` for those steps."""
    if isinstance(spec, ShellStep):
        return "shell"
    if isinstance(spec, ManualStep):
        return "manual"
    return str(spec.action)


def describe(spec: Any) -> str:
    """A one-line description: ``mirror``, ``shell: <command>``, ``manual: <text>``."""
    if isinstance(spec, ShellStep):
        return f"shell: {spec.shell}"
    if isinstance(spec, ManualStep):
        return f"manual: {spec.manual}"
    return str(spec.action)


def _slug(text: str, words: int = 4, limit: int = 32) -> str:
    parts = [w for w in _NOT_SLUG.split(text.lower()) if w][:words]
    return "-".join(parts)[:limit].strip("-")


def derived_id(spec: Any) -> str:
    """The id of a step without ``id:``, from what it is (see the module docstring)."""
    action = step_action(spec)
    if action not in ("shell", "manual"):
        return action
    text = spec.shell if action == "shell" else spec.manual
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    slug = _slug(text)
    return f"{action}-{slug}-{digest}" if slug else f"{action}-{digest}"


def walk(model: PlanModel) -> list[PlannedStep]:
    """Every step of the plan, in plan order, with its identity and definition."""
    out = []
    for p, phase in enumerate(model.phases):
        for s, spec in enumerate(phase.steps):
            definition = definition_of(spec)
            out.append(
                PlannedStep(
                    id=spec.id or derived_id(spec),
                    phase=phase.name,
                    phase_number=p + 1,
                    position=s + 1,
                    spec=spec,
                    action=step_action(spec),
                    description=describe(spec),
                    definition=definition,
                    definition_hash=definition_hash(definition),
                )
            )
    return out


def spec_from_definition(definition: dict[str, Any]) -> Any:
    """Rebuild a step spec from a journaled definition (for steps no longer in the plan).

    Raises:
        pydantic.ValidationError: the definition no longer fits the schema.
    """
    return _STEP_ADAPTER.validate_python(definition)


def diff_definitions(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The keys that differ, as ``key: old -> new`` (JSON values; ``(default)`` when left out)."""

    def show(data: dict[str, Any], key: str) -> str:
        return json.dumps(data[key], ensure_ascii=False) if key in data else "(default)"

    return [
        f"{key}: {show(old, key)} -> {show(new, key)}"
        for key in sorted(set(old) | set(new))
        if old.get(key, ...) != new.get(key, ...)
    ]


def identity_problems(model: PlanModel, line_of: Callable[[Loc], int]) -> list[tuple[Loc, str]]:
    """Duplicate step ids and bad ``requires:`` gates, as ``(key path, message)`` pairs.

    ``line_of`` maps a key path to its 1-based line in the plan file, so
    messages can name the other line of a duplicate.
    """
    problems: list[tuple[Loc, str]] = []
    steps = walk(model)
    first: dict[str, PlannedStep] = {}
    for step in steps:
        other = first.get(step.id)
        if other is None:
            first[step.id] = step
            continue
        where = step.loc + ("id",) if step.spec.id else step.loc
        if step.spec.id or other.spec.id:
            msg = (
                f"expected a unique step id; found {step.id!r} again "
                f"(line {line_of(other.loc)} has it)"
            )
        else:
            msg = (
                f"two steps get the same id {step.id!r} (lines {line_of(other.loc)} and "
                f"{line_of(step.loc)}); give one an explicit 'id:' (letters, digits, . _ -)"
            )
        problems.append((where, msg))
    by_id = {s.id: s for s in steps}
    for p, phase in enumerate(model.phases):
        for r, req in enumerate(phase.requires):
            loc: Loc = ("phases", p, "requires", r, "step")
            target = by_id.get(req.step)
            if target is None:
                problems.append(
                    (
                        loc,
                        f"expected the id of a step of an earlier phase; found {req.step!r} "
                        f"(the step ids are: {', '.join(by_id)})",
                    )
                )
            elif target.phase_number > p:
                problems.append(
                    (
                        loc,
                        f"expected a step of an earlier phase; {req.step!r} is in phase "
                        f"{target.phase_number} ({target.phase})",
                    )
                )
            elif req.mismatches is not None and target.action != "verify":
                problems.append(
                    (
                        loc[:-1] + ("mismatches",),
                        f"'mismatches' applies to verify steps; {req.step!r} is a "
                        f"{target.action} step",
                    )
                )
    return problems

"""Load a plan file once, validate it, and report errors with breadcrumbs.

Every error names the file, the line, the key path, what was expected and what
was found, one per line, e.g.::

    plans/x.yaml:14: phases[2].steps[1].action: expected one of 'check-connectivity',
    'export-topics', 'manual', 'mirror', …; found 'mirorr' (did you mean 'mirror'?)

List indexes in key paths count from 1, as ``execute --phase N`` does.
YAML is always read with the safe loader.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kmigrate.errors import PlanError, UsageError
from kmigrate.plan.refs import REFERENCE, UnresolvedReference, resolve
from kmigrate.plan.schema import (
    ACTIONS,
    PLANNED_CLUSTER_TYPES,
    STEP_KINDS,
    ClusterSpec,
    PlanModel,
    all_field_names,
)

Loc = tuple[str | int, ...]


def format_loc(loc: Sequence[str | int]) -> str:
    """``('phases', 0, 'steps', 1)`` → ``phases[1].steps[2]`` (indexes from 1)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + _key(part)
    return out or "(top level)"


def _key(key: Any) -> str:
    """A mapping key as written in messages; odd ones (``''``, ``'a\\nb'``) quoted."""
    return key if isinstance(key, str) and key.isprintable() and key else repr(key)


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan and where it came from.

    Attributes:
        path: the plan file.
        model: the validated :class:`PlanModel`.
        lines: 1-based line of each key path, for errors found after load.
    """

    path: Path
    model: PlanModel
    lines: Mapping[Loc, int] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """The plan file's folder: relative paths in the plan start here."""
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        """Journal, snapshots and reports (``state_dir`` relative to the plan)."""
        return (self.base_dir / self.model.state_dir).resolve()

    def where(self, loc: Loc) -> str:
        """``file:line: key.path`` for a key path, for error messages."""
        line = _nearest_line(self.lines, loc)
        return f"{self.path}:{line}: {format_loc(loc)}"

    def phase_index(self, selector: str) -> int:
        """0-based index of a phase given by 1-based number or by name.

        Raises:
            UsageError: no such phase.
        """
        phases = self.model.phases
        if selector.isdigit():
            number = int(selector)
            if 1 <= number <= len(phases):
                return number - 1
        for index, phase in enumerate(phases):
            if phase.name == selector:
                return index
        names = ", ".join(f"{i + 1} ({p.name})" for i, p in enumerate(phases))
        raise UsageError(f"no phase {selector!r} in {self.path}; the phases are: {names}")

    def resolved_config(
        self, role: str, environ: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """librdkafka settings for cluster ``role`` with references resolved.

        Raises:
            PlanError: a reference names an unset variable or unreadable file;
                the message names the variable, never a value.
        """
        spec: ClusterSpec = getattr(self.model.clusters, role)
        env = os.environ if environ is None else environ
        out: dict[str, str] = {}
        for key, value in spec.config.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            try:
                out[key] = resolve(text, env, self.base_dir)
            except UnresolvedReference as exc:
                raise PlanError(f"{self.where(('clusters', role, 'config', key))}: {exc}") from None
        return out


def load_plan(path: str | os.PathLike[str]) -> LoadedPlan:
    """Read, parse and validate a plan file.

    Raises:
        PlanError: the file is missing, is not YAML, or breaks the schema; the
            message lists every problem found as ``file:line: key: expected …;
            found …``.
    """
    plan_path = Path(path)
    try:
        text = plan_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{plan_path}: no such plan file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{plan_path}: cannot read the plan: {exc}") from None
    return parse_plan(text, plan_path)


def parse_plan(text: str, plan_path: Path) -> LoadedPlan:
    """Validate plan ``text``, reporting errors against ``plan_path``.

    Raises:
        PlanError: as :func:`load_plan`.
    """
    data, lines = read_yaml(text, plan_path)
    if data is None:
        raise PlanError(
            f"{plan_path}:1: (top level): expected a mapping with version, "
            "name, clusters, topics, phases; found an empty file"
        )
    problems = _precheck(data, lines)
    if not problems:
        try:
            model = PlanModel.model_validate(data)
        except ValidationError as exc:
            problems = sorted({_translate(err, lines) for err in exc.errors()})
        else:
            problems = _semantic_checks(model, lines)
            if not problems:
                return LoadedPlan(plan_path, model, lines)
    problems.sort(key=lambda p: p[0])
    raise PlanError("\n".join(f"{plan_path}:{ln}: {msg}" for ln, msg in problems))


def _index(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[tuple[int, str]]
) -> None:
    """Record the line of every key path; report duplicate keys."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    (
                        line,
                        f"{format_loc(loc + (key,))}: duplicate key "
                        f"(first given on line {seen[key]})",
                    )
                )
            seen[key] = line
            lines[loc + (key,)] = line
            _index(value_node, loc + (key,), lines, problems)
            lines[loc + (key,)] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, loc + (i,), lines, problems)


def _nearest_line(lines: Mapping[Loc, int], loc: Loc) -> int:
    probe = tuple(loc)
    while probe not in lines and probe:
        probe = probe[:-1]
    return lines.get(probe, 1)


def _found(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return f"{value!r} ({type(value).__name__})"


def _suggest(word: str, candidates: Sequence[str]) -> str:
    others = [c for c in candidates if c != word]  # a key of another model: no suggestion
    close = difflib.get_close_matches(word, others, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _precheck(data: Any, lines: Mapping[Loc, int]) -> list[tuple[int, str]]:
    """Checks pydantic would report badly: step kinds and cluster types."""
    problems: list[tuple[int, str]] = []

    def add(loc: Loc, msg: str) -> None:
        problems.append((_nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"))

    if not isinstance(data, dict):
        add(
            (),
            f"expected a mapping with version, name, clusters, topics, phases; "
            f"found {_found(data)}",
        )
        return problems
    clusters = data.get("clusters")
    if isinstance(clusters, dict):
        for role, spec in clusters.items():
            kind = spec.get("type") if isinstance(spec, dict) else None
            if kind in PLANNED_CLUSTER_TYPES:
                add(
                    ("clusters", role, "type"),
                    f"cluster type {kind!r} is not supported by this version of kmigrate; "
                    "expected 'kafka' (any Kafka-API broker) or 'redpanda'",
                )
    phases = data.get("phases")
    if not isinstance(phases, list):
        return problems
    known = sorted([*ACTIONS, "manual", "shell"])
    for p, phase in enumerate(phases):
        steps = phase.get("steps") if isinstance(phase, dict) else None
        if not isinstance(steps, list):
            continue
        for s, step in enumerate(steps):
            loc: Loc = ("phases", p, "steps", s)
            if not isinstance(step, dict):
                add(
                    loc,
                    f"expected a mapping with one of action, manual, shell; found {_found(step)}",
                )
                continue
            kinds = [k for k in STEP_KINDS if k in step]
            if len(kinds) != 1:
                found = ", ".join(kinds) if kinds else ", ".join(map(_key, step)) or "none"
                add(loc, f"expected exactly one of action, manual, shell; found {found}")
                continue
            action = step.get("action")
            if kinds == ["action"] and not (isinstance(action, str) and action in ACTIONS):
                add(
                    loc + ("action",),
                    f"expected one of {', '.join(map(repr, known))}; found {_found(action)}"
                    + (_suggest(action, known) if isinstance(action, str) else ""),
                )
    return problems


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _translate(err: Any, lines: Mapping[Loc, int]) -> tuple[int, str]:
    """One pydantic error → ``(line, "key.path: expected …; found …")``."""
    loc = _strip_tags(err["loc"])
    kind = err["type"]
    if len(loc) >= 4 and loc[-2] == "config" and kind in _TYPE_WORDS:
        msg = f"expected a string, number or true/false; found {_found(err.get('input'))}"
        return _nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"
    if kind == "invalid_key" or (loc and loc[-1] == "[key]"):
        # A non-string key (``3:``, ``true:``, ``~:``): pydantic puts the key itself
        # into the path, where an int would read as a list index.
        where = loc[:-2] if loc[-1] == "[key]" else loc[:-1]
        key = err.get("input")
        msg = f"expected string keys; found the key {'null' if key is None else _found(key)}"
        return _nearest_line(lines, where), f"{format_loc(where)}: {msg}"
    found = _found(err.get("input"))
    if kind == "missing":
        msg = f"missing required key {loc[-1]!r}"
        where = loc[:-1]
        return _nearest_line(lines, where), f"{format_loc(where)}: {msg}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        msg = f"unknown key {key!r}{_suggest(key, sorted(all_field_names()))}"
    elif kind == "literal_error":
        msg = f"expected one of {err['ctx']['expected']}; found {found}"
    elif kind in _TYPE_WORDS:
        msg = f"expected {_TYPE_WORDS[kind]}; found {found}"
    elif kind == "too_short":
        msg = f"expected at least {err['ctx']['min_length']} item(s); found none"
    elif kind == "value_error":
        msg = str(err["ctx"]["error"])
    elif kind == "union_type" or kind.startswith("string_too_short"):
        msg = f"expected a non-empty value; found {found}"
    elif kind == "greater_than":
        msg = f"expected a number greater than {err['ctx']['gt']}; found {found}"
    else:
        msg = f"{err['msg']}; found {found}"
    return _nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"


def _strip_tags(loc: Sequence[str | int]) -> Loc:
    """Drop the union member names pydantic puts into error locations.

    A step's tag follows ``steps[N]``; a config value's member type
    (``str``, ``int``…) ends the path.
    """
    out: list[str | int] = []
    for i, part in enumerate(loc):
        after_step = i >= 2 and loc[i - 2] == "steps" and isinstance(loc[i - 1], int)
        if after_step and isinstance(part, str) and (part in ACTIONS or part in STEP_KINDS):
            continue
        out.append(part)
    if len(out) >= 5 and out[-3] == "config" and out[-1] in _MEMBER_TYPES:
        out.pop()
    return tuple(out)


_MEMBER_TYPES = ("str", "int", "float", "bool")


def _semantic_checks(model: PlanModel, lines: Mapping[Loc, int]) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []

    def add(loc: Loc, msg: str) -> None:
        problems.append((_nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"))

    seen: dict[str, int] = {}
    for p, phase in enumerate(model.phases):
        if phase.name in seen:
            add(
                ("phases", p, "name"),
                f"expected a unique phase name; found {phase.name!r} again "
                f"(phase {seen[phase.name] + 1} has it)",
            )
        seen.setdefault(phase.name, p)
        if phase.name.isdigit():
            add(
                ("phases", p, "name"),
                f"expected a name that is not a number (--phase N means the Nth phase); "
                f"found {phase.name!r}",
            )
    from kmigrate.runtime.plan_walk import identity_problems  # imports kmigrate.plan

    for loc, msg in identity_problems(model, lambda where: _nearest_line(lines, where)):
        add(loc, msg)
    for role in ("source", "target"):
        spec: ClusterSpec = getattr(model.clusters, role)
        for key, value in spec.config.items():
            if isinstance(value, str) and "${" in value and not _refs_ok(value):
                add(
                    ("clusters", role, "config", key),
                    "expected ${ENV_VAR} or ${file:path}; found a malformed reference",
                )
    return problems


def _refs_ok(value: str) -> bool:
    return "${" not in REFERENCE.sub("", value)


def _yaml_error(path: Path, exc: BaseException) -> PlanError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = (getattr(exc, "problem", None) or str(exc)).partition("\n")[0]
    return PlanError(f"{path}:{line}: not valid YAML: {problem}")


def read_yaml(text: str, path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML safely: the data, and the line of every key path.

    Raises:
        PlanError: not YAML, duplicate keys, tags the safe loader cannot
            build (``!foo``, ``!!python/…``), unhashable keys, or nesting too deep.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    except RecursionError:
        raise PlanError(f"{path}:1: not valid YAML: nested too deeply") from None
    lines: dict[Loc, int] = {}
    problems: list[tuple[int, str]] = []
    if node is not None:
        _index(node, (), lines, problems)
    if problems:
        raise PlanError("\n".join(f"{path}:{ln}: {msg}" for ln, msg in problems))
    try:
        return yaml.safe_load(text), lines
    except (yaml.YAMLError, ValueError) as exc:
        # compose accepts what construction refuses: unknown tags, ``!!int abc``.
        raise _yaml_error(path, exc) from None
    except RecursionError:
        raise PlanError(f"{path}:1: not valid YAML: nested too deeply") from None


def parse_yaml_model(text: str, path: Path, model: type[Any]) -> Any:
    """Validate YAML ``text`` against a pydantic ``model``, with plan-style errors.

    Used for files kmigrate reads besides plans (topic snapshots).

    Raises:
        PlanError: ``file:line: key: expected …; found …`` for each problem.
    """
    data, lines = read_yaml(text, path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = sorted({_translate(err, lines) for err in exc.errors()})
    raise PlanError("\n".join(f"{path}:{ln}: {msg}" for ln, msg in problems))

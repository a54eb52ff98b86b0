"""Every check of a plan, in one place: what pydantic would report badly (step kinds),
pydantic's own errors said as ``key: expected …; found …``, the cluster types' keys
(:mod:`kmigrate.clusters.registry`), step identity (:mod:`kmigrate.plan.identity`),
paths, references and bootstrap servers.

Each problem is ``(line, "key.path: expected …; found …")``; :func:`validated` turns
them into one :class:`~kmigrate.errors.PlanError` listing them all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kmigrate.errors import PlanError
from kmigrate.plan.identity import identity_problems
from kmigrate.plan.refs import REFERENCE
from kmigrate.plan.schema import ACTIONS, STEP_KINDS, ClusterSpec, PlanModel, all_field_names
from kmigrate.plan.yaml_reader import MAX_ECHO, Loc, format_loc, key_text, nearest_line


def validated(data: Any, lines: Mapping[Loc, int], plan_path: Path) -> PlanModel:
    """The plan ``data`` (read from ``plan_path``, key lines in ``lines``) as a model.

    Raises:
        PlanError: every problem found, one per line, as
            ``file:line: key: expected …; found …``, in line order.
    """
    if data is None:
        raise PlanError(
            f"{plan_path}:1: (top level): expected a mapping with version, "
            "name, clusters, topics, phases; found an empty file"
        )
    refuse_unlike(data, plan_path, PlanModel, "a kmigrate plan")
    problems = precheck(data, lines)
    if not problems:
        try:
            model = PlanModel.model_validate(data)
        except ValidationError as exc:
            problems = sorted(
                {translate_error(err, lines) for err in exc.errors()}
                | set(missing_keys(data, lines))
            )
        else:
            problems = semantic_checks(model, lines)
            if not problems:
                return model
    problems.sort(key=lambda p: p[0])
    raise PlanError("\n".join(f"{plan_path}:{ln}: {msg}" for ln, msg in problems))


def refuse_unlike(data: Any, path: Path, model: type[Any], what: str) -> None:
    """Refuse a mapping that has none of ``model``'s keys: not a damaged plan or snapshot but
    another file (``/etc/shadow`` reads as YAML keys), whose content is described, never quoted.

    Raises:
        PlanError: ``file:1: (top level): expected …; found a mapping of N keys …``.
    """
    if not isinstance(data, dict) or not data:
        return
    fields = set(model.model_fields)
    if fields & {str(k) for k in data}:
        return
    raise PlanError(
        f"{path}:1: (top level): expected {what} (a mapping with "
        f"{', '.join(sorted(fields))}); found a mapping of {len(data):,} keys, none of "
        "them one of these: not such a file (its content is not shown)"
    )


def _found(value: Any, echo: bool = True) -> str:
    """What was found, for a message.

    Short one-line values are quoted when ``echo`` is true; longer ones, and
    every value when ``echo`` is false (files that may hold secrets), are
    described by their kind only.
    """
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        if echo and len(value) <= MAX_ECHO and value.isprintable():
            return repr(value)
        return f"a string of {len(value):,} characters (not shown)"
    if not echo:
        return f"a value of type {type(value).__name__} (not shown)"
    return f"{value!r} ({type(value).__name__})"


def _suggest(word: str, candidates: Sequence[str]) -> str:
    others = [c for c in candidates if c != word]  # a key of another model: no suggestion
    close = difflib.get_close_matches(word, others, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def missing_keys(data: Any, lines: Mapping[Loc, int]) -> list[tuple[int, str]]:
    """Keys a cluster of a known ``type`` needs but lacks (the registry's knowledge), for
    a plan pydantic refused for another reason (a misspelt key), so both are said."""
    from kmigrate.clusters.registry import TYPES

    out = []
    clusters = data.get("clusters") if isinstance(data, dict) else None
    for role, spec in (clusters or {}).items() if isinstance(clusters, dict) else ():
        kind_name = spec.get("type") if isinstance(spec, dict) else None
        kind = TYPES.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None or not isinstance(spec, dict):
            continue
        for key in kind.required:
            if key not in spec:
                loc: Loc = ("clusters", role)
                out.append(
                    (nearest_line(lines, loc), f"{format_loc(loc)}: missing required key {key!r}")
                )
    return out


def precheck(data: Any, lines: Mapping[Loc, int]) -> list[tuple[int, str]]:
    """Checks pydantic would report badly: step kinds and cluster types."""
    problems: list[tuple[int, str]] = []

    def add(loc: Loc, msg: str) -> None:
        problems.append((nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"))

    if not isinstance(data, dict):
        add(
            (),
            f"expected a mapping with version, name, clusters, topics, phases; "
            f"found {_found(data, echo=False)}",
        )
        return problems
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
                found = ", ".join(kinds) if kinds else ", ".join(map(key_text, step)) or "none"
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


def translate_error(err: Any, lines: Mapping[Loc, int], echo: bool = True) -> tuple[int, str]:
    """One pydantic error → ``(line, "key.path: expected …; found …")``.

    ``echo``: quote short values found (plans); false for files that may hold
    secrets (snapshots), which are described by kind only.
    """
    loc = _strip_tags(err["loc"])
    kind = err["type"]
    if len(loc) >= 4 and loc[-2] == "config" and kind in _TYPE_WORDS:
        msg = f"expected a string, number or true/false; found {_found(err.get('input'), echo)}"
        return nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"
    if kind == "invalid_key" or (loc and loc[-1] == "[key]"):
        # A non-string key (``3:``, ``true:``, ``~:``): pydantic puts the key itself
        # into the path, where an int would read as a list index.
        where = loc[:-2] if loc[-1] == "[key]" else loc[:-1]
        key = err.get("input")
        msg = f"expected string keys; found the key {'null' if key is None else _found(key, echo)}"
        return nearest_line(lines, where), f"{format_loc(where)}: {msg}"
    found = _found(err.get("input"), echo)
    if kind == "missing":
        msg = f"missing required key {loc[-1]!r}"
        where = loc[:-1]
        return nearest_line(lines, where), f"{format_loc(where)}: {msg}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        shown = key_text(key)
        if shown == key:
            msg = f"unknown key {key!r}{_suggest(key, sorted(all_field_names()))}"
        else:
            msg = f"unknown key {shown}"
    elif kind == "literal_error":
        msg = f"expected one of {err['ctx']['expected']}; found {found}"
    elif kind in _TYPE_WORDS:
        msg = f"expected {_TYPE_WORDS[kind]}; found {found}"
    elif kind == "too_short":
        msg = f"expected at least {err['ctx']['min_length']} item(s); found none"
    elif kind == "value_error":
        msg = str(err["ctx"]["error"]) if echo else f"expected a valid value; found {found}"
    elif kind == "union_type" or kind.startswith("string_too_short"):
        msg = f"expected a non-empty value; found {found}"
    elif kind == "greater_than":
        msg = f"expected a number greater than {err['ctx']['gt']}; found {found}"
    else:
        msg = f"{err['msg']}; found {found}"
    return nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"


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


def semantic_checks(model: PlanModel, lines: Mapping[Loc, int]) -> list[tuple[int, str]]:
    """What a schema-valid plan can still get wrong: phase names, paths, each cluster's
    keys for its type (the registry), references, bootstrap servers (and a target that
    is the source), step identity and ``requires:`` gates; ``[(line, message)]``."""
    problems: list[tuple[int, str]] = []

    def add(loc: Loc, msg: str) -> None:
        problems.append((nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"))

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
    _path_checks(model, add)
    from kmigrate.clusters import registry  # cluster-type knowledge lives there

    for role in ("source", "target"):
        entry: ClusterSpec = getattr(model.clusters, role)
        for key, msg in registry.spec_problems(role, entry):
            add(("clusters", role, key), msg)
        for key in registry.FIELD_KEYS:
            value = getattr(entry, key)
            if isinstance(value, str) and "${" in value and not _refs_ok(value):
                add(
                    ("clusters", role, key),
                    "expected ${ENV_VAR} or ${file:path}; found a malformed reference",
                )
        servers = entry.bootstrap_servers
        why = bootstrap_problem(servers) if servers is not None else None
        if why:
            add(("clusters", role, "bootstrap_servers"), why)
    declared = [
        registry.declared_bootstrap(c) or "" for c in (model.clusters.source, model.clusters.target)
    ]
    source_servers = {p.lower() for p in declared[0].split(",") if p}
    shared = source_servers & {p.lower() for p in declared[1].split(",") if p}
    if shared:
        add(
            ("clusters", "target", "bootstrap_servers"),
            f"expected a cluster other than the source; found {', '.join(sorted(shared))} "
            "in both (kmigrate never writes to the source)",
        )
    for loc, msg in identity_problems(model, lambda where: nearest_line(lines, where)):
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


_SERVER = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9_.-]+)):(?P<port>\d+)$")


def bootstrap_problem(value: str) -> str | None:
    """Why ``value`` is not a comma-separated list of ``host:port``, or None.

    A host is a name, an IPv4 address or a bracketed IPv6 address
    (``[::1]:9092``); a port is 1-65535.
    """
    for part in value.split(","):
        match = _SERVER.match(part.strip())
        if not match:
            return f"expected a comma-separated list of host:port; found {_found(part.strip())}"
        if not 1 <= int(match.group("port")) <= 65535:
            return f"expected a port from 1 to 65535; found {_found(part.strip())}"
    return None


def _path_checks(model: PlanModel, add: Callable[[Loc, str], None]) -> None:
    """Path-valued keys: non-empty, no NUL character, not over 4096 bytes (``PATH_MAX``)."""
    paths: list[tuple[Loc, str | None]] = [(("state_dir",), model.state_dir)]
    for p, phase in enumerate(model.phases):
        for s, step in enumerate(phase.steps):
            for key in ("output", "report", "snapshot"):
                if key in type(step).model_fields:
                    paths.append((("phases", p, "steps", s, key), getattr(step, key)))
    for loc, value in paths:
        if value is None:
            continue
        if not value.strip():
            add(loc, "expected a path; found an empty value")
        elif "\0" in value:
            add(loc, "expected a path; found one with a NUL character")
        elif len(value.encode()) > 4096:
            add(loc, f"expected a path of at most 4096 bytes; found {len(value.encode()):,}")


def _refs_ok(value: str) -> bool:
    return "${" not in REFERENCE.sub("", value)

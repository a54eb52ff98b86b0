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
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kmigrate.errors import PlanError, UsageError
from kmigrate.plan.files import PLAN_MAX_BYTES, read_text
from kmigrate.plan.refs import REFERENCE, UnresolvedReference, resolve
from kmigrate.plan.schema import (
    ACTIONS,
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


#: A key that may be shown in a message: a name (letters, digits, ``_ . -``), at
#: most :data:`MAX_ECHO` characters.  Anything else (``root:$6$…:::``, a line of
#: a secret file that YAML reads as a key) is described, not quoted.
_SHOWN_KEY = re.compile(r"[^\W][\w.\-]*")


def _key(key: Any) -> str:
    """A mapping key as written in messages: a name as it is, ``''`` for the empty key.

    Any other key (punctuation, spaces, control characters, longer than
    :data:`MAX_ECHO` characters, not a string) is described, not shown: it may
    be the content of a secret file.
    """
    if isinstance(key, str) and len(key) <= MAX_ECHO and _SHOWN_KEY.fullmatch(key):
        return key
    if key == "":
        return "''"
    if isinstance(key, str):
        return f"(a key of {len(key):,} characters, not shown)"
    return f"(a key of type {type(key).__name__}, not shown)"


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

    def phase_index(self, selector: str, option: str = "--phase") -> int:
        """0-based index of a phase given by 1-based number or by name.

        Raises:
            UsageError: no such phase; the message names ``option`` and lists the phases.
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
        raise UsageError(
            f"{option} {selector!r}: no such phase in {self.path}; expected a number "
            f"from 1 to {len(phases)} or a name; the phases are: {names}"
        )

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

    The file must be a regular file of at most :data:`~kmigrate.plan.files.PLAN_MAX_BYTES`
    bytes of UTF-8 (see :func:`kmigrate.plan.files.read_text`).

    Raises:
        PlanError: the file is missing, is not a regular file, is too large, is
            not YAML, or breaks the schema; the message lists every problem
            found as ``file:line: key: expected …; found …``.
    """
    plan_path = Path(path)
    text = read_text(plan_path, "plan", PLAN_MAX_BYTES)
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
    _refuse_unlike(data, plan_path, PlanModel, "a kmigrate plan")
    problems = _precheck(data, lines)
    if not problems:
        try:
            model = PlanModel.model_validate(data)
        except ValidationError as exc:
            problems = sorted(
                {_translate(err, lines) for err in exc.errors()} | set(_missing_keys(data, lines))
            )
        else:
            problems = _semantic_checks(model, lines)
            if not problems:
                return LoadedPlan(plan_path, model, lines)
    problems.sort(key=lambda p: p[0])
    raise PlanError("\n".join(f"{plan_path}:{ln}: {msg}" for ln, msg in problems))


def _refuse_unlike(data: Any, path: Path, model: type[Any], what: str) -> None:
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


#: Longest value quoted back in a message; longer ones are described, not shown.
MAX_ECHO = 60


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


def _missing_keys(data: Any, lines: Mapping[Loc, int]) -> list[tuple[int, str]]:
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
                    (_nearest_line(lines, loc), f"{format_loc(loc)}: missing required key {key!r}")
                )
    return out


def _precheck(data: Any, lines: Mapping[Loc, int]) -> list[tuple[int, str]]:
    """Checks pydantic would report badly: step kinds and cluster types."""
    problems: list[tuple[int, str]] = []

    def add(loc: Loc, msg: str) -> None:
        problems.append((_nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"))

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


def _translate(err: Any, lines: Mapping[Loc, int], echo: bool = True) -> tuple[int, str]:
    """One pydantic error → ``(line, "key.path: expected …; found …")``.

    ``echo``: quote short values found (plans); false for files that may hold
    secrets (snapshots), which are described by kind only.
    """
    loc = _strip_tags(err["loc"])
    kind = err["type"]
    if len(loc) >= 4 and loc[-2] == "config" and kind in _TYPE_WORDS:
        msg = f"expected a string, number or true/false; found {_found(err.get('input'), echo)}"
        return _nearest_line(lines, loc), f"{format_loc(loc)}: {msg}"
    if kind == "invalid_key" or (loc and loc[-1] == "[key]"):
        # A non-string key (``3:``, ``true:``, ``~:``): pydantic puts the key itself
        # into the path, where an int would read as a list index.
        where = loc[:-2] if loc[-1] == "[key]" else loc[:-1]
        key = err.get("input")
        msg = f"expected string keys; found the key {'null' if key is None else _found(key, echo)}"
        return _nearest_line(lines, where), f"{format_loc(where)}: {msg}"
    found = _found(err.get("input"), echo)
    if kind == "missing":
        msg = f"missing required key {loc[-1]!r}"
        where = loc[:-1]
        return _nearest_line(lines, where), f"{format_loc(where)}: {msg}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        shown = _key(key)
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


#: Deepest nesting of mappings and lists accepted in a YAML file (a plan needs 7).
MAX_DEPTH = 64
#: Most aliases (``*name``) accepted in a YAML file.
MAX_ALIASES = 1000
#: Most nodes aliases may add when expanded (the "billion laughs" alias bomb).
MAX_ALIAS_NODES = 100_000
#: Most nodes (keys, values, list items) a plan may spell out; a large plan has a
#: few thousand.  Bounds parse time and memory (PyYAML keeps ~1 KB per node).
PLAN_MAX_NODES = 50_000
#: Most nodes a topic snapshot may spell out (thousands of topics and groups).
SNAPSHOT_MAX_NODES = 1_000_000

#: Parts of PyYAML's messages that are safe to show: a character or a token name.
_SAFE_QUOTED = re.compile(r"^(.{1,2}|\\.{1,5}|<[a-z ]+>)$")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


class _TooBig(yaml.YAMLError):
    """Nesting or aliases over budget (raised while composing)."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing deep nesting and too many aliases as it composes."""

    def __init__(self, stream: str, max_nodes: int) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0
        self._max_nodes = max_nodes

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _TooBig(
                    f"more than {MAX_ALIASES} aliases (*name)", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > self._max_nodes:
                raise _TooBig(
                    f"more than {self._max_nodes:,} keys, values and list items",
                    self.peek_event().start_mark,
                )
            if self._depth > MAX_DEPTH:
                raise _TooBig(
                    f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _sanitise(problem: str) -> str:
    """A PyYAML message with quoted file content replaced by ``(not shown)``.

    Characters (``'\\t'``) and token names (``'<block end>'``) stay: they say
    what is wrong without quoting the file, which may be a secret.
    """
    if problem.startswith("could not determine a constructor for the tag"):
        return "a tag (!name) that the safe loader does not accept"

    def _one(match: re.Match[str]) -> str:
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        return match.group(0) if _SAFE_QUOTED.match(inner) else "(not shown)"

    return _QUOTED.sub(_one, problem)


def _yaml_error(path: Path, exc: BaseException, text: str = "") -> PlanError:
    """A PyYAML error as ``file:line:column: not valid YAML: …``, without file content."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "1"
    problem = getattr(exc, "problem", None)
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        where = f"{before.count(chr(10)) + 1}:{exc.position - (before.rfind(chr(10)) + 1) + 1}"
        problem = "a control character that YAML does not allow"
    if problem is None:
        problem = "a value the safe loader cannot build"
    first_line = problem.partition("\n")[0]
    return PlanError(f"{path}:{where}: not valid YAML: {_sanitise(first_line)}")


def _expanded_nodes(node: yaml.Node, path: Path) -> int:
    """Nodes in the tree ``node`` spans with every alias expanded.

    Raises:
        PlanError: an alias refers to a node that contains it (a cycle), the
            aliases add more than :data:`MAX_ALIAS_NODES` nodes, or nest the
            tree deeper than :data:`MAX_DEPTH`.
    """
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()

    def measure(n: yaml.Node) -> tuple[int, int]:
        """``(nodes, depth)`` of ``n`` expanded."""
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise PlanError(
                f"{path}:{n.start_mark.line + 1}: not valid YAML: "
                "an alias refers to a node that contains it"
            )
        open_nodes.add(key)
        children: list[yaml.Node] = []
        if isinstance(n, yaml.MappingNode):
            children = [part for pair in n.value for part in pair]
        elif isinstance(n, yaml.SequenceNode):
            children = list(n.value)
        measured = [measure(child) for child in children]
        total = 1 + sum(m[0] for m in measured)
        depth = 1 + max((m[1] for m in measured), default=0)
        if depth > MAX_DEPTH:
            raise PlanError(
                f"{path}:{n.start_mark.line + 1}: not valid YAML: nested more than "
                f"{MAX_DEPTH} levels deep (through aliases)"
            )
        open_nodes.discard(key)
        sizes[key] = (total, depth)
        return sizes[key]

    total = measure(node)[0]
    if total - len(sizes) > MAX_ALIAS_NODES:
        raise PlanError(
            f"{path}:1: not valid YAML: aliases expand the file to {total:,} nodes; at most "
            f"{MAX_ALIAS_NODES:,} may come from aliases (an alias bomb?)"
        )
    return total


def read_yaml(text: str, path: Path, max_nodes: int = PLAN_MAX_NODES) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML safely: the data, and the line of every key path.

    Bounded: at most ``max_nodes`` nodes spelt out, :data:`MAX_DEPTH` levels of
    nesting, :data:`MAX_ALIASES` aliases, and :data:`MAX_ALIAS_NODES` nodes
    added by expanding them, so an alias bomb, a huge flat list or a deeply
    nested file is refused before it takes much time or memory.
    Messages name the file, the line (and column, for syntax errors) and the
    kind of problem; they never quote the file's content.

    Raises:
        PlanError: not YAML, duplicate keys, tags the safe loader cannot
            build (``!foo``, ``!!python/…``), unhashable keys, nesting too
            deep, too many aliases, or an alias cycle.
    """
    try:
        loader = _BoundedLoader(text, max_nodes)  # checks for control characters here
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc, text) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _expanded_nodes(node, path)
        lines: dict[Loc, int] = {}
        problems: list[tuple[int, str]] = []
        _index(node, (), lines, problems)
        if problems:
            raise PlanError("\n".join(f"{path}:{ln}: {msg}" for ln, msg in problems))
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc, text) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # compose accepts what construction refuses: ``!!int abc``, ``!!float``, huge ints.
        raise _yaml_error(path, exc, text) from None
    except RecursionError:
        raise PlanError(f"{path}:1: not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def parse_yaml_model(
    text: str,
    path: Path,
    model: type[Any],
    max_nodes: int = SNAPSHOT_MAX_NODES,
    what: str = "a topic snapshot",
) -> Any:
    """Validate YAML ``text`` against a pydantic ``model``, with plan-style errors.

    Used for files kmigrate reads besides plans (topic snapshots; ``what``
    names the kind in the message for a file that is none).  The path
    of such a file comes from a plan or a command line and may name any file,
    a secret one included, so messages never quote values found in it.

    Raises:
        PlanError: ``file:line: key: expected …; found …`` for each problem.
    """
    data, lines = read_yaml(text, path, max_nodes)
    _refuse_unlike(data, path, model, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = sorted({_translate(err, lines, echo=False) for err in exc.errors()})
    raise PlanError("\n".join(f"{path}:{ln}: {msg}" for ln, msg in problems))

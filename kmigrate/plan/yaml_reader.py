"""Read YAML safely and boundedly, remembering the line of every key path.

Used for plans and for the other files kmigrate reads (topic snapshots).  Messages
name the file, the line (and column) and the kind of problem; they never quote the
file's content, which may be a secret.  Key paths print as ``phases[2].steps[1]``:
list indexes count from 1, as ``execute --phase N`` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from kmigrate.errors import PlanError

#: A key path in a YAML file: ``("phases", 0, "steps", 1)`` (list indexes from 0).
Loc = tuple[str | int, ...]

#: Longest value quoted back in a message; longer ones are described, not shown.
MAX_ECHO = 60


def format_loc(loc: Sequence[str | int]) -> str:
    """``('phases', 0, 'steps', 1)`` → ``phases[1].steps[2]`` (indexes from 1)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + key_text(part)
    return out or "(top level)"


#: A key that may be shown in a message: a name (letters, digits, ``_ . -``), at
#: most :data:`MAX_ECHO` characters.  Anything else (``root:$6$…:::``, a line of
#: a secret file that YAML reads as a key) is described, not quoted.
_SHOWN_KEY = re.compile(r"[^\W][\w.\-]*")


def key_text(key: Any) -> str:
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


def nearest_line(lines: Mapping[Loc, int], loc: Loc) -> int:
    """The line of ``loc`` in the file, or of its nearest enclosing key (1 for none)."""
    probe = tuple(loc)
    while probe not in lines and probe:
        probe = probe[:-1]
    return lines.get(probe, 1)


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

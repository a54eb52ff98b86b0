"""Load a plan file once, validate it, and report errors with breadcrumbs.

Every error names the file, the line, the key path, what was expected and what
was found, one per line, e.g.::

    plans/x.yaml:14: phases[2].steps[1].action: expected one of 'check-connectivity',
    'export-topics', 'manual', 'mirror', …; found 'mirorr' (did you mean 'mirror'?)

List indexes in key paths count from 1, as ``execute --phase N`` does.
YAML is always read with the safe loader (:mod:`kmigrate.plan.yaml_reader`); every
check is in :mod:`kmigrate.plan.checks`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kmigrate.errors import PlanError, UsageError
from kmigrate.plan.checks import refuse_unlike, translate_error, validated
from kmigrate.plan.files import PLAN_MAX_BYTES, read_text
from kmigrate.plan.refs import UnresolvedReference, resolve
from kmigrate.plan.schema import ClusterSpec, PlanModel
from kmigrate.plan.yaml_reader import (
    SNAPSHOT_MAX_NODES,
    Loc,
    format_loc,
    nearest_line,
    read_yaml,
)


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
        line = nearest_line(self.lines, loc)
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
    return LoadedPlan(plan_path, validated(data, lines, plan_path), lines)


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
    refuse_unlike(data, path, model, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = sorted({translate_error(err, lines, echo=False) for err in exc.errors()})
    raise PlanError("\n".join(f"{path}:{ln}: {msg}" for ln, msg in problems))

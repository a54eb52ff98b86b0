"""Up-front checks, before any step runs, that kmigrate can write where it will write.

A migration that runs a whole ``verify`` (minutes of reading both clusters)
and only then finds its report path unwritable has wasted the window.  So
``execute`` checks the plan's ``state_dir`` (journal, lock, logs) and every
output a step of the phase will write before the first step starts, and the
standalone commands check their output options before they connect.

Writability is probed, not guessed: ``os.access`` says yes to root on a
folder root cannot write in (``/proc``), so where a folder exists a
temporary file is created in it and removed at once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kmigrate.errors import PlanError, UsageError
from kmigrate.plan import LoadedPlan
from kmigrate.plan.schema import ExportTopicsStep, ShellStep, VerifyStep
from kmigrate.plan.yaml_reader import Loc


@dataclass(frozen=True)
class Output:
    """A path a command will write: ``folder`` (created if missing) or ``file`` (replaced)."""

    path: Path
    kind: str
    loc: Loc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, ValueError):
        return "the path is not usable (it holds a NUL character)"
    return type(exc).__name__


def _probe(folder: Path) -> str | None:
    """Why a file cannot be created in existing ``folder``, or None when it can."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".kmigrate-probe-")
    except (OSError, ValueError) as exc:
        return f"cannot create files in {folder} ({_reason(exc)})"
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a folder kmigrate writes in, or None.

    Fine when it is a writable folder, or when it does not exist and its
    nearest existing parent is a writable folder (it will be created).
    """
    probe = path
    try:
        while not probe.exists():
            if probe.parent == probe:
                return f"{path} cannot be created"
            probe = probe.parent
        if not probe.is_dir():
            what = "a file" if probe.is_file() else "not a folder"
            if probe == path:
                return f"{path} is {what}, not a folder" if probe.is_file() else f"{path} is {what}"
            return f"{probe} is {what}, so {path} cannot be created"
    except (OSError, ValueError) as exc:
        return f"{path} cannot be used ({_reason(exc)})"
    return _probe(probe)


def file_problem(path: Path) -> str | None:
    """Why kmigrate cannot write file ``path`` (replacing it atomically), or None.

    An existing file is replaced by renaming a new one over it, so what
    matters is the folder: it must be writable, or creatable.
    """
    try:
        if path.is_dir():
            return f"{path} is a folder, not a file"
        if len(path.name.encode()) > 200:
            return f"{path}: the file name is too long"
    except (OSError, ValueError) as exc:
        return f"{path} cannot be used ({_reason(exc)})"
    return folder_problem(path.parent)


def plan_outputs(plan: LoadedPlan, phase_index: int) -> list[Output]:
    """What ``execute`` of phase ``phase_index`` (0-based) will write.

    The state folder (journal, lock), each ``export-topics`` ``output`` and
    ``verify`` ``report`` (relative to the state folder), and the shell
    steps' log folder.
    """
    state = plan.state_dir
    outputs = [Output(state, "folder", ("state_dir",))]
    for s, step in enumerate(plan.model.phases[phase_index].steps):
        loc: Loc = ("phases", phase_index, "steps", s)
        if isinstance(step, ExportTopicsStep):
            outputs.append(Output(state / step.output, "file", (*loc, "output")))
        elif isinstance(step, VerifyStep):
            outputs.append(Output(state / step.report, "file", (*loc, "report")))
        elif isinstance(step, ShellStep):
            outputs.append(Output(state / "logs", "folder", loc))
    return outputs


def check_plan_outputs(plan: LoadedPlan, phase_index: int) -> None:
    """Refuse (exit 2) a phase that would write where kmigrate cannot write.

    Called by ``execute`` before the first step (and by its dry run, which
    reports what a real run would meet).

    Raises:
        PlanError: every unusable path, one per line, as ``file:line: key:
            cannot write …: why``.
    """
    problems = []
    for out in plan_outputs(plan, phase_index):
        why = folder_problem(out.path) if out.kind == "folder" else file_problem(out.path)
        if why:
            what = "the state folder" if out.loc == ("state_dir",) else f"the {out.kind}"
            problems.append(f"{plan.where(out.loc)}: cannot write {what}: {why}")
    if problems:
        raise PlanError("\n".join(problems))


def check_output_option(option: str, value: str | None) -> None:
    """Refuse (exit 2) an output option (``--report``, ``--output``) kmigrate cannot write.

    Raises:
        UsageError: ``--report PATH: cannot write: why``.
    """
    if value is None:
        return
    if not value:
        raise UsageError(f"{option}: expected a file path; found an empty value")
    why = file_problem(Path(value))
    if why:
        raise UsageError(f"{option} {value}: cannot write: {why}")

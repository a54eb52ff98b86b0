"""Bad input refused: malformed plans, unusable paths and files, bad command lines.

Every case runs the real CLI (click's CliRunner in-process; a subprocess with
a time limit where the input could hang or eat memory) and asserts exit 2, a
message that names the file, the line and the key where one exists, and no
traceback.  None of these cases needs a broker: every refusal happens before
kmigrate connects to one (the clusters named are closed loopback ports).
"""

from __future__ import annotations

import copy
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmigrate.cli import cli
from kmigrate.plan.yaml_reader import format_loc

# Line numbers of BASE, used by the expectations below:
#  1 version  2 name  3 state_dir  4 clusters  5 source  6 type  7 bootstrap_servers
#  8 config  9 client.id  10 target  11 type  12 bootstrap_servers  13 topics
#  14 include  15 phases  16 - name: preflight  17 steps  18 - action: check-connectivity
#  19 - name: copy  20 window  21 start  22 end  23 timezone  24 steps
#  25 - action: export-topics  26 output  27 - action: verify  28 report
#  29 - shell  30 timeout_s  31 - name: provision  32 steps  33 - action: provision-topics
#  34 snapshot
BASE = textwrap.dedent(
    """\
    version: 1
    name: bad-input
    state_dir: state
    clusters:
      source:
        type: kafka
        bootstrap_servers: 127.0.0.1:1
        config:
          client.id: kmigrate-test
      target:
        type: kafka
        bootstrap_servers: 127.0.0.1:2
    topics:
      include: [orders]
    phases:
      - name: preflight
        steps:
          - action: check-connectivity
      - name: copy
        window:
          start: "22:00"
          end: "04:00"
          timezone: UTC
        steps:
          - action: export-topics
            output: snapshots/topics.yaml
          - action: verify
            report: reports/verify.json
          - shell: "true"
            timeout_s: 30
      - name: provision
        steps:
          - action: provision-topics
            snapshot: snapshots/topics.yaml
    """
)
PLAN_ONLY = ("plan", "{plan}", "--offline")
EXECUTE_2 = ("execute", "{plan}", "--phase", "2", "--dry-run")
EXECUTE_1 = ("execute", "{plan}", "--phase", "1", "--dry-run")


def edit(old: str, new: str) -> Callable[[Path], str]:
    """A case that writes BASE with one edit (the edit must apply)."""
    assert old in BASE, old

    def make(_: Path) -> str:
        return BASE.replace(old, new, 1)

    return make


def text(body: str | bytes) -> Callable[[Path], str | bytes]:
    """A case that writes ``body`` as the plan."""
    return lambda _: body


@dataclass(frozen=True)
class Case:
    """One malformed input.

    ``make`` returns the plan text (or bytes) to write to ``plan.yaml`` in the
    test's folder (it may also prepare other files there); ``line`` and
    ``key`` are what the message must name (``None``: no line or key applies).
    ``args`` is the command, ``{plan}`` the plan path.  ``also`` holds
    fragments the message must contain; ``never`` fragments it must not.
    """

    id: str
    make: Callable[[Path], str | bytes]
    line: int | None = None
    key: str | None = None
    args: tuple[str, ...] = PLAN_ONLY
    also: tuple[str, ...] = ()
    never: tuple[str, ...] = ()
    marks: tuple[Any, ...] = field(default=())


def _state_is_file(tmp: Path) -> str:
    (tmp / "state").write_text("a file, not a folder\n")
    return BASE


def _state_under_file(tmp: Path) -> str:
    (tmp / "blocker").write_text("x\n")
    return BASE.replace("state_dir: state", "state_dir: blocker/state")


def _output_is_dir(tmp: Path) -> str:
    (tmp / "state" / "snapshots" / "topics.yaml").mkdir(parents=True)
    return BASE


def _report_under_file(tmp: Path) -> str:
    (tmp / "state").mkdir()
    (tmp / "state" / "reports").write_text("x\n")
    return BASE


def _secret_snapshot(tmp: Path) -> str:
    (tmp / "id_secret").write_text("root:x:0:0:TOPSECRET-PASSWD-LINE:/root:/bin/bash\n")
    return BASE.replace("snapshot: snapshots/topics.yaml", f"snapshot: {tmp / 'id_secret'}")


def _secret_file_is_dir(tmp: Path) -> str:
    (tmp / "secrets").mkdir()
    return BASE.replace("client.id: kmigrate-test", "client.id: ${file:secrets}")


def _secret_file_latin1(tmp: Path) -> str:
    (tmp / "secret.txt").write_bytes(b"caf\xe9\n")
    return BASE.replace("client.id: kmigrate-test", "client.id: ${file:secret.txt}")


def _unwritable_state(tmp: Path) -> str:
    (tmp / "locked").mkdir()
    (tmp / "locked").chmod(0o500)
    return BASE.replace("state_dir: state", "state_dir: locked/state")


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return BASE + "\n".join(lines) + "\n"


ROOT = os.geteuid() == 0
CASES = [
    # --- wrong types and values --------------------------------------------------
    Case("version-string", edit("version: 1", 'version: "1"'), 1, "version"),
    Case("version-2", edit("version: 1", "version: 2"), 1, "version"),
    Case("version-bool", edit("version: 1", "version: true"), 1, "version"),
    Case("name-list", edit("name: bad-input", "name: [a, b]"), 2, "name"),
    Case("name-empty", edit("name: bad-input", 'name: ""'), 2, "name"),
    Case("name-null", edit("name: bad-input", "name:"), 2, "name"),
    Case("state-dir-number", edit("state_dir: state", "state_dir: 5"), 3, "state_dir"),
    Case("state-dir-empty", edit("state_dir: state", 'state_dir: ""'), 3, "state_dir"),
    Case("state-dir-nul", edit("state_dir: state", 'state_dir: "st\\0ate"'), 3, "state_dir"),
    Case("state-dir-5000-bytes", edit("state_dir: state", "state_dir: " + "s" * 5000), 3),
    Case("clusters-list", edit("clusters:\n  source:", "clusters: []\nx:\n  source:"), 4),
    Case(
        "type-typo",
        edit(
            "type: kafka\n    bootstrap_servers: 127.0.0.1:1",
            "type: kafak\n    bootstrap_servers: 127.0.0.1:1",
        ),
        6,
        "clusters.source.type",
    ),
    Case(
        "type-planned",
        edit(
            "type: kafka\n    bootstrap_servers: 127.0.0.1:1",
            "type: msk\n    bootstrap_servers: 127.0.0.1:1",
        ),
        6,
        "clusters.source.type",
    ),
    Case(
        "bootstrap-no-port", edit("127.0.0.1:1", "nohost"), 7, "clusters.source.bootstrap_servers"
    ),
    Case("bootstrap-empty", edit("127.0.0.1:1", '""'), 7, "clusters.source.bootstrap_servers"),
    Case("bootstrap-number", edit("127.0.0.1:1", "9092"), 7, "clusters.source.bootstrap_servers"),
    Case(
        "same-cluster", edit("127.0.0.1:2", "127.0.0.1:1"), 12, "clusters.target.bootstrap_servers"
    ),
    Case(
        "config-string",
        edit("config:\n      client.id: kmigrate-test", 'config: "x"'),
        8,
        "clusters.source.config",
    ),
    Case(
        "config-value-list",
        edit("client.id: kmigrate-test", "client.id: [1]"),
        9,
        "clusters.source.config.client.id",
    ),
    Case(
        "config-value-map",
        edit("client.id: kmigrate-test", "client.id: {a: 1}"),
        9,
        "clusters.source.config.client.id",
    ),
    Case(
        "literal-password",
        edit("client.id: kmigrate-test", "sasl.password: hunter2-literal"),
        8,
        "clusters.source.config",
        never=("hunter2-literal",),
    ),
    Case(
        "malformed-reference",
        edit("client.id: kmigrate-test", 'client.id: "${oops"'),
        9,
        "clusters.source.config.client.id",
    ),
    Case("include-empty", edit("include: [orders]", "include: []"), 14, "topics.include"),
    Case("include-string", edit("include: [orders]", "include: orders"), 14, "topics.include"),
    Case("include-null", edit("include: [orders]", "include:"), 14, "topics.include"),
    Case("unknown-top-key", edit("state_dir: state", "state_dir: state\nnmae: x"), 4, "nmae"),
    Case(
        "unknown-step-key",
        edit("timeout_s: 30", "timeout_s: 30\n        timeoutt: 5"),
        31,
        "timeoutt",
    ),
    Case(
        "action-typo",
        edit("action: check-connectivity", "action: check-conectivity"),
        18,
        "phases[1].steps[1].action",
    ),
    Case(
        "action-number",
        edit("action: check-connectivity", "action: 7"),
        18,
        "phases[1].steps[1].action",
    ),
    Case(
        "two-kinds",
        edit('- shell: "true"', '- shell: "true"\n        manual: do it'),
        29,
        "phases[2].steps[3]",
    ),
    Case("no-kind", edit("- action: check-connectivity", "- foo: bar"), 18, "phases[1].steps[1]"),
    Case(
        "step-string",
        edit("- action: check-connectivity", "- check-connectivity"),
        18,
        "phases[1].steps[1]",
    ),
    Case(
        "steps-empty",
        edit("steps:\n      - action: check-connectivity", "steps: []"),
        17,
        "phases[1].steps",
    ),
    Case("phases-empty", text(BASE[: BASE.index("phases:")] + "phases: []\n"), 15, "phases"),
    Case("phases-mapping", text(BASE[: BASE.index("phases:")] + "phases: {a: 1}\n"), 15, "phases"),
    Case("phase-name-empty", edit("name: preflight", 'name: ""'), 16, "phases[1].name"),
    Case("phase-name-digit", edit("name: preflight", 'name: "2"'), 16, "phases[1].name"),
    Case("phase-name-duplicate", edit("name: copy", "name: preflight"), 19, "phases[2].name"),
    Case("duplicate-key", edit("name: bad-input", "name: bad-input\nname: again"), 3, "name"),
    Case(
        "window-start-25h", edit('start: "22:00"', 'start: "25:00"'), 21, "phases[2].window.start"
    ),
    Case("window-end-am", edit('end: "04:00"', "end: 4am"), 22, "phases[2].window.end"),
    Case(
        "window-start-number", edit('start: "22:00"', "start: 2200"), 21, "phases[2].window.start"
    ),
    Case(
        "timezone-unknown",
        edit("timezone: UTC", "timezone: Mars/Olympus_Mons"),
        23,
        "phases[2].window.timezone",
    ),
    Case("timezone-empty", edit("timezone: UTC", 'timezone: ""'), 23, "phases[2].window.timezone"),
    Case(
        "timezone-path",
        edit("timezone: UTC", "timezone: ../../etc/passwd"),
        23,
        "phases[2].window.timezone",
    ),
    Case(
        "window-days-bad",
        edit("timezone: UTC", "timezone: UTC\n      days: [funday]"),
        24,
        "phases[2].window.days",
    ),
    Case(
        "window-days-empty",
        edit("timezone: UTC", "timezone: UTC\n      days: []"),
        24,
        "phases[2].window.days",
    ),
    Case("window-no-end", edit('      end: "04:00"\n', ""), 20, "phases[2].window"),
    Case("timeout-zero", edit("timeout_s: 30", "timeout_s: 0"), 30, "phases[2].steps[3].timeout_s"),
    Case(
        "timeout-negative",
        edit("timeout_s: 30", "timeout_s: -5"),
        30,
        "phases[2].steps[3].timeout_s",
    ),
    Case(
        "timeout-text", edit("timeout_s: 30", "timeout_s: ten"), 30, "phases[2].steps[3].timeout_s"
    ),
    Case(
        "replication-zero",
        edit("snapshot: snapshots/topics.yaml", "replication_factor: 0"),
        34,
        "phases[3].steps[1].replication_factor",
    ),
    Case(
        "replication-negative",
        edit("snapshot: snapshots/topics.yaml", "replication_factor: -3"),
        34,
        "phases[3].steps[1].replication_factor",
    ),
    Case(
        "manual-empty",
        edit('- shell: "true"\n        timeout_s: 30', '- manual: ""'),
        29,
        "phases[2].steps[3].manual",
    ),
    Case(
        "output-empty",
        edit("output: snapshots/topics.yaml", 'output: ""'),
        26,
        "phases[2].steps[1].output",
    ),
    Case(
        "output-nul",
        edit("output: snapshots/topics.yaml", 'output: "a\\0b"'),
        26,
        "phases[2].steps[1].output",
    ),
    Case(
        "report-empty",
        edit("report: reports/verify.json", 'report: " "'),
        28,
        "phases[2].steps[2].report",
    ),
    Case(
        "consumer-groups-maybe",
        edit("output: snapshots/topics.yaml", "consumer_groups: maybe"),
        26,
        "phases[2].steps[1].consumer_groups",
    ),
    Case(
        "window-days-string",
        edit("timezone: UTC", "timezone: UTC\n      days: sat"),
        24,
        "phases[2].window.days",
    ),
    Case(
        "window-mapping-list",
        edit("    window:\n", "    window: [22:00]\n    x:\n"),
        20,
        "phases[2].window",
    ),
    Case("phases-null", text(BASE[: BASE.index("phases:")] + "phases:\n"), 15, "phases"),
    Case(
        "no-target",
        edit("  target:\n    type: kafka\n    bootstrap_servers: 127.0.0.1:2\n", ""),
        4,
        "clusters",
    ),
    Case(
        "exclude-number",
        edit("include: [orders]", "include: [orders]\n  exclude: 5"),
        15,
        "topics.exclude",
    ),
    Case("state-dir-list", edit("state_dir: state", "state_dir: [a, b]"), 3, "state_dir"),
    Case(
        "config-null-key",
        edit("client.id: kmigrate-test", "~: kmigrate-test"),
        8,
        "clusters.source.config",
    ),
    Case(
        "bootstrap-bracket", edit("127.0.0.1:1", '"[::1"'), 7, "clusters.source.bootstrap_servers"
    ),
    Case(
        "include-nested-list",
        edit("include: [orders]", "include: [[orders]]"),
        14,
        "topics.include",
    ),
    Case(
        "port-too-large",
        edit("127.0.0.1:1", "127.0.0.1:99999"),
        7,
        "clusters.source.bootstrap_servers",
    ),
    # --- broken YAML ---------------------------------------------------------------
    Case("yaml-tab", edit("  include", "\tinclude"), 14),
    Case("yaml-unclosed-bracket", edit("[orders]", "[orders"), 15),
    Case("yaml-bad-indent", edit("  target:", " target:"), 10),
    Case("yaml-unknown-tag", edit("name: bad-input", "name: !vault bad-input"), 2),
    Case(
        "yaml-python-tag", edit("name: bad-input", "name: !!python/object/apply:os.system [id]"), 2
    ),
    Case(
        "yaml-undefined-alias",
        edit("name: bad-input", "name: *secretanchor"),
        2,
        never=("secretanchor",),
    ),
    Case("yaml-bad-int-tag", edit("timeout_s: 30", "timeout_s: !!int thirty"), 1),
    Case("yaml-two-documents", text(BASE + "---\nversion: 1\n"), 35),
    Case("yaml-nul-char", edit("name: bad-input", "name: bad\x00input"), 2),
    Case("yaml-empty-file", text(""), 1),
    Case("yaml-only-comment", text("# nothing here\n"), 1),
    Case("yaml-top-list", text("- version: 1\n"), 1),
    Case(
        "yaml-top-scalar-secret", text("AKIA-TOPSECRET-VALUE-0123456789\n"), 1, never=("TOPSECRET",)
    ),
    Case("yaml-unhashable-key", edit("name: bad-input", "? [a, b]\n: c"), 2),
    # --- huge, deep, aliases ---------------------------------------------------------
    Case(
        "huge-file",
        text(BASE + ("# padding padding padding\n" * 60_000)),
        None,
        also=("limit of 1.0 MiB",),
    ),
    Case("deep-flow", text("a: " + "[" * 200 + "]" * 200 + "\n"), 1, also=("nested more than 64",)),
    Case(
        "deep-block",
        text("".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n"),
        None,
        also=("nested more than 64",),
    ),
    Case("alias-bomb", text(_billion_laughs()), 1, also=("alias bomb",)),
    Case(
        "too-many-aliases",
        text("a: &a x\nb: [" + ", ".join(["*a"] * 1500) + "]\n"),
        2,
        also=("more than 1000 aliases",),
    ),
    Case(
        "too-many-nodes",
        text("x: [" + ",".join(["1"] * 60_000) + "]\n"),
        1,
        also=("more than 50,000 keys, values and list items",),
    ),
    Case("alias-cycle", text("a: &a [*a]\n"), 1),
    # --- unicode ---------------------------------------------------------------------
    Case("unicode-key", edit("name: bad-input", "name: bad-input\nnäme: x"), 3, "näme"),
    Case(
        "unicode-action",
        edit("action: check-connectivity", "action: chéck-connectivity"),
        18,
        "phases[1].steps[1].action",
    ),
    Case("zero-width-key", edit("version: 1", "ver\u200bsion: 1"), 1),
    Case("rtl-override-key", edit("state_dir: state", "state_dir: state\n\u202eyek: 1"), 4),
    Case("not-utf8", text("name: caf\xe9\n".encode("latin-1")), 1, also=("not UTF-8",)),
    Case("utf16", text(BASE.encode("utf-16")), 1),
    # --- the plan path itself ------------------------------------------------------
    Case(
        "missing-file",
        lambda tmp: "",
        None,
        args=("plan", "{tmp}/nope.yaml", "--offline"),
        also=("nope.yaml",),
    ),
    # --- state_dir and outputs (execute checks them before any step) ----------------
    Case("state-dir-is-file", _state_is_file, 3, "state_dir", args=EXECUTE_2, also=("is a file",)),
    Case("state-dir-under-file", _state_under_file, 3, "state_dir", args=EXECUTE_2),
    Case(
        "state-dir-in-proc",
        edit("state_dir: state", "state_dir: /proc/kmigrate-test/state"),
        3,
        "state_dir",
        args=EXECUTE_2,
    ),
    Case(
        "state-dir-unwritable",
        _unwritable_state,
        3,
        "state_dir",
        args=EXECUTE_2,
        marks=(
            pytest.mark.skipif(
                ROOT, reason="root writes in a mode-500 folder; state-dir-in-proc covers root"
            ),
        ),
    ),
    Case(
        "output-is-directory",
        _output_is_dir,
        26,
        "phases[2].steps[1].output",
        args=EXECUTE_2,
        also=("is a folder",),
    ),
    Case("report-under-file", _report_under_file, 28, "phases[2].steps[2].report", args=EXECUTE_2),
    Case(
        "report-in-proc",
        edit("report: reports/verify.json", "report: /proc/kmigrate-test/v.json"),
        28,
        "phases[2].steps[2].report",
        args=EXECUTE_2,
    ),
    # --- references (resolved when the dry run builds its clients) -------------------
    Case(
        "env-unset",
        edit("client.id: kmigrate-test", "client.id: ${KMIGRATE_TEST_UNSET_VAR}"),
        9,
        "clusters.source.config.client.id",
        args=EXECUTE_1,
        also=("KMIGRATE_TEST_UNSET_VAR",),
    ),
    Case(
        "file-missing",
        edit("client.id: kmigrate-test", "client.id: ${file:missing.txt}"),
        9,
        "clusters.source.config.client.id",
        args=EXECUTE_1,
        also=("missing.txt",),
    ),
    Case(
        "file-is-dir",
        _secret_file_is_dir,
        9,
        "clusters.source.config.client.id",
        args=EXECUTE_1,
        also=("a directory",),
    ),
    Case(
        "file-not-utf8",
        _secret_file_latin1,
        9,
        "clusters.source.config.client.id",
        args=EXECUTE_1,
        also=("not UTF-8",),
    ),
    Case(
        "file-dev-zero",
        edit("client.id: kmigrate-test", "client.id: ${file:/dev/zero}"),
        9,
        "clusters.source.config.client.id",
        args=EXECUTE_1,
        also=("character device",),
    ),
    # --- a snapshot path naming a file that is not a snapshot --------------------------
    Case(
        "snapshot-secret-file",
        _secret_snapshot,
        1,
        args=("execute", "{plan}", "--phase", "3", "--force"),
        also=("id_secret",),
        never=("TOPSECRET", "root:x"),
    ),
]


def run(args: tuple[str, ...], plan: Path) -> Result:
    """Run the CLI in-process with ``{plan}``/``{tmp}`` filled in."""
    filled = [a.format(plan=plan, tmp=plan.parent) for a in args]
    return CliRunner().invoke(cli, filled)


def check_refusal(result: Result, plan: Path, case: Case) -> None:
    """Exit 2, file/line/key named, no traceback, no forbidden fragment."""
    out = result.output
    assert result.exit_code == 2, out
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out
    assert "internal error" not in out
    if case.line is not None:
        assert f":{case.line}:" in out, out
    if case.key is not None:
        assert case.key in out, out
    for fragment in case.also:
        assert fragment in out, out
    for fragment in case.never:
        assert fragment not in out, out


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_malformed_input_is_refused_with_file_line_and_key(tmp_path: Path, case: Case) -> None:
    body = case.make(tmp_path)
    plan = tmp_path / "plan.yaml"
    if case.id != "missing-file":
        if isinstance(body, bytes):
            plan.write_bytes(body)
        else:
            plan.write_text(body, encoding="utf-8")
    result = run(case.args, plan)
    check_refusal(result, plan, case)
    if case.id not in ("snapshot-secret-file",) and not case.id.startswith("missing"):
        # the file named is the plan, or (snapshot, secret files) the file at fault
        assert str(plan) in result.output or str(tmp_path) in result.output


def test_the_corpus_is_large_and_base_is_valid(tmp_path: Path) -> None:
    """Guards the table: BASE itself loads, so each case fails for its edit."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(BASE, encoding="utf-8")
    assert run(PLAN_ONLY, plan).exit_code == 0
    assert len(CASES) >= 100


# --------------------------------------------------------------------------- #
# Inputs that could hang or eat memory: a subprocess with a time limit
# --------------------------------------------------------------------------- #


def run_bounded(
    args: list[str], cwd: Path, timeout_s: float = 30
) -> subprocess.CompletedProcess[str]:
    """``kmigrate ARGS`` in a subprocess; fails the test (not hangs) after ``timeout_s``."""
    env = {**os.environ, "KMIGRATE_LOG": str(cwd / "kmigrate.log")}
    try:
        return subprocess.run(
            [sys.executable, "-m", "kmigrate", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"kmigrate {' '.join(args)} did not finish within {timeout_s} s")


def _fifo(tmp: Path) -> Path:
    path = tmp / "plan.yaml"
    os.mkfifo(path)
    return path


def _dev_zero(tmp: Path) -> Path:
    path = tmp / "plan.yaml"
    path.symlink_to("/dev/zero")
    return path


def _directory(tmp: Path) -> Path:
    path = tmp / "plan.yaml"
    path.mkdir()
    return path


def _link_to_directory(tmp: Path) -> Path:
    (tmp / "real").mkdir()
    path = tmp / "plan.yaml"
    path.symlink_to(tmp / "real")
    return path


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_fifo, "FIFO"),
        (_dev_zero, "character device"),
        (_directory, "directory"),
        (_link_to_directory, "directory"),
    ],
    ids=["fifo", "dev-zero", "directory", "symlink-to-directory"],
)
@pytest.mark.parametrize("command", ["plan", "execute", "status"])
def test_a_plan_that_is_not_a_file_is_refused_without_blocking(
    tmp_path: Path, make: Callable[[Path], Path], kind: str, command: str
) -> None:
    path = make(tmp_path)
    extra = ["--phase", "1"] if command == "execute" else []
    done = run_bounded([command, str(path), *extra], tmp_path)
    assert done.returncode == 2, done.stderr
    assert str(path) in done.stderr
    assert "directory" in done.stderr if kind == "directory" else kind in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_fifo_as_a_secret_file_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "plan.yaml").write_text(
        BASE.replace("client.id: kmigrate-test", "client.id: ${file:pipe}"), encoding="utf-8"
    )
    done = run_bounded(["execute", "plan.yaml", "--phase", "1", "--dry-run"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert ":9: clusters.source.config.client.id: secret file" in done.stderr
    assert "FIFO" in done.stderr


def test_an_alias_bomb_is_refused_quickly_with_bounded_memory(tmp_path: Path) -> None:
    """A billion-laughs plan: refused in seconds, in a process limited to 1 GiB of memory."""
    (tmp_path / "plan.yaml").write_text(_billion_laughs(), encoding="utf-8")
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
        "from kmigrate.cli import main; sys.argv = ['kmigrate', 'plan', 'plan.yaml', "
        "'--offline']; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "alias bomb" in done.stderr


# --------------------------------------------------------------------------- #
# Hypothesis: mutations of a valid plan
# --------------------------------------------------------------------------- #

VALID = yaml.safe_load(BASE)

#: Required keys, as paths into VALID; dropping one must be refused.
REQUIRED = [
    ("version",),
    ("name",),
    ("clusters",),
    ("topics",),
    ("phases",),
    ("clusters", "source"),
    ("clusters", "target"),
    ("clusters", "source", "type"),
    ("clusters", "target", "bootstrap_servers"),
    ("topics", "include"),
    ("phases", 0, "name"),
    ("phases", 1, "steps"),
    ("phases", 1, "window", "start"),
    ("phases", 1, "window", "end"),
    ("phases", 0, "steps", 0, "action"),
    ("phases", 1, "steps", 2, "shell"),
]
#: Paths whose value must be a non-empty string: a list, mapping, number or null is refused.
STRINGS = [
    ("name",),
    ("clusters", "source", "type"),
    ("clusters", "source", "bootstrap_servers"),
    ("clusters", "target", "bootstrap_servers"),
    ("phases", 0, "name"),
    ("phases", 1, "window", "start"),
    ("phases", 1, "window", "timezone"),
    ("phases", 1, "steps", 0, "output"),
    ("phases", 1, "steps", 1, "report"),
    ("phases", 1, "steps", 2, "shell"),
]
#: Mappings that take only known keys (``config`` takes any librdkafka key).
STRICT_MAPPINGS = [
    (),
    ("clusters",),
    ("clusters", "source"),
    ("topics",),
    ("phases", 0),
    ("phases", 1, "window"),
    ("phases", 1, "steps", 1),
]
WRONG_VALUES = st.one_of(
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), min_size=1, max_size=2),
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
)
GARBAGE_LINES = st.sampled_from(
    ["{unclosed: [", "key: : :", "\t- tab", "!!python/object:os.system x", "- [", "a: *nowhere"]
)


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@dataclass(frozen=True)
class Mutation:
    """A mutated plan text and the key path (or None) its error must name."""

    text: str
    where: str | None


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    kind = draw(st.sampled_from(["drop", "retype", "unknown-key", "garbage-line"]))
    data = copy.deepcopy(VALID)
    if kind == "drop":
        path = draw(st.sampled_from(REQUIRED))
        del _parent(data, path)[path[-1]]
        where = format_loc(path[:-1]) if path[:-1] else None
    elif kind == "retype":
        path = draw(st.sampled_from(STRINGS))
        _parent(data, path)[path[-1]] = draw(WRONG_VALUES)
        where = format_loc(path)
    elif kind == "unknown-key":
        path = draw(st.sampled_from(STRICT_MAPPINGS))
        target = _parent(data, (*path, None))
        key = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyzäö_", min_size=3, max_size=10))
        if key in ("action", "manual", "shell"):
            key += "_x"
        target[key + "_unknown"] = draw(st.integers() | st.text(max_size=5))
        where = "unknown key"
    else:
        lines = yaml.safe_dump(data, sort_keys=False).splitlines(keepends=True)
        index = draw(st.integers(0, len(lines) - 1))
        lines.insert(index, draw(GARBAGE_LINES) + "\n")
        return Mutation("".join(lines), None)
    return Mutation(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), where)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutation=mutations())
def test_mutations_of_a_valid_plan_are_refused(tmp_path: Path, mutation: Mutation) -> None:
    plan = tmp_path / "mutated.yaml"
    plan.write_text(mutation.text, encoding="utf-8")
    result = run(PLAN_ONLY, plan)
    out = result.output
    assert result.exit_code == 2, out
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out
    problems = out.removeprefix("invalid input:\n").splitlines()
    line_count = mutation.text.count("\n") + 1
    for problem in problems:
        match = re.match(rf"{re.escape(str(plan))}:(\d+)(:\d+)?: ", problem)
        assert match, problem
        assert 1 <= int(match.group(1)) <= line_count, problem
    if mutation.where is not None:
        assert mutation.where in out, out


# --------------------------------------------------------------------------- #
# Bad command lines
# --------------------------------------------------------------------------- #


def _valid_plan(tmp: Path) -> Path:
    plan = tmp / "plan.yaml"
    plan.write_text(BASE, encoding="utf-8")
    return plan


BAD_COMMAND_LINES = [
    (["execute", "{plan}", "--phase", "0"], "--phase"),
    (["execute", "{plan}", "--phase", "99"], "--phase"),
    (["execute", "{plan}", "--phase", "mirorr"], "--phase"),
    (["execute", "{plan}", "--phase", ""], "--phase"),
    (["execute", "{plan}", "--phase", "-1"], "--phase"),
    (["execute", "{plan}"], "--phase"),
    (["execute", "{plan}", "--phase", "1", "--dry-run", "--yes"], "--yes"),
    (["rollback", "{plan}", "--phase", "7", "--dry-run"], "--phase"),
    (["rollback", "{plan}", "--dry-run", "-y"], "--yes"),
    (["status", "{plan}", "-X", "a=b"], "-X"),
    (["plan", "{plan}", "--output", "xml"], "--output"),
    (["plan", "{plan}", "--phase", "1"], "--phase"),
    (["mirror", "--source", "127.0.0.1:1", "--target", "127.0.0.1:1"], "--target"),
    (["verify", "--source", "127.0.0.1:1,127.0.0.1:3", "--target", "127.0.0.1:3"], "--target"),
    (["verify", "--source", "nohost", "--target", "127.0.0.1:3"], "--source"),
    (["export", "--source", "127.0.0.1:70000"], "--source"),
    (
        ["mirror", "--source", "127.0.0.1:1", "--target", "127.0.0.1:2", "-X", "novalue"],
        "--source-config",
    ),
    (
        [
            "mirror",
            "--source",
            "127.0.0.1:1",
            "--target",
            "127.0.0.1:2",
            "-Y",
            "sasl.password=hunter2x",
        ],
        "--target-config",
    ),
    (
        ["verify", "--source", "127.0.0.1:1", "--target", "127.0.0.1:2", "--report", "{tmp}"],
        "--report",
    ),
    (
        [
            "verify",
            "--source",
            "127.0.0.1:1",
            "--target",
            "127.0.0.1:2",
            "--report",
            "/proc/x/r.json",
        ],
        "--report",
    ),
    (["export", "--source", "127.0.0.1:1", "--out", "/proc/x/topics.yaml"], "--out"),
    (["export", "--source", "127.0.0.1:1", "--out", ""], "--out"),
    (["export", "--source", "127.0.0.1:1", "--type", "msk"], "--type"),
    (
        ["provision", "{plan}", "--target", "127.0.0.1:2", "--replication-factor", "0"],
        "--replication-factor",
    ),
    (["sandbox", "seed", "--records", "0"], "--records"),
    (["sandbox", "seed", "--source", "127.0.0.1"], "--source"),
    (["sandbox", "up", "--source-port", "0"], "--source-port"),
    (["sandbox", "up", "--source-port", "7000", "--target-port", "7000"], "--target-port"),
    (["demo", "--records", "-1"], "--records"),
    (["mirror", "--source", "127.0.0.1:1"], "--target"),
]


@pytest.mark.parametrize(
    ("args", "option"),
    BAD_COMMAND_LINES,
    ids=[f"{i}-{' '.join(a[:1] + a[2:])[:40]}" for i, (a, _) in enumerate(BAD_COMMAND_LINES)],
)
def test_bad_command_line_exits_2_naming_the_option(
    tmp_path: Path, args: list[str], option: str
) -> None:
    plan = _valid_plan(tmp_path)
    filled = [a.format(plan=plan, tmp=tmp_path) for a in args]
    result = CliRunner().invoke(cli, filled)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert option in result.output, result.output
    assert "Traceback" not in result.output
    assert "hunter2x" not in result.output


def test_a_fifo_as_the_snapshot_of_provision_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "topics.yaml")
    done = run_bounded(["provision", "topics.yaml", "--target", "127.0.0.1:9"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "topics.yaml: cannot read the topic snapshot: a FIFO (named pipe), not a file" in (
        done.stderr
    )


# --------------------------------------------------------------------------- #
# Unreachable addresses: a clear error, exit 1, in bounded time
# --------------------------------------------------------------------------- #


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A loopback port that accepts TCP connections and never answers a byte."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # closed again when the block ends


@pytest.mark.parametrize(
    ("command", "silent"),
    [
        (["sandbox", "seed", "-b", "{addr}"], False),
        (["sandbox", "seed", "-b", "{addr}"], True),
        (["export", "--source", "{addr}"], True),
        (["verify", "--source", "{addr}", "--target", "127.0.0.1:9"], False),
    ],
    ids=["seed-closed-port", "seed-silent-listener", "export-silent-listener", "verify-closed"],
)
def test_an_unreachable_address_fails_clearly_in_bounded_time(
    tmp_path: Path, silent_listener: str, command: list[str], silent: bool
) -> None:
    address = silent_listener if silent else _closed_port()
    started = time.monotonic()
    done = run_bounded([a.format(addr=address) for a in command], tmp_path, timeout_s=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert address in done.stderr
    assert "FAILED: " in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert elapsed < 45


# --------------------------------------------------------------------------- #
# Files that may be secrets are never quoted; the redaction rule
# --------------------------------------------------------------------------- #

TOKEN = "Zq7TOKENv9"
SNAPSHOT_KEYS = st.sampled_from(
    ["version", "source", "topics", "consumer_groups", "partitions", "configs", "type", "x"]
)
LEAVES = st.sampled_from([TOKEN, f"pw={TOKEN}", f"{TOKEN}\n{TOKEN}", f"[{TOKEN}"]) | st.integers()
TREES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SNAPSHOT_KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    tree=TREES,
    raw=st.sampled_from(
        [
            None,
            f"{TOKEN}: [unclosed\n",
            f"user: x\npassword: {TOKEN}\n\tindented\n",
            f"key = {TOKEN}\n[section]\n",
            f"!{TOKEN} value\n",
            f"a: *{TOKEN}\n",
            f'a: "{TOKEN}\\q"\n',
        ]
    ),
)
def test_a_file_read_as_a_snapshot_is_never_quoted(tree: Any, raw: str | None) -> None:
    """Whatever a ``snapshot:`` path names, a value in it never appears in the error."""
    from kmigrate.errors import PlanError
    from kmigrate.snapshot import load

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "maybe-secret"
        path.write_text(raw if raw is not None else yaml.safe_dump(tree), encoding="utf-8")
        try:
            load(path)
        except PlanError as exc:
            message = str(exc)
        else:
            return  # a valid snapshot: nothing to report (TOKEN only as a key or topic name)
    assert message.startswith(str(path))
    assert TOKEN not in message, message


def test_redaction_masks_resolved_values_and_secret_settings_only() -> None:
    from kmigrate import redact

    redact.remember("xy")  # short: masked where it stands whole, not inside a word (issue 19)
    redact.remember("first-line-s3cret\nsecond-line-s3cret\n")
    masked = redact.redact("a xy b first-line-s3cret c second-line-s3cret oxyd")
    assert masked == f"a {redact.MASK} b {redact.MASK} c {redact.MASK} oxyd"
    argv = ["mirror", "-X", "sasl.password=literal", "-X", "client.id=app"]
    assert redact.redact_argv(argv) == (f"mirror -X sasl.password={redact.MASK} -X client.id=app")


def test_ctrl_c_while_the_command_line_loads_exits_130_without_a_traceback(
    tmp_path: Path,
) -> None:
    """Ctrl-C (SIGINT) while ``kmigrate`` imports its command line (click,
    the plan schema, every command: tenths of a second): one line and exit
    130, never a traceback.  Before ``kmigrate.entry`` the console script
    imported ``kmigrate.cli`` outside any handler and Python printed
    ``KeyboardInterrupt`` with a traceback.  The signal is sent by an import
    hook at the moment ``click`` starts loading, so it lands inside that
    import every time (a signal from outside can also land in the
    interpreter's own start, before any kmigrate code, where Python reports
    it itself)."""
    code = textwrap.dedent(
        """
        import os, signal, sys

        class InterruptAtClick:
            def find_spec(self, name, path=None, target=None):
                if name == "click":
                    os.kill(os.getpid(), signal.SIGINT)
                return None

        sys.meta_path.insert(0, InterruptAtClick())
        sys.argv = ["kmigrate", "plan", "plan.yaml", "--offline"]
        from kmigrate.entry import main
        main()
        print("the command ran to its end")
        """
    )
    # As from a terminal: a shell's background job (nohup ... &) starts with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler at all.
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert done.stderr.strip() == "interrupted while starting: nothing was done"
    assert "ran to its end" not in done.stdout

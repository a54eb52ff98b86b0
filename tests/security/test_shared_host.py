"""Safe on a shared host (issue 19): the state folder, the journal's integrity, no write
through a symlink.

The attacker is a second local user (or anyone who can write where kmigrate
writes).  Plans hold only shell steps, so no broker is needed, except for the
sandbox test, which starts the two local Tansu brokers.  Each test says
whether it fails on the code before issue 19.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate import error_handler, safefs
from kmigrate.adapters import sandbox
from kmigrate.cli import cli
from kmigrate.journal import Journal
from kmigrate.plan import load_plan
from kmigrate.plan.identity import definition_hash, walk
from tests.conftest import offline_plan_head

PHASES = """\
phases:
  - name: switch
    steps:
      - shell: echo switch >> log.txt
        rollback: echo undo-switch >> log.txt
"""


def run(*args: str) -> Result:
    """``kmigrate ARGS`` in-process; stdin is not a terminal (no one answers prompts)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_plan(tmp_path: Path, state: str = "state") -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(offline_plan_head("shared-host", state_dir=str(state)) + PHASES)
    return plan


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def said(result: Result) -> str:
    return " ".join(result.output.split())


# -- 1. the state folder -------------------------------------------------------------


@pytest.fixture
def other_user() -> Iterator[str]:
    """A second local user, created for the test and removed after it (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("creating a second local user (useradd) needs root; this run is not root")
    if shutil.which("useradd") is None:
        pytest.skip("useradd is not installed, so no second local user can be created")
    name = f"km19{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def test_a_state_folder_another_user_owns_with_mode_0777_is_refused(
    tmp_path: Path, other_user: str
) -> None:
    """Fails before issue 19: the folder was used whoever owned it, and the step ran."""
    state = tmp_path / "state"
    state.mkdir()
    shutil.chown(state, user=other_user)
    state.chmod(0o777)
    plan = write_plan(tmp_path)

    for command in (
        ["execute", str(plan), "--phase", "1"],
        ["rollback", str(plan), "--yes"],
        ["status", str(plan)],
    ):
        result = run(*command)
        assert result.exit_code == 2, result.output
        assert f"{state} is owned by {other_user}, not by root" in said(result)
        assert "(mode 0777)" in said(result)
        assert "--allow-shared-state" in said(result)
    assert not (tmp_path / "log.txt").exists()
    assert not (state / "journal.json").exists()

    result = run("execute", str(plan), "--phase", "1", "--allow-shared-state")
    assert result.exit_code == 0, result.output
    assert "--allow-shared-state: going on although" in said(result)
    events = json.loads((state / "journal.json").read_text())["events"]
    assert [e["state_dir"] for e in events if e["event"] == "allowed-shared-state"] == [str(state)]


def test_a_state_folder_of_mine_that_others_can_write_is_refused(tmp_path: Path) -> None:
    """Fails before issue 19: a group- and world-writable state folder was used."""
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    result = run("execute", str(write_plan(tmp_path)), "--phase", "1")
    assert result.exit_code == 2, result.output
    assert f"{state} (owner root, mode 0777) can be written by group and others" in said(result)


def test_the_state_folder_and_the_log_folder_are_created_0700_and_files_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before issue 19: folders were created 0755 (umask 022) and the error log 0644."""
    os.umask(0o022)
    plan = write_plan(tmp_path, "deep/state")
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    state = tmp_path / "deep" / "state"
    assert mode(state) == 0o700
    assert mode(state / "logs") == 0o700
    for name in ("journal.json", "journal.json.prev", "journal.json.sha256", "lock"):
        assert mode(state / name) == 0o600, name
    assert {mode(p) for p in (state / "logs").iterdir()} == {0o600}

    log = tmp_path / "cache" / "kmigrate" / "kmigrate.log"
    monkeypatch.setenv("KMIGRATE_LOG", str(log))

    def broken() -> int:
        raise RuntimeError("boom")

    assert error_handler.run(broken) == error_handler.INTERNAL
    assert mode(log.parent) == 0o700
    assert mode(log) == 0o600
    assert "RuntimeError: boom" in log.read_text()


# -- 2. the journal's integrity ---------------------------------------------------------


def _tamper(state: Path, change: dict[str, object], *, fix_hash: bool, fix_sum: bool) -> None:
    """Rewrite the journal as another user would: ``change`` merged into the entry."""
    path = state / "journal.json"
    data = json.loads(path.read_text())
    (sid,) = data["steps"]
    entry = data["steps"][sid]
    entry["definition"] = {**entry["definition"], **change}
    if fix_hash:
        entry["definition_hash"] = definition_hash(entry["definition"])
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    path.write_text(text)
    if fix_sum:
        digest = hashlib.sha256(text.encode()).hexdigest()
        (state / "journal.json.sha256").write_text(f"{digest}  journal.json\n")


@pytest.mark.parametrize(
    ("fix_hash", "fix_sum", "expected"),
    [
        (
            False,
            True,
            [
                "refused: the recorded definition of entry 'shell-echo-switch-log-txt-16fc7b' "
                "does not match its definition_hash"
            ],
        ),
        (
            True,
            False,
            [
                "refused: the journal was changed outside kmigrate (its SHA-256 is not one "
                "recorded in journal.json.sha256); entries that differ from the previous "
                "version: 'shell-echo-switch-log-txt-16fc7b'"
            ],
        ),
    ],
    ids=["definition-without-its-hash", "journal-without-its-checksum"],
)
def test_a_tampered_journal_is_refused_naming_the_entry(
    tmp_path: Path, fix_hash: bool, fix_sum: bool, expected: list[str]
) -> None:
    """Another user rewrites an entry's rollback command, fixing either its hash or the
    journal's checksum, not both.

    Fails before issue 19: nothing was checked; rollback ran the command the journal was
    given (execute refused only because the definition differed from the plan)."""
    plan = write_plan(tmp_path)
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    _tamper(tmp_path / "state", {"rollback": "id > pwned"}, fix_hash=fix_hash, fix_sum=fix_sum)

    for command in (["execute", str(plan), "--phase", "1"], ["rollback", str(plan), "--yes"]):
        result = run(*command)
        assert result.exit_code == 1, result.output
        for text in expected:
            assert text in said(result)
    assert not (tmp_path / "pwned").exists()


def test_a_recorded_rollback_command_not_in_the_plan_is_asked_even_with_yes(
    tmp_path: Path,
) -> None:
    """The whole attack of the issue (consistent hash and checksum): the command is shown and
    not run with ``--yes``; ``--yes-recorded-commands`` runs it.

    Fails before issue 19: ``rollback --yes`` ran the injected command unasked.
    """
    plan = write_plan(tmp_path)
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    _tamper(tmp_path / "state", {"rollback": "id > pwned"}, fix_hash=True, fix_sum=True)

    result = run("rollback", str(plan), "--yes")
    assert result.exit_code == 1, result.output
    assert "this rollback command comes from the journal and is not in the plan: id > pwned" in (
        said(result)
    )
    assert "--yes does not answer this" in said(result)
    assert not (tmp_path / "pwned").exists()

    result = run("rollback", str(plan), "--yes", "--yes-recorded-commands")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pwned").exists()


def test_the_advice_to_restore_the_previous_journal_still_works(tmp_path: Path) -> None:
    """The checksum file lists the previous version too (passes before issue 19 as well)."""
    plan = write_plan(tmp_path)
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    assert run("rollback", str(plan), "--yes").exit_code == 0
    state = tmp_path / "state"
    shutil.copyfile(state / "journal.json.prev", state / "journal.json")
    assert run("status", str(plan)).exit_code == 0


# -- 3. no write through a symlink -----------------------------------------------------------


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text("precious\n")
    return path


def test_a_symlink_at_the_error_log_is_not_written_through(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before issue 19: the traceback was appended to the symlink's target."""
    log = tmp_path / "logs" / "kmigrate.log"
    log.parent.mkdir()
    log.symlink_to(victim)
    monkeypatch.setenv("KMIGRATE_LOG", str(log))

    def broken() -> int:
        raise RuntimeError("boom")

    assert error_handler.run(broken) == error_handler.INTERNAL
    assert victim.read_text() == "precious\n"


def test_a_symlink_at_the_lock_file_is_not_written_through(tmp_path: Path, victim: Path) -> None:
    """Fails before issue 19: the lock holder's line replaced the symlink target's content."""
    plan = write_plan(tmp_path)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "lock").symlink_to(victim)
    result = run("execute", str(plan), "--phase", "1")
    assert result.exit_code == 1, result.output
    assert f"{state / 'lock'} is a symbolic link; kmigrate does not write through one" in said(
        result
    )
    assert victim.read_text() == "precious\n"


def test_a_symlink_at_the_previous_journal_is_replaced_not_followed(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also where hard links fail (the copy fallback).  Passes before issue 19 too when
    hard links work (the link was renamed over the symlink); the fallback copied into a
    predictable temporary name."""
    plan = write_plan(tmp_path)
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    state = tmp_path / "state"
    (state / "journal.json.prev").unlink()
    (state / "journal.json.prev").symlink_to(victim)

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError("hard links are not supported here")

    monkeypatch.setattr(os, "link", no_links)
    assert run("rollback", str(plan), "--yes").exit_code == 0
    assert victim.read_text() == "precious\n"
    assert not (state / "journal.json.prev").is_symlink()
    assert json.loads((state / "journal.json.prev").read_text())["version"] == 2
    assert [p.name for p in state.iterdir() if p.name.endswith(".tmp")] == []


def test_a_symlink_at_a_shell_steps_log_is_replaced_not_followed(
    tmp_path: Path, victim: Path
) -> None:
    """Passes before issue 19 too (the log was already written by atomic replace)."""
    plan = write_plan(tmp_path)
    (step,) = walk(load_plan(plan).model)
    logs = tmp_path / "state" / "logs"
    logs.mkdir(parents=True, mode=0o700)
    (tmp_path / "state").chmod(0o700)
    (logs / f"step-{step.id}.log").symlink_to(victim)
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    assert victim.read_text() == "precious\n"
    assert "switch" in (logs / f"step-{step.id}.log").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_symlinks_at_the_sandbox_log_and_sandbox_json_are_not_written_through(
    tmp_path: Path, victim: Path
) -> None:
    """Fails before issue 19: the broker's log was appended to the symlink's target, and a
    dangling ``sandbox.json`` symlink made kmigrate create the file it points to."""
    state = tmp_path / "sandbox"
    state.mkdir(mode=0o700)
    (state / "source.log").symlink_to(victim)
    with pytest.raises(safefs.UnsafeFileError, match="is a symbolic link"):
        sandbox.up(state, _free_port(), _free_port())
    assert victim.read_text() == "precious\n"

    (state / "source.log").unlink()
    planted = tmp_path / "planted-by-another-user.json"
    (state / "sandbox.json").symlink_to(planted)  # dangling: exists() says False
    started = sandbox.up(state, _free_port(), _free_port())
    try:
        assert not planted.exists()
        assert not (state / "sandbox.json").is_symlink()
        assert mode(state / "sandbox.json") == 0o600
        assert {mode(state / f"{b.role}.log") for b in started} == {0o600}
    finally:
        sandbox.down(state)


def test_the_state_folder_check_names_a_symlinked_state_folder(tmp_path: Path) -> None:
    """A state folder that is a symlink is refused by :func:`safefs.dir_problem`."""
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    assert "is a symbolic link" in (safefs.dir_problem(link) or "")
    assert safefs.dir_problem(real) is None
    with pytest.raises(safefs.SharedStateError):
        safefs.private_dir(link)
    assert Journal(real, "p").shared is None


def test_the_standalone_mirrors_state_folder_is_held_to_the_same_rule(tmp_path: Path) -> None:
    """Fails before issue 19: ``kmigrate mirror --state-dir`` used a world-writable folder
    (here it is refused before any connection: the brokers named do not exist)."""
    state = tmp_path / "mirror-state"
    state.mkdir()
    state.chmod(0o777)
    args = ["mirror", "--source", "127.0.0.1:1", "--target", "127.0.0.1:2"]
    result = run(*args, "--state-dir", str(state))
    assert result.exit_code == 2, result.output
    assert f"{state} (owner root, mode 0777) can be written by group and others" in said(result)


def test_an_error_log_an_older_kmigrate_left_0644_becomes_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before issue 19: the log kept its 0644 and others could read the tracebacks."""
    log = tmp_path / "kmigrate.log"
    log.write_text("old\n")
    log.chmod(0o644)
    monkeypatch.setenv("KMIGRATE_LOG", str(log))

    def broken() -> int:
        raise RuntimeError("boom")

    assert error_handler.run(broken) == error_handler.INTERNAL
    assert mode(log) == 0o600
    assert log.read_text().startswith("old\n")

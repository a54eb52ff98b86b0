"""Tests for kmigrate.journal: round trips, resume records, atomic writes, the run lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kmigrate.errors import JournalError, RefusedError
from kmigrate.journal import (
    FAILED,
    ROLLBACK_FAILED,
    ROLLED_BACK,
    STARTED,
    SUCCEEDED,
    Journal,
    atomic_write,
    whoami,
)


def files_in(state: Path) -> list[str]:
    return sorted(p.name for p in state.iterdir())


def assert_clean(state: Path) -> dict:
    """The journal file is valid JSON and no temp file is left beside it."""
    assert [n for n in files_in(state) if n.endswith(".tmp")] == []
    return json.loads((state / "journal.json").read_text(encoding="utf-8"))


def test_fresh_journal_has_no_file_until_written(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "plan-a")
    assert journal.status("mirror") is None
    assert journal.entry("mirror") is None
    assert journal.events() == []
    assert not (state / "journal.json").exists()


def test_round_trip_through_a_fresh_journal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "plan-a")
    assert journal.start("export-topics", "provision", 2, "export-topics") == {}
    assert Journal(state, "plan-a").status("export-topics") == STARTED

    journal.checkpoint("export-topics", {"output": "snap.yaml", "topics": []})
    assert Journal(state, "plan-a").entry("export-topics")["record"] == {
        "output": "snap.yaml",
        "topics": [],
    }

    journal.finish("export-topics", SUCCEEDED, {"output": "snap.yaml", "topics": ["a"]})
    journal.event("forced", phase=2, reason="window closed")

    reread = Journal(state, "other-name")  # the file wins over the constructor's name
    entry = reread.entry("export-topics")
    assert entry is not None
    assert entry["status"] == SUCCEEDED
    assert entry["id"] == "export-topics"
    assert entry["phase"] == "provision"
    assert entry["phase_number"] == 2
    assert entry["description"] == "export-topics"
    assert entry["record"] == {"output": "snap.yaml", "topics": ["a"]}
    assert entry["error"] is None
    assert entry["attempts"] == 1
    assert entry["by"] == whoami()
    assert entry["started_at"] and entry["ended_at"]
    assert reread.data["plan"] == "plan-a"
    events = reread.events()
    assert len(events) == 1
    assert events[0]["event"] == "forced"
    assert events[0]["phase"] == 2
    assert events[0]["reason"] == "window closed"
    assert events[0]["by"] == whoami()


def test_rolled_back_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("provision-topics", "prep", 1, "provision-topics")
    journal.finish("provision-topics", SUCCEEDED, {"created": ["t"]})
    journal.rolled_back("provision-topics", ["deleted target topic t"])
    entry = Journal(state, "p").entry("provision-topics")
    assert entry is not None
    assert entry["status"] == ROLLED_BACK
    assert entry["undone"] == ["deleted target topic t"]
    assert entry["rolled_back_by"] == whoami()
    assert entry["rolled_back_at"]
    assert entry["error"] is None


def test_failed_rollback_is_recorded(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("provision-topics", "prep", 1, "provision-topics")
    journal.finish("provision-topics", SUCCEEDED, {"created": ["t"]})
    journal.rolled_back("provision-topics", [], error="target unreachable")
    entry = Journal(state, "p").entry("provision-topics")
    assert entry is not None
    assert entry["status"] == ROLLBACK_FAILED
    assert entry["error"] == "target unreachable"


def test_failure_error_round_trips(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("mirror", "cutover", 3, "mirror")
    journal.finish("mirror", FAILED, {"partitions": [1]}, error="boom")
    entry = Journal(state, "p").entry("mirror")
    assert entry is not None
    assert (entry["status"], entry["error"]) == (FAILED, "boom")


def test_start_after_failure_returns_the_earlier_record(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Journal(state, "p").start("mirror", "cutover", 3, "mirror")
    first = Journal(state, "p")
    first.finish("mirror", FAILED, {"partitions": [{"topic": "t", "records": 5}]}, error="x")

    again = Journal(state, "p")
    previous = again.start("mirror", "cutover", 3, "mirror")
    assert previous == {"partitions": [{"topic": "t", "records": 5}]}
    entry = Journal(state, "p").entry("mirror")
    assert entry is not None
    assert entry["status"] == STARTED
    assert entry["attempts"] == 2
    assert entry["record"] == previous  # kept, so a crash now still has it
    assert entry["error"] is None
    assert entry["ended_at"] is None


def test_start_returns_a_copy(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "p")
    journal.start("x", "a", 1, "x")
    journal.finish("x", FAILED, {"k": 1})
    previous = journal.start("x", "a", 1, "x")
    previous["k"] = 2
    assert journal.entry("x")["record"] == {"k": 1}


def test_start_after_rolled_back_returns_empty(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("provision-topics", "provision", 2, "provision-topics")
    journal.finish("provision-topics", SUCCEEDED, {"created": ["t"]})
    journal.rolled_back("provision-topics", ["deleted t"])

    previous = Journal(state, "p").start("provision-topics", "provision", 2, "provision-topics")
    assert previous == {}
    entry = Journal(state, "p").entry("provision-topics")
    assert entry is not None
    assert entry["record"] == {}
    assert entry["attempts"] == 2


def test_attempts_increment(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "p")
    for attempt in range(1, 5):
        journal.start("x", "a", 1, "x")
        assert Journal(tmp_path, "p").entry("x")["attempts"] == attempt
        journal.finish("x", FAILED, {}, error="again")


def test_steps_are_independent(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "p")
    journal.start("x", "a", 1, "x")
    journal.finish("x", FAILED, {"r": 1})
    assert journal.start("y", "a", 1, "y") == {}
    assert journal.status("x") == FAILED
    assert journal.status("y") == STARTED


def test_every_write_leaves_valid_json_and_no_temp_files(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("x", "a", 1, "x")
    assert assert_clean(state)["steps"]["x"]["status"] == STARTED
    journal.checkpoint("x", {"n": 1})
    assert assert_clean(state)["steps"]["x"]["record"] == {"n": 1}
    journal.finish("x", SUCCEEDED, {"n": 2})
    assert assert_clean(state)["steps"]["x"]["status"] == SUCCEEDED
    journal.rolled_back("x", ["undone"])
    assert assert_clean(state)["steps"]["x"]["status"] == ROLLED_BACK
    journal.event("note", text="hi")
    assert assert_clean(state)["events"][0]["event"] == "note"
    assert files_in(state) == ["journal.json", "journal.json.prev", "journal.json.sha256"]


def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    atomic_write(path, "old\n")

    with pytest.raises(TypeError):
        atomic_write(path, 123)  # type: ignore[arg-type]
    assert path.read_text() == "old\n"
    assert files_in(tmp_path) == ["f.json"]


def test_corrupted_journal_raises_journal_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text('{"version": 2, "steps": {', encoding="utf-8")
    with pytest.raises(JournalError) as info:
        Journal(tmp_path, "p")
    assert info.value.exit_code == 1
    assert str(info.value).startswith(f"{path}: the journal cannot be read: not valid JSON")
    assert "no previous version is kept beside it" in str(info.value)


def test_a_json_file_that_is_no_journal_is_refused_with_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "journal.json").write_text('{"version": 7, "steps": {}, "events": []}')
    with pytest.raises(JournalError, match="expected version 1 or 2; found 7"):
        Journal(tmp_path, "p")
    (tmp_path / "journal.json").write_text('{"version": 2, "steps": {"a": 3}, "events": []}')
    with pytest.raises(JournalError, match="entries without a status: a"):
        Journal(tmp_path, "p")


def test_every_save_keeps_the_previous_good_version_and_names_it_when_corrupt(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path, "p")
    journal.start("x", "a", 1, "x")
    first = (tmp_path / "journal.json").read_text()
    journal.finish("x", SUCCEEDED, {"n": 1})
    assert (tmp_path / "journal.json.prev").read_text() == first
    second = (tmp_path / "journal.json").read_text()
    journal.event("note")
    assert (tmp_path / "journal.json.prev").read_text() == second

    (tmp_path / "journal.json").write_text("{torn")
    with pytest.raises(JournalError) as info:
        Journal(tmp_path, "p")
    assert f"previous good version is kept beside it as {tmp_path / 'journal.json.prev'}" in str(
        info.value
    )
    assert (tmp_path / "journal.json.prev").read_text() == second  # still there, unharmed


def test_entries_are_ordered_by_start_and_found_by_action(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "p")
    for step_id in ("verify-a", "mirror", "verify-b"):
        journal.start(step_id, "x", 1, step_id, action="verify" if "verify" in step_id else "")
        journal.finish(step_id, SUCCEEDED, {"id": step_id})
    journal.start("verify-a", "x", 1, "verify-a", action="verify")  # started again: newest
    journal.finish("verify-a", FAILED, {"id": "verify-a"})
    assert [k for k, _ in journal.ordered()] == ["mirror", "verify-b", "verify-a"]
    found = journal.latest_succeeded("verify")
    assert found is not None and found["id"] == "verify-b"


# --------------------------------------------------------------------------- #
# lock()
# --------------------------------------------------------------------------- #


def test_second_lock_in_the_same_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """flock is per open file description: a second open() conflicts even here."""
    first, second = Journal(tmp_path, "p"), Journal(tmp_path, "p")
    with first.lock():
        with pytest.raises(RefusedError) as info, second.lock():
            pytest.fail("second lock acquired")
        message = str(info.value)
        assert f"pid {os.getpid()}" in message
        assert whoami() in message
        assert str(tmp_path) in message
    # released: the next run may take it, and its lines replace the holder's
    with second.lock():
        text = (tmp_path / "lock").read_text(encoding="utf-8")
        assert text.count("\n") == 1
        assert text.startswith(f"pid {os.getpid()}")


def test_lock_held_by_another_process_is_refused(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from kmigrate.journal import Journal
        with Journal(Path({str(tmp_path)!r}), "p").lock():
            print("locked", flush=True)
            sys.stdin.readline()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(RefusedError) as info, Journal(tmp_path, "p").lock():
            pytest.fail("lock acquired while another process holds it")
        assert f"pid {child.pid}" in str(info.value)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    with Journal(tmp_path, "p").lock():  # released when the holder exits
        pass


def test_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state", "p")
    with pytest.raises(ValueError), journal.lock():
        raise ValueError("step failed")
    with Journal(tmp_path / "state", "p").lock():
        pass

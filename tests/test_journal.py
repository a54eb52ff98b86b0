"""Tests for kmigrate.journal: round trips, resume records, atomic writes, the run lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kmigrate.errors import PlanError, RefusedError
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
    assert journal.status("1.1") is None
    assert journal.entry("1.1") is None
    assert journal.events() == []
    assert not (state / "journal.json").exists()


def test_round_trip_through_a_fresh_journal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "plan-a")
    assert journal.start("2.1", 2, "provision", 1, "export-topics") == {}
    assert Journal(state, "plan-a").status("2.1") == STARTED

    journal.checkpoint("2.1", {"output": "snap.yaml", "topics": []})
    assert Journal(state, "plan-a").entry("2.1")["record"] == {"output": "snap.yaml", "topics": []}

    journal.finish("2.1", SUCCEEDED, {"output": "snap.yaml", "topics": ["a"]})
    journal.event("forced", phase=2, reason="window closed")

    reread = Journal(state, "other-name")  # the file wins over the constructor's name
    entry = reread.entry("2.1")
    assert entry is not None
    assert entry["status"] == SUCCEEDED
    assert entry["phase"] == 2
    assert entry["phase_name"] == "provision"
    assert entry["step"] == 1
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
    journal.start("1.1", 1, "prep", 1, "provision-topics")
    journal.finish("1.1", SUCCEEDED, {"created": ["t"]})
    journal.rolled_back("1.1", ["deleted target topic t"])
    entry = Journal(state, "p").entry("1.1")
    assert entry is not None
    assert entry["status"] == ROLLED_BACK
    assert entry["undone"] == ["deleted target topic t"]
    assert entry["rolled_back_by"] == whoami()
    assert entry["rolled_back_at"]
    assert entry["error"] is None


def test_failed_rollback_is_recorded(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("1.1", 1, "prep", 1, "provision-topics")
    journal.finish("1.1", SUCCEEDED, {"created": ["t"]})
    journal.rolled_back("1.1", [], error="target unreachable")
    entry = Journal(state, "p").entry("1.1")
    assert entry is not None
    assert entry["status"] == ROLLBACK_FAILED
    assert entry["error"] == "target unreachable"


def test_failure_error_round_trips(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("3.1", 3, "cutover", 1, "mirror")
    journal.finish("3.1", FAILED, {"partitions": [1]}, error="boom")
    entry = Journal(state, "p").entry("3.1")
    assert entry is not None
    assert (entry["status"], entry["error"]) == (FAILED, "boom")


def test_start_after_failure_returns_the_earlier_record(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Journal(state, "p").start("3.1", 3, "cutover", 1, "mirror")
    first = Journal(state, "p")
    first.finish("3.1", FAILED, {"partitions": [{"topic": "t", "records": 5}]}, error="x")

    again = Journal(state, "p")
    previous = again.start("3.1", 3, "cutover", 1, "mirror")
    assert previous == {"partitions": [{"topic": "t", "records": 5}]}
    entry = Journal(state, "p").entry("3.1")
    assert entry is not None
    assert entry["status"] == STARTED
    assert entry["attempts"] == 2
    assert entry["record"] == previous  # kept, so a crash now still has it
    assert entry["error"] is None
    assert entry["ended_at"] is None


def test_start_returns_a_copy(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "p")
    journal.start("1.1", 1, "a", 1, "x")
    journal.finish("1.1", FAILED, {"k": 1})
    previous = journal.start("1.1", 1, "a", 1, "x")
    previous["k"] = 2
    assert journal.entry("1.1")["record"] == {"k": 1}


def test_start_after_rolled_back_returns_empty(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("2.1", 2, "provision", 1, "provision-topics")
    journal.finish("2.1", SUCCEEDED, {"created": ["t"]})
    journal.rolled_back("2.1", ["deleted t"])

    previous = Journal(state, "p").start("2.1", 2, "provision", 1, "provision-topics")
    assert previous == {}
    entry = Journal(state, "p").entry("2.1")
    assert entry is not None
    assert entry["record"] == {}
    assert entry["attempts"] == 2


def test_attempts_increment(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "p")
    for attempt in range(1, 5):
        journal.start("1.1", 1, "a", 1, "x")
        assert Journal(tmp_path, "p").entry("1.1")["attempts"] == attempt
        journal.finish("1.1", FAILED, {}, error="again")


def test_steps_are_independent(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "p")
    journal.start("1.1", 1, "a", 1, "x")
    journal.finish("1.1", FAILED, {"r": 1})
    assert journal.start("1.2", 1, "a", 2, "y") == {}
    assert journal.status("1.1") == FAILED
    assert journal.status("1.2") == STARTED


def test_every_write_leaves_valid_json_and_no_temp_files(tmp_path: Path) -> None:
    state = tmp_path / "state"
    journal = Journal(state, "p")
    journal.start("1.1", 1, "a", 1, "x")
    assert assert_clean(state)["steps"]["1.1"]["status"] == STARTED
    journal.checkpoint("1.1", {"n": 1})
    assert assert_clean(state)["steps"]["1.1"]["record"] == {"n": 1}
    journal.finish("1.1", SUCCEEDED, {"n": 2})
    assert assert_clean(state)["steps"]["1.1"]["status"] == SUCCEEDED
    journal.rolled_back("1.1", ["undone"])
    assert assert_clean(state)["steps"]["1.1"]["status"] == ROLLED_BACK
    journal.event("note", text="hi")
    assert assert_clean(state)["events"][0]["event"] == "note"
    assert files_in(state) == ["journal.json"]


def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    atomic_write(path, "old\n")

    with pytest.raises(TypeError):
        atomic_write(path, 123)  # type: ignore[arg-type]
    assert path.read_text() == "old\n"
    assert files_in(tmp_path) == ["f.json"]


def test_corrupted_journal_raises_plan_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text('{"version": 1, "steps": {', encoding="utf-8")
    with pytest.raises(PlanError) as info:
        Journal(tmp_path, "p")
    assert str(path) in str(info.value)
    assert "journal" in str(info.value)


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

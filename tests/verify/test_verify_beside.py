"""The mirror step's ``verify: follow``: a following verify beside the plan's
following mirror, in its own process (:mod:`kmigrate.verify.beside`), whose
proof the plan's final verify reuses.  Real local brokers."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from kmigrate.verify.proof import Proof
from tests.conftest import Brokers, create_on_both, produce, write_plan
from tests.support.faults import kmigrate, start_kmigrate, status_steps
from tests.support.live_producer import LiveProducer
from tests.support.processes import wait_gone
from tests.verify.test_follow_verify import BLOCK, _facts, _records, _verify

PHASES = """\
phases:
  - name: copy
    steps:
      - action: mirror
        mode: follow
        until: {until}
        settle_s: 3
        verify: follow
  - name: verify
    steps:
      - action: verify
"""


def _descendants(pid: int) -> set[int]:
    """Every process under ``pid`` (Linux ``/proc/<pid>/task/*/children``)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        here = todo.pop()
        for task in Path(f"/proc/{here}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(kids - found)
            found |= kids
    return found


def _proven(state: Path) -> int:
    if not (state / "verify-proof.json").exists():
        return 0
    return sum(p.records for p in Proof.load(state).partitions.values())


def test_a_following_mirror_with_verify_beside_and_the_final_verify_reuses_its_proof(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A plan's mirror follows a live producer with ``verify: follow``: the
    verify runs beside it and stops with it; the mirror's record and output
    carry what it proved; the final verify step reuses that proof (reads
    fewer records than the topic holds) and gives the digests of ``--full``."""
    topic = f"{prefix}beside"
    create_on_both(brokers, topic, 2)
    produce(brokers.source, topic, _records(3000, partitions=2))
    plan = write_plan(tmp_path, brokers, [topic], PHASES.format(until="caught-up"))
    live = LiveProducer(brokers.source, topic, [0, 1], 4000, 2000, timestamp_base=1_700_000_100_000)
    live.start()
    done = kmigrate("execute", str(plan), "--phase", "copy", cwd=tmp_path, timeout_s=300)
    live.join(60)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "verify beside: source offsets proven" in out and "(stopped (mirror ended))" in out
    mirrored = next(s for s in status_steps(plan) if s["action"] == "mirror")
    seen = mirrored["record"]["verify"]
    assert seen["ended"] == "stopped (mirror ended)" and seen["difference"] is None, seen
    assert seen["rounds"] >= 1 and sum(seen["proven_offsets"].values()) >= 2 * BLOCK, seen
    state = tmp_path / "state"
    proof = Proof.load(state)
    assert [p["kind"] for p in proof.passes] == ["follow"]
    # The proof keeps whole blocks of 1,024 records; the last round may have
    # proven further (to the end of equal reads), which the next pass reads again.
    proven = _proven(state)
    assert 2 * BLOCK <= proven <= sum(seen["proven_offsets"].values())

    done = kmigrate("execute", str(plan), "--phase", "verify", cwd=tmp_path, timeout_s=300)
    assert done.returncode == 0, done.stdout + done.stderr
    reused = json.loads((state / "reports" / "verify.json").read_text())
    assert reused["summary"]["source_records"] == 7000
    assert reused["proof"]["reused_records"] == proven
    assert reused["proof"]["read_records"] == 7000 - reused["proof"]["reused_records"]
    assert f"reused {reused['proof']['reused_records']:,} records proven earlier" in done.stdout
    rc, out_full, full = _verify(brokers, topic, tmp_path, "--state-dir", str(state), "--full")
    assert rc == 0, out_full
    assert "proof" not in full
    assert _facts(reused) == _facts(full)


def test_kill_9_of_execute_leaves_no_verify_process_and_a_rerun_resumes_the_proof(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """``kill -9`` of ``execute`` while its mirror follows with ``verify:
    follow``: every process under it (the verify beside, the copy workers) is
    gone within seconds; the rerun keeps the proven ranges of the first pass
    and adds a second follow pass; the final verify reuses both."""
    topic = f"{prefix}beside9"
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, _records(3 * BLOCK + 100))
    plan = write_plan(tmp_path, brokers, [topic], PHASES.format(until="stopped"))
    state = tmp_path / "state"
    proc = start_kmigrate("execute", str(plan), "--phase", "copy", cwd=tmp_path)
    deadline = time.monotonic() + 90
    under: set[int] = set()
    while time.monotonic() < deadline and _proven(state) < 2 * BLOCK:
        under |= _descendants(proc.pid)
        time.sleep(0.1)
    assert _proven(state) >= 2 * BLOCK, proc.poll()
    under |= _descendants(proc.pid)
    assert under, "the verify runs in a process of its own"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not wait_gone(list(under), 15), "orphaned processes after kill -9"
    first = Proof.load(state)
    first_ranges = first.partitions[(topic, 0)].ranges

    produce(brokers.source, topic, _records(BLOCK, start=3 * BLOCK + 100))
    again = start_kmigrate("execute", str(plan), "--phase", "copy", cwd=tmp_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _proven(state) < 4 * BLOCK:
        time.sleep(0.1)
    time.sleep(0.5)
    again.send_signal(signal.SIGTERM)
    out = again.communicate(timeout=120)[0]
    assert again.returncode == 0, out
    assert "(stopped (mirror ended))" in out, out
    proof = Proof.load(state)
    assert [p["kind"] for p in proof.passes] == ["follow", "follow"]
    ranges = proof.partitions[(topic, 0)].ranges
    assert ranges[: len(first_ranges)] == first_ranges
    assert {r["pass"] for r in ranges} == {1, 2}
    assert _proven(state) == 4 * BLOCK

    done = kmigrate("execute", str(plan), "--phase", "verify", cwd=tmp_path, timeout_s=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((state / "reports" / "verify.json").read_text())
    assert report["summary"]["source_records"] == 4 * BLOCK + 100
    assert report["proof"]["reused_records"] == 4 * BLOCK
    assert report["proof"]["read_records"] == 100


def test_verify_follow_on_a_snapshot_mirror_is_refused_naming_file_line_and_key(
    tmp_path: Path,
) -> None:
    """``verify: follow`` on a mirror without ``mode: follow``: exit 2, the
    message names the plan file, the line and ``verify``; no traceback."""
    from click.testing import CliRunner

    from kmigrate.cli import cli
    from tests.conftest import offline_plan_head

    path = tmp_path / "plan.yaml"
    path.write_text(
        offline_plan_head("beside")
        + "phases:\n  - name: copy\n    steps:\n      - action: mirror\n        verify: follow\n"
    )
    line = path.read_text().splitlines().index("        verify: follow") + 1
    result = CliRunner().invoke(cli, ["plan", str(path), "--offline"])
    assert result.exit_code == 2, result.output
    assert f"plan.yaml:{line}:" in result.output and "verify" in result.output, result.output
    assert "needs mode: follow" in result.output
    assert "Traceback" not in result.output


def test_a_difference_found_beside_the_mirror_is_reported_and_the_final_verify_fails(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Copied records changed on the target before they were proven (the target
    topic re-created and refilled with record 100 changed; test set-up): the
    verify beside the following mirror finds the difference, the mirror step
    warns naming it and journals it, and the plan's final verify fails on the
    same offsets."""
    from tests.verify.test_follow_verify import _mirror, _recreate

    topic = f"{prefix}besidediff"
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, _records(2500))
    state = tmp_path / "state"
    _mirror(brokers, topic, state, tmp_path)
    _recreate(brokers.target, topic)
    changed = _records(2500)
    changed[100] = {**changed[100], "value": b"changed"}
    produce(brokers.target, topic, changed)
    plan = write_plan(tmp_path, brokers, [topic], PHASES.format(until="caught-up"))
    done = kmigrate("execute", str(plan), "--phase", "copy", cwd=tmp_path, timeout_s=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "DIFFERENCE" in out and f"{topic}[0] at source offset 100" in out, out
    mirrored = next(s for s in status_steps(plan) if s["action"] == "mirror")
    seen = mirrored["record"]["verify"]
    assert seen["ended"] == "failed" and "source offset 100" in seen["difference"], seen
    done = kmigrate("execute", str(plan), "--phase", "verify", cwd=tmp_path, timeout_s=300)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((state / "reports" / "verify.json").read_text())
    first = report["partitions"][0]["first_difference"]
    assert (first["source_offset"], first["target_offset"]) == (100, 100), first

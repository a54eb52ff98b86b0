"""Continuous verification (``kmigrate verify --follow``) and the final verify
that reuses its proven ranges (``--state-dir``), on real brokers.

Each test compares the reusing verify against a full one (``--full``) on the
same data: same verdict, same per-partition counts, offsets and digests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kmigrate.verify.proof import FILE_NAME, Proof
from tests.conftest import (
    _DEFAULT_RF,
    Brokers,
    create_on_both,
    produce,
    source_and_target,
)
from tests.support.faults import kmigrate, start_kmigrate
from tests.support.live_producer import LiveProducer

#: Records of 1,024 make a digest block: tests hold several blocks per partition.
BLOCK = 1024


def _records(n: int, start: int = 0, partitions: int = 1) -> list[dict[str, object]]:
    return [
        {
            "key": f"k{i}".encode(),
            "value": f"value-{i}".encode() * 3,
            "headers": [("seq", str(i).encode())],
            "partition": i % partitions,
            "timestamp": 1_700_000_000_000 + i,
        }
        for i in range(start, start + n)
    ]


def _verify(brokers: Brokers, topic: str, cwd: Path, *extra: str) -> tuple[int, str, Any]:
    """``kmigrate verify`` of ``topic`` with a JSON report: (exit code, output, report)."""
    report = cwd / f"verify-{time.monotonic_ns()}.json"
    done = kmigrate(
        "verify",
        *source_and_target(brokers),
        "--topic",
        topic,
        "--report",
        str(report),
        *extra,
        cwd=cwd,
        timeout_s=300,
    )
    data = json.loads(report.read_text()) if report.exists() else None
    return done.returncode, done.stdout + done.stderr, data


def _facts(data: Any) -> list[tuple[Any, ...]]:
    """Per partition: what a full verify and a reusing one must agree on."""
    return sorted(
        (
            p["topic"],
            p["partition"],
            p["match"],
            p["source"]["records"],
            p["source"]["first_offset"],
            p["source"]["last_offset"],
            p["source"]["digest"],
            p["target"]["records"],
            p["target"]["first_offset"],
            p["target"]["last_offset"],
            p["target"]["digest"],
        )
        for p in data["partitions"]
    )


def _on(brokers: Brokers, topic: str, state: Path, *extra: str) -> list[str]:
    """The arguments of a ``mirror`` or ``verify`` of ``topic`` between the test
    brokers, keeping its state in ``state``, then ``extra``."""
    return [*source_and_target(brokers), "--topic", topic, "--state-dir", str(state), *extra]


def _start_following(
    command: str, brokers: Brokers, topic: str, state: Path, cwd: Path, *extra: str
) -> subprocess.Popen[str]:
    """``kmigrate mirror|verify --follow`` of ``topic``, started in the background."""
    return start_kmigrate(command, *_on(brokers, topic, state, "--follow", *extra), cwd=cwd)


def _mirror(brokers: Brokers, topic: str, state: Path, cwd: Path) -> None:
    done = kmigrate("mirror", *_on(brokers, topic, state), cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr


def _run_follow(
    brokers: Brokers, topic: str, state: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """A following verify of ``topic`` until caught up (``--settle-s 0``), to its end."""
    return kmigrate(
        "verify", *_on(brokers, topic, state, "--follow", "--settle-s", "0"), cwd=cwd, timeout_s=300
    )


def _follow(brokers: Brokers, topic: str, state: Path, cwd: Path) -> str:
    """:func:`_run_follow`, which must exit 0; its output."""
    done = _run_follow(brokers, topic, state, cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _mirrored_topic(brokers: Brokers, topic: str, tmp_path: Path, n: int) -> Path:
    """``topic`` (1 partition, ``n`` records) created on both and mirrored; the state dir."""
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, _records(n))
    state = tmp_path / "state"
    _mirror(brokers, topic, state, tmp_path)
    return state


def test_follow_verify_with_a_live_producer_reaches_the_digests_of_a_full_verify(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A following mirror and a following verify run while a producer writes;
    once both caught up, the final verify reuses the proof (reads less than
    all) and gives the same verdict, counts, offsets and digests as a full
    verify and as a plain verify without any state."""
    topic = f"{prefix}live"
    create_on_both(brokers, topic, 2)
    produce(brokers.source, topic, _records(3000, partitions=2))
    state = tmp_path / "state"
    live = LiveProducer(brokers.source, topic, [0, 1], 4000, 2000, timestamp_base=1_700_000_100_000)
    live.start()
    mirror = _start_following("mirror", brokers, topic, state, tmp_path, "--settle-s", "3")
    time.sleep(1.0)  # the mirror makes the state dir and its first map
    follow = _start_following("verify", brokers, topic, state, tmp_path, "--settle-s", "3")
    live.join(60)
    mirror_out, _ = mirror.communicate(timeout=120)
    follow_out, _ = follow.communicate(timeout=120)
    assert mirror.returncode == 0, mirror_out
    assert follow.returncode == 0, follow_out
    assert "caught up" in follow_out and "proof: " in follow_out, follow_out
    proof = Proof.load(state)
    assert sum(p.records for p in proof.partitions.values()) >= 6 * BLOCK

    rc, out, reused = _verify(brokers, topic, tmp_path, "--state-dir", str(state))
    assert rc == 0, out
    assert reused["proof"]["reused_records"] >= 6 * BLOCK
    assert reused["proof"]["read_records"] < reused["summary"]["source_records"]
    assert all(p["proven"]["ranges"] for p in reused["partitions"])
    rc_full, out_full, full = _verify(brokers, topic, tmp_path, "--state-dir", str(state), "--full")
    assert rc_full == 0, out_full
    assert "proof" not in full
    _rc, _out, plain = _verify(brokers, topic, tmp_path)
    assert full["summary"]["source_records"] == 7000
    assert _facts(reused) == _facts(full) == _facts(plain)


def test_kill_9_of_a_following_verify_at_several_points_resumes_to_the_same_result(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A following verify killed with SIGKILL at several points (each time more
    records came and were mirrored) leaves a valid proof each time; resumed to
    the end, the final verify gives what a full verify gives."""
    topic = f"{prefix}kill"
    create_on_both(brokers, topic, 2)
    state = tmp_path / "state"
    produced = 0
    proven: list[int] = []
    for delay in (0.4, 1.0, 1.8, 3.0):
        produce(brokers.source, topic, _records(20_000, produced, partitions=2))
        produced += 20_000
        _mirror(brokers, topic, state, tmp_path)
        run = _start_following("verify", brokers, topic, state, tmp_path, "--until", "stopped")
        time.sleep(delay)
        os.kill(run.pid, signal.SIGKILL)
        run.communicate(timeout=30)
        assert run.returncode == -signal.SIGKILL
        if (state / FILE_NAME).exists():
            proof = Proof.load(state)  # whole, never torn
            proven.append(sum(p.records for p in proof.partitions.values()))
            assert proven[-1] % BLOCK == 0
    assert proven == sorted(proven), proven  # a proof only grows
    _follow(brokers, topic, state, tmp_path)
    rc, out, reused = _verify(brokers, topic, tmp_path, "--state-dir", str(state))
    assert rc == 0, out
    assert reused["proof"]["reused_records"] > 0
    _rc, out_full, full = _verify(brokers, topic, tmp_path, "--state-dir", str(state), "--full")
    assert full["summary"]["source_records"] == produced, out_full
    assert _facts(reused) == _facts(full)


def test_sigterm_stops_a_following_verify_cleanly_and_it_goes_on_from_there(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """SIGTERM: exit 0, "stopped by operator (SIGTERM)", the proof saved; the
    next following verify goes on from it (its first pass's ranges kept)."""
    topic = f"{prefix}term"
    state = _mirrored_topic(brokers, topic, tmp_path, 5000)
    run = _start_following("verify", brokers, topic, state, tmp_path, "--until", "stopped")
    deadline = time.monotonic() + 60
    while not (state / FILE_NAME).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    run.send_signal(signal.SIGTERM)
    out, _ = run.communicate(timeout=60)
    assert run.returncode == 0, out
    assert "stopped by operator (SIGTERM)" in out
    assert Proof.load(state).partitions[(topic, 0)].records == 4 * BLOCK
    assert oct((state / FILE_NAME).stat().st_mode & 0o777) == oct(0o600)
    _follow(brokers, topic, state, tmp_path)
    rc, out, reused = _verify(brokers, topic, tmp_path, "--state-dir", str(state))
    assert rc == 0, out
    assert reused["proof"]["read_records"] == 5000 - 4 * BLOCK
    ranges = reused["partitions"][0]["proven"]["ranges"]
    assert [r["kind"] for r in ranges][:1] == ["follow"]


def _recreate(bootstrap: str, topic: str) -> None:
    """Delete ``topic`` and create it again, empty (test set-up)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([topic])[topic].result()
    deadline = time.monotonic() + 60
    while True:
        try:
            rf = _DEFAULT_RF.get(bootstrap, 1)
            admin.create_topics([NewTopic(topic, 1, rf)])[topic].result()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _proven_topic(brokers: Brokers, topic: str, tmp_path: Path, n: int = 2500) -> Path:
    """``topic`` (1 partition, ``n`` records) mirrored and proven by a following verify."""
    state = _mirrored_topic(brokers, topic, tmp_path, n)
    _follow(brokers, topic, state, tmp_path)
    assert Proof.load(state).partitions[(topic, 0)].records == (n // BLOCK) * BLOCK
    return state


def test_a_target_topic_recreated_under_a_proven_range_is_caught(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The target topic deleted and re-created (empty) after its records were
    proven: the final verify does not take the proof, names the re-creation and
    fails, as a full verify fails."""
    topic = f"{prefix}recreated"
    state = _proven_topic(brokers, topic, tmp_path)
    _recreate(brokers.target, topic)
    rc, out, data = _verify(brokers, topic, tmp_path, "--state-dir", str(state))
    assert rc == 1, out
    assert "re-created" in out, out
    assert not data["partitions"][0]["match"]
    rc_full, _out, _full = _verify(brokers, topic, tmp_path, "--state-dir", str(state), "--full")
    assert rc_full == 1


def test_a_record_changed_inside_a_proven_range_by_re_creation_is_caught_by_topic_id(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The target topic re-created and refilled with the same records but one
    inside the proven range changed (offset 100; the last proven record the
    same): the topic id (KIP-516) names the re-creation, the proof is dropped and
    the partition read whole, so the changed record is named as a full verify
    names it.  (On a broker without topic ids this case is not caught: the
    proof module says so.)"""
    topic = f"{prefix}changed"
    state = _proven_topic(brokers, topic, tmp_path)
    _recreate(brokers.target, topic)
    again = _records(2500)
    again[100] = {**again[100], "value": b"changed"}
    produce(brokers.target, topic, again)
    rc, out, data = _verify(brokers, topic, tmp_path, "--state-dir", str(state))
    assert rc == 1, out
    assert "topic id" in out, out
    first = data["partitions"][0]["first_difference"]
    assert (first["source_offset"], first["target_offset"]) == (100, 100), first
    _rc, _out, full = _verify(brokers, topic, tmp_path, "--state-dir", str(state), "--full")
    assert data["partitions"][0]["first_difference"] == full["partitions"][0]["first_difference"]


def test_a_source_log_start_passing_unproven_records_is_caught_and_named(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """DeleteRecords (test set-up) moves the source's log start to 2300 while the
    proof holds 2048 records: 2048..2299 were never proven and can no longer be
    read; the final verify fails and names them."""
    if not brokers.real:
        pytest.skip("Tansu has no DeleteRecords (sandbox-broker.md fact 7); --broker apache-kafka")
    topic = f"{prefix}lso"
    state = _proven_topic(brokers, topic, tmp_path)
    admin = AdminClient({"bootstrap.servers": brokers.source})
    for fut in admin.delete_records([TopicPartition(topic, 0, 2300)]).values():
        fut.result()
    rc, out, data = _verify(brokers, topic, tmp_path, "--state-dir", str(state))
    assert rc == 1, out
    assert "source log start offset 2300 passed unproven records at offsets 2048..2299" in out
    assert data["partitions"][0]["first_difference"]["source_offset"] == 2048


def test_a_plan_follows_with_verify_mode_follow_and_its_final_verify_reuses_the_proof(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A plan: mirror, then a verify step with ``mode: follow`` (until caught
    up), then the final verify: it reads only the records past the proven
    blocks, journals how many it reused, and the evidence report (HTML and
    JSON) shows per partition which ranges were proven, when and by which pass."""
    from tests.conftest import write_plan

    topic = f"{prefix}plan"
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, _records(2500))
    phases = """\
phases:
  - name: mirror
    steps:
      - action: mirror
  - name: follow
    steps:
      - action: verify
        id: follow-verify
        mode: follow
        settle_s: 0
  - name: verify
    steps:
      - action: verify
"""
    plan = write_plan(tmp_path, brokers, [topic], phases)
    for phase in ("1", "2", "3"):
        done = kmigrate("execute", str(plan), "--phase", phase, cwd=tmp_path, timeout_s=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "reused 2,048 records proven earlier" in done.stdout, done.stdout
    report = json.loads((tmp_path / "state" / "reports" / "verify.json").read_text())
    assert report["proof"]["read_records"] == 2500 - 2048
    part = report["partitions"][0]
    assert part["match"] and part["source"]["records"] == 2500
    assert [(r["kind"], r["records"], r["source"]) for r in part["proven"]["ranges"]] == [
        ("follow", 2048, [0, 2048])
    ]
    done = kmigrate("report", str(plan), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    evidence = json.loads((tmp_path / "state" / "reports" / "evidence.json").read_text())
    assert evidence["verdict"]["verdict"] == "VERIFIED", evidence["verdict"]
    html = (tmp_path / "state" / "reports" / "evidence.html").read_text()
    assert "proven:" in html and "(follow)" in html and "source [0, 2048)" in html


def test_the_fast_digest_equals_the_record_by_record_chained_digest(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Over several blocks, verify's raw-message digest (the chained encoding fed
    field by field) equals :class:`ChainedDigest` fed the records one by one."""
    from kmigrate.verify.digest import ChainedDigest
    from tests.conftest import read_all

    topic = f"{prefix}fast"
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, _records(2 * BLOCK + 7))
    produce(brokers.target, topic, _records(2 * BLOCK + 7))
    rc, out, data = _verify(brokers, topic, tmp_path)
    assert rc == 0, out
    chained = ChainedDigest()
    for record in read_all(brokers.source, topic, 1):
        chained.add(record)
    assert data["partitions"][0]["source"]["digest"] == chained.hexdigest()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--until", "caught-up"], "--until needs --follow"),
        (["--settle-s", "2"], "--settle-s needs --follow"),
        (["--full"], "--full needs --state-dir"),
    ],
)
def test_follow_options_without_follow_are_refused_before_connecting(
    args: list[str], said: str
) -> None:
    """Exit 2 naming the option; no cluster is asked (the addresses do not exist)."""
    from click.testing import CliRunner

    from kmigrate.cli import cli

    done = CliRunner().invoke(
        cli, ["verify", "--source", "nowhere.invalid:9092", "--target", "x.invalid:9092", *args]
    )
    assert done.exit_code == 2, done.output
    assert said in done.output


def test_without_an_offset_map_follow_pairs_in_order_and_names_a_difference(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """No mirror (no offset map in the state dir): a following verify pairs the
    n-th source record with the n-th target record, as a plain verify does, and
    the final verify reuses it to the same digests; a record that differs in a
    later block fails the following verify naming its offsets, with the blocks
    before it kept proven."""
    topic = f"{prefix}inorder"
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, _records(3000))
    produce(brokers.target, topic, _records(3000))
    state = tmp_path / "state"
    _follow(brokers, topic, state, tmp_path)
    assert not Proof.load(state).partitions[(topic, 0)].aligned
    assert Proof.load(state).partitions[(topic, 0)].records == 2 * BLOCK, (
        state / FILE_NAME
    ).read_text()
    rc, out, reused = _verify(brokers, topic, tmp_path, "--state-dir", str(state))
    assert rc == 0, out
    assert reused["proof"]["read_records"] == 3000 - 2 * BLOCK, out
    _rc, _out, plain = _verify(brokers, topic, tmp_path)
    assert _facts(reused) == _facts(plain)

    produce(brokers.source, topic, _records(1000, 3000))
    changed = _records(1000, 3000)
    changed[500] = {**changed[500], "value": b"other"}
    produce(brokers.target, topic, changed)
    done = _run_follow(brokers, topic, state, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "at source offset 3500, target offset 3500 (value differs)" in done.stdout + done.stderr
    assert Proof.load(state).partitions[(topic, 0)].records == 3 * BLOCK

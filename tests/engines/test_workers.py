"""Worker processes (issue 7): a mirror sharded over processes survives ``kill -9``
of a worker or of the parent, and the resume leaves the target exact: every
source record once, in order, nothing else.  Against the real local brokers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.cli import cli
from kmigrate.engines.workers import shards
from tests.conftest import Brokers, create_on_both, produce, read_all, source_and_target
from tests.support.processes import wait_gone, worker_pids

pytestmark = pytest.mark.broker

PARTITIONS = 4
RECORDS = 240_000


def _seed(brokers: Brokers, topic: str) -> None:
    create_on_both(brokers, topic, PARTITIONS)
    produce(
        brokers.source,
        topic,
        [
            {
                "key": b"k%d" % i,
                "value": b"v%07d" % i,
                "partition": i % PARTITIONS,
                "timestamp": 1_700_000_000_000 + i,
                **({"headers": [("n", b"%d" % i), ("n", None)]} if i % 1000 == 0 else {}),
            }
            for i in range(RECORDS)
        ],
    )


def _mirror(brokers: Brokers, topic: str, state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kmigrate", "mirror", "--source", brokers.source]
        + ["--target", brokers.target, "--topic", topic, "--state-dir", str(state)]
        + ["--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_copies(brokers: Brokers, topic: str, proc: subprocess.Popen[str]) -> list[int]:
    """Until the target holds some copies while the workers run (mid-copy); returns
    the worker pids.  The workers are looked for on every round, so a fast copy is
    caught while they live (one reader for the target's offsets, not one per round).
    Skips when the mirror ended by itself before that moment came."""
    target = KafkaCluster("target", brokers.target)
    tps = [(topic, p) for p in range(PARTITIONS)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        workers = worker_pids(proc.pid)
        if len(workers) == 2:
            copied = sum(high for _low, high in target.watermark_offsets(tps).values())
            if copied >= RECORDS // 10 and proc.poll() is None:
                return workers
        time.sleep(0.01)
    if proc.poll() == 0:
        pytest.skip("the mirror finished before it could be killed")
    pytest.fail(f"the mirror ended or stalled before copying: {proc.poll()}")


def _assert_exact(brokers: Brokers, topic: str, state: Path) -> None:
    """Per partition the target holds the source's records once, in order, and
    the offset map lists every one of them."""

    def fields(bootstrap: str) -> dict[int, list[tuple[object, ...]]]:
        out: dict[int, list[tuple[object, ...]]] = {}
        for r in read_all(bootstrap, topic, PARTITIONS):
            out.setdefault(r.partition, []).append((r.key, r.value, r.headers, r.timestamp_ms))
        return out

    source, target = fields(brokers.source), fields(brokers.target)
    for p in range(PARTITIONS):
        assert len(target[p]) == len(source[p]) == RECORDS // PARTITIONS, p
        assert target[p] == source[p], f"partition {p} differs"
    omap = json.loads((state / "offset-map.json").read_text())
    assert sum(part["records"] for part in omap["partitions"]) == RECORDS


def _resume(brokers: Brokers, topic: str, state: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["mirror", *source_and_target(brokers), "--topic", topic]
        + ["--state-dir", str(state), "--workers", "2"],
    )
    assert result.exit_code == 0, result.output


def test_shards_deal_partitions_round_robin_and_never_leave_one_empty() -> None:
    parts = [("t", p) for p in range(5)]
    assert shards(parts, 2) == [[("t", 0), ("t", 2), ("t", 4)], [("t", 1), ("t", 3)]]
    assert shards(parts[:1], 4) == [[("t", 0)]]
    assert shards([], 3) == [[]]


def test_a_worker_killed_with_sigkill_fails_the_mirror_and_a_rerun_resumes_exactly(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """kill -9 of one worker mid-copy: the mirror stops with exit 1 naming the
    worker; running it again leaves every record on the target exactly once,
    in order (0 lost, 0 duplicated), with the offset map listing all."""
    topic = f"{prefix}workers"
    _seed(brokers, topic)
    state = tmp_path / "state"
    proc = _mirror(brokers, topic, state)
    workers = _wait_for_copies(brokers, topic, proc)
    os.kill(workers[0], signal.SIGKILL)
    out = proc.communicate(timeout=120)[0]

    assert proc.returncode == 1, out
    assert f"(pid {workers[0]}) died" in out
    _resume(brokers, topic, state)
    _assert_exact(brokers, topic, state)


def test_the_parent_killed_with_sigkill_takes_its_workers_and_a_rerun_resumes_exactly(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """kill -9 of the mirror process itself: its workers die with it (none
    goes on writing while an operator re-runs at once); running the mirror
    again immediately leaves the target exact."""
    topic = f"{prefix}parent"
    _seed(brokers, topic)
    state = tmp_path / "state"
    proc = _mirror(brokers, topic, state)
    workers = _wait_for_copies(brokers, topic, proc)
    proc.kill()
    proc.communicate(timeout=30)
    alive = wait_gone(workers, 2.0)
    assert not alive, f"workers still running after their parent died: {alive}"
    _resume(brokers, topic, state)
    _assert_exact(brokers, topic, state)


def test_verify_over_worker_processes_gives_the_digests_of_one_process_and_finds_a_difference(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """``verify --workers 3`` (each side of each shard in a process of its own)
    reports the same counts and digests as ``--workers 1`` (two threads), and
    both name the partition where the target holds one record more."""
    topic = f"{prefix}verify"
    create_on_both(brokers, topic, 3)
    records = [
        {"key": b"k%d" % i, "value": b"v%d" % i, "partition": i % 3, "timestamp": 1000 + i}
        for i in range(3000)
    ]
    produce(brokers.source, topic, records)
    produce(brokers.target, topic, records)

    def verify(workers: int, report: Path) -> tuple[int, list[tuple[object, ...]]]:
        result = CliRunner().invoke(
            cli,
            ["verify", *source_and_target(brokers)]
            + ["--topic", topic, "--report", str(report), "--workers", str(workers)],
        )
        data = json.loads(report.read_text())
        rows = [
            (
                p["partition"],
                p["match"],
                p["source"]["records"],
                p["source"]["digest"],
                p["target"]["records"],
                p["target"]["digest"],
            )
            for p in data["partitions"]
        ]
        return result.exit_code, rows

    one = verify(1, tmp_path / "one.json")
    three = verify(3, tmp_path / "three.json")
    assert one == three
    assert one[0] == 0 and all(row[1] for row in one[1])

    produce(brokers.target, topic, [{"value": b"extra", "partition": 1}])
    one = verify(1, tmp_path / "one-bad.json")
    three = verify(3, tmp_path / "three-bad.json")
    assert one == three
    assert one[0] == 1
    assert [row[0] for row in one[1] if not row[1]] == [1]


def test_the_plan_takes_workers_on_mirror_and_verify_and_refuses_zero(tmp_path: Path) -> None:
    """``workers:`` on the mirror and verify steps is read into the step; 0 is
    refused at load (exit 2) naming the file, line and key."""
    from kmigrate.errors import PlanError
    from kmigrate.plan.loader import load_plan

    def plan(workers: str) -> Path:
        path = tmp_path / "plan.yaml"
        path.write_text(
            "version: 1\nname: w\nstate_dir: state\nclusters:\n"
            "  source: {type: kafka, bootstrap_servers: 127.0.0.1:1}\n"
            "  target: {type: kafka, bootstrap_servers: 127.0.0.1:2}\n"
            "topics: {include: ['*']}\nphases:\n  - name: mirror\n    steps:\n"
            f"      - action: mirror\n        workers: {workers}\n"
            "      - action: verify\n        workers: 3\n",
            encoding="utf-8",
        )
        return path

    steps = load_plan(plan("4")).model.phases[0].steps
    assert [getattr(s, "workers", None) for s in steps] == [4, 3]
    with pytest.raises(PlanError) as info:
        load_plan(plan("0"))
    assert info.value.exit_code == 2
    assert "plan.yaml:12: phases[1].steps[1].workers: " in str(info.value)


class _Msg:
    """A stand-in for a consumed message (the getters copy_batch calls)."""

    def __init__(self, partition: int, offset: int, error: object = None) -> None:
        self._p, self._o, self._e = partition, offset, error

    def error(self) -> object:
        return self._e

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def key(self) -> bytes | None:
        return None if self._o % 2 else b"k"

    def value(self) -> bytes:
        return b"v" * 10

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return [("h", None)] if self._o == 7 else None

    def timestamp(self) -> tuple[int, int]:
        return (1, 1000 + self._o)


def test_copy_batch_produces_every_record_as_read_and_tallies_contiguous_runs() -> None:
    """The mirror's per-record path, at the producer boundary (a stand-in
    producer records the calls): every record keeps partition, key, value,
    headers and timestamp, in order; per partition the tally has one run per
    stretch of contiguous source offsets; events are handed back, not produced;
    the writer is told how many records each partition queued."""
    from types import SimpleNamespace

    from kmigrate.adapters.kafka import copy_batch

    produced: list[tuple[object, ...]] = []

    def produce(topic: str, value: bytes, key: bytes | None, partition: int, **kw: object) -> None:
        produced.append((topic, partition, key, value, kw["headers"], kw["timestamp"]))

    counted: list[tuple[tuple[str, int], int]] = []
    writer = SimpleNamespace(
        _fatal=None, _producer=SimpleNamespace(produce=produce), count_queued=counted.extend
    )
    eof = _Msg(1, 9, error="EOF")
    msgs = [_Msg(0, 5), _Msg(0, 6), _Msg(1, 3), _Msg(0, 7), _Msg(0, 9), eof, _Msg(1, 4)]
    tally, events, refused = copy_batch(writer, msgs)  # type: ignore[arg-type]

    assert events == [eof]
    assert refused is None
    assert [(p[1], p[5]) for p in produced] == [(0, 1005), (0, 1006), (1, 1003), (0, 1007)] + [
        (0, 1009),
        (1, 1004),
    ]
    assert produced[1] == ("t", 0, b"k", b"v" * 10, None, 1006)
    assert produced[3] == ("t", 0, None, b"v" * 10, [("h", None)], 1007)
    assert tally[("t", 0)][0] == [[5, 3], [9, 1]]  # 5-7, then a gap at 8
    assert tally[("t", 1)][0] == [[3, 2]]
    # records, bytes (key + value + header names and values), last timestamp
    assert tally[("t", 0)][1:] == [4, 10 + 11 + (10 + 1) + 10, 1009]
    # the writer is told what produce() took, per partition (RecordWriter.delivered)
    assert sorted(counted) == [(("t", 0), 4), (("t", 1), 2)]


def _start_spawned_with_main(script: Path, lean: bool) -> None:
    """Start a ``spawn`` process while ``script`` is this process's ``__main__``."""
    import multiprocessing
    import types

    from kmigrate.engines.workers import lean_spawn

    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = fake_main
    try:
        proc = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
        if lean:
            with lean_spawn():
                proc.start()
        else:
            proc.start()
    finally:
        sys.modules["__main__"] = saved
    proc.join(30)
    assert proc.exitcode == 0


def test_worker_processes_start_without_re_running_the_main_script(tmp_path: Path) -> None:
    """A ``spawn`` child re-runs the parent's ``__main__`` script (for the
    ``kmigrate`` console script: the whole CLI's imports) unless started under
    ``lean_spawn``; the control start without it shows the script does run."""
    for lean in (True, False):
        marker = tmp_path / f"ran-{lean}"
        script = tmp_path / f"main_{lean}.py"
        script.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n")
        _start_spawned_with_main(script, lean)
        assert marker.exists() is (not lean), f"lean={lean}"
    assert sys.modules["__main__"].__name__ == "__main__"


def _still_running(procs: list[object]) -> list[object]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(p.is_alive() for p in procs):  # type: ignore[attr-defined]
        time.sleep(0.05)
    return [p for p in procs if p.is_alive()]  # type: ignore[attr-defined]


def test_prestarted_workers_are_used_by_the_copy_and_exit_after_it(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The mirror step prestarts its worker processes (each starts its
    producer at once) before its lookups; the copy hands each one a shard
    instead of starting new ones, so the processes that copied are exactly
    the prestarted ones, and they have exited when the mirror returns."""
    import multiprocessing

    from kmigrate.engines import workers as workers_mod

    started: list[list[object]] = []
    real_prestart = workers_mod.WorkerEngine.prestart

    def spy(
        self: workers_mod.WorkerEngine, partitions: list, target: object, follow: bool = False
    ) -> int:
        n = real_prestart(self, partitions, target, follow)
        started.append([w[-1] for w in self._warm])
        return n

    topic = f"{prefix}warm"
    create_on_both(brokers, topic, PARTITIONS)
    produce(
        brokers.source,
        topic,
        [{"key": b"k%d" % i, "value": b"v%d" % i, "partition": i % PARTITIONS} for i in range(400)],
    )
    before = set(multiprocessing.active_children())
    mp = pytest.MonkeyPatch()
    mp.setattr(workers_mod.WorkerEngine, "prestart", spy)
    try:
        result = CliRunner().invoke(
            cli,
            ["mirror", *source_and_target(brokers)]
            + ["--topic", topic, "--state-dir", str(tmp_path / "s"), "--workers", "2"],
        )
    finally:
        mp.undo()
    assert result.exit_code == 0, result.output
    assert len(started) == 1 and len(started[0]) == 2
    assert [p.exitcode for p in started[0]] == [0, 0]  # type: ignore[attr-defined]
    assert set(multiprocessing.active_children()) <= before
    got = read_all(brokers.target, topic, PARTITIONS)
    assert sorted(r.value for r in got) == sorted(b"v%d" % i for i in range(400))


def test_prestarted_workers_exit_when_no_copy_needs_them(brokers: Brokers) -> None:
    """Prestarted workers that get no shard end: told so when the copy runs in
    one process, and on their own when the engine is dropped (a step that
    failed before its copy)."""
    import gc

    from kmigrate.engines.workers import WorkerEngine

    target = KafkaCluster("target", brokers.target)
    parts = [("t", p) for p in range(4)]

    engine = WorkerEngine(2)
    assert engine.prestart(parts, target) == 2
    procs = [w[-1] for w in engine._warm]
    engine._release_warm()
    assert _still_running(procs) == []
    assert [p.exitcode for p in procs] == [0, 0]  # type: ignore[attr-defined]

    engine = WorkerEngine(2)
    engine.prestart(parts, target)
    procs = [w[-1] for w in engine._warm]
    del engine
    gc.collect()
    assert _still_running(procs) == []

    assert WorkerEngine(1).prestart(parts, target) == 0
    assert WorkerEngine(4).prestart(parts[:1], target) == 0


def test_the_mirror_record_over_workers_lists_what_the_workers_copied(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The step's record (its table, its journal entry) shows per partition the
    ranges and counts the workers copied, not the map as it was before the copy
    (the parent merges each worker checkpoint into the objects the step holds)."""
    from kmigrate.steps.base import StepContext
    from kmigrate.steps.mirror import mirror
    from kmigrate.ui import UI

    topic = f"{prefix}record"
    create_on_both(brokers, topic, PARTITIONS)
    produce(
        brokers.source, topic, [{"value": b"v", "partition": i % PARTITIONS} for i in range(400)]
    )
    ctx = StepContext(
        KafkaCluster("source", brokers.source), KafkaCluster("target", brokers.target), UI()
    )
    ctx.state_dir = tmp_path

    record = mirror(ctx, [topic], workers=2)

    rows = [
        (p.partition, p.source_end, p.target_end, p.records, p.copied_now)
        for p in record.partitions
    ]
    assert sorted(rows) == [(p, 100, 100, 100, 100) for p in range(PARTITIONS)]

"""The cutover window: from "producers stopped" to "consumers may start on the target".

Starts two local clusters (Tansu, or real Apache Kafka with ``--broker
apache-kafka``: mirror_bench's :class:`Brokers`), puts N records on a source topic
(untimed) and commits a consumer group on the source at each partition's end of
those records.  Then, while a producer writes ``--rate`` records/s to the source
topic, ``kmigrate mirror --follow --until stopped`` copies the backlog and the new
records; with ``--verify-follow`` (continuous verification, issue 17) a
``kmigrate verify --follow --state-dir D`` proves the copied ranges meanwhile.
Once the target holds the backlog (and ``--hold-s`` seconds more, so that the
copy, and the proof, are in a steady state behind the producer), the producer is
stopped, and each stage of the cutover is timed from the moment its last record
was acknowledged:

1. **caught up**: the target's log ends equal the source's (read to the
   end-of-partition event, every 20 ms); then the mirror is stopped (SIGTERM)
   and has saved its offset map: ``mirror stopped``;
2. **verified**: without continuous verification a full ``kmigrate verify``;
   with it, the following verify is stopped (SIGTERM) and the final
   ``kmigrate verify --state-dir D`` reads only what was not proven yet;
3. **groups translated**: ``kmigrate translate-offsets`` of the group.

The window is the sum.  Each kmigrate command runs in a child process that has
imported kmigrate before it is given its command line (as ``kmigrate execute``
runs the cutover's steps in one process): a command's time is its own work, not
Python's start (measured once, printed as ``CLI start``).  The followers' CPU
seconds (the command and its worker processes, user + system, from
``getrusage``) are printed per second they ran, so the cost of a following
verify beside the mirror shows.

Usage::

    python bench/cutover_bench.py --records 1000000              # without, then with
    python bench/cutover_bench.py --records 1000000 --only off   # continuous verification off
    python bench/cutover_bench.py --broker apache-kafka --records 1000000 --json out.json
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mirror_bench import Brokers, _produce, _value, create_topic

TOPIC = "bench-cutover"
GROUP = "bench-cutover-app"

#: Every child started (killed if still running when a window ends).
CHILDREN: list[subprocess.Popen[Any]] = []


# -- children --------------------------------------------------------------------------


def runner_main(result_path: str) -> int:
    """A child that runs one kmigrate command: import kmigrate, say ready, read
    the command line (JSON) from stdin, run it in this process, write
    ``{"code", "started", "ended", "cpu_s"}`` (monotonic seconds, the clock every
    process of the machine shares; CPU of this process and its workers) to
    ``result_path``."""
    import kmigrate.cli
    from kmigrate.cli import cli

    del kmigrate
    Path(result_path + ".ready").write_text("ready")
    argv = json.loads(sys.stdin.readline())
    profile_dir = os.environ.get("KMIGRATE_BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_dir else None
    started = time.monotonic()
    try:
        if profiler is not None:
            profiler.enable()
        cli(args=argv, prog_name="kmigrate")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    ended = time.monotonic()
    if profiler is not None:
        profiler.disable()
        name = Path(result_path).name.removesuffix(".result.json")
        profiler.dump_stats(str(Path(profile_dir or ".") / f"{name}.prof"))
    cpu = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        cpu += usage.ru_utime + usage.ru_stime
    Path(result_path).write_text(
        json.dumps({"code": code, "started": started, "ended": ended, "cpu_s": cpu})
    )
    return 0


def producer_main(args_json: str) -> int:
    """A child that writes ``rate`` records/s round-robin over the partitions
    until SIGTERM, then flushes and writes ``{"produced", "failed", "acked_at"}``
    to ``result``."""
    from confluent_kafka import Producer

    args = json.loads(args_json)
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    failed: list[int] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(1)

    # Idempotent (KIP-98): a request retried after a timeout is not written twice,
    # so the source holds exactly what was produced (a Tansu source once held a
    # produce request 60 s, at 10M records, and the retry duplicated it).
    producer = Producer(
        {
            "bootstrap.servers": args["source"],
            "linger.ms": 5,
            "enable.idempotence": True,
            "on_delivery": delivered,
        }
    )
    value = _value(args["size"])
    rate, parts = args["rate"], args["partitions"]
    t0 = time.monotonic()
    i = 0
    while not stop:
        due = int((time.monotonic() - t0) * rate)
        while i < due and not stop:
            try:
                producer.produce(TOPIC, value, b"live%09d" % i, partition=i % parts)
                i += 1
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
        time.sleep(0.005)
    left = producer.flush(60)
    Path(args["result"]).write_text(
        json.dumps({"produced": i, "failed": len(failed) + left, "acked_at": time.monotonic()})
    )
    return 0


class Runner:
    """A prestarted kmigrate command (see :func:`runner_main`)."""

    def __init__(self, name: str, work: Path) -> None:
        self.name = name
        self.result = work / f"{name}.result.json"
        self.log = open(work / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--runner", str(self.result)],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        CHILDREN.append(self.proc)
        deadline = time.monotonic() + 60
        while not Path(str(self.result) + ".ready").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"cutover_bench: runner {name} did not start ({self.log.name})")
            time.sleep(0.02)

    def start(self, argv: list[str]) -> None:
        """Give the runner its command line."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()

    def wait(self, ok: tuple[int, ...] = (0,)) -> dict[str, Any]:
        """Wait for the command; returns its result (the bench fails on another exit code)."""
        self.proc.wait()
        self.log.close()
        got = json.loads(self.result.read_text())
        if got["code"] not in ok:
            tail = Path(self.log.name).read_text()[-2000:]
            raise SystemExit(f"cutover_bench: {self.name} exited {got['code']}:\n{tail}")
        return dict(got)

    def run(self, argv: list[str]) -> dict[str, Any]:
        """Run the command to its end."""
        self.start(argv)
        return self.wait()

    def terminate(self) -> None:
        """SIGTERM: a following mirror or verify stops cleanly."""
        self.proc.send_signal(signal.SIGTERM)


# -- the measurement -------------------------------------------------------------------


def ends(cluster: Any, partitions: int) -> int:
    """The sum of the topic's log ends (read to the end-of-partition event)."""
    parts = [(TOPIC, p) for p in range(partitions)]
    return sum(end for _low, end in cluster.watermark_offsets(parts, read_end=True).values())


def proven(state: Path) -> int:
    """Source records the following verify has proven so far: the sum over the
    partitions of ``verify-proof.json`` of ``source.last + 1`` (0 before its
    first save).  The file's layout is :mod:`kmigrate.verify.proof`'s."""
    try:
        data = json.loads((state / "verify-proof.json").read_text())
    except (OSError, ValueError):
        return 0
    total = 0
    for part in data.get("partitions", []):
        last = (part.get("source") or {}).get("last")
        total += 0 if last is None else int(last) + 1
    return total


def proof_lag(state: Path, source: Any, partitions: int) -> int:
    """Source records not proven yet: the source's end is read first (reading it
    takes time, and the proof moves on meanwhile), then the proof."""
    end = ends(source, partitions)
    return end - proven(state)


def commit_group(bootstrap: str, offsets: dict[int, int]) -> None:
    """Commit ``GROUP`` on the source at ``{partition: offset}`` (retried while
    the group coordinator loads)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False}
    )
    try:
        for attempt in range(30):
            try:
                consumer.commit(
                    offsets=[TopicPartition(TOPIC, p, o) for p, o in offsets.items()],
                    asynchronous=False,
                )
                return
            except KafkaException:
                if attempt == 29:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


def load() -> str:
    """The load average over 1, 5 and 15 minutes (``/proc/loadavg``)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def one_window(brokers: Brokers, args: argparse.Namespace, on: bool, work: Path) -> dict[str, Any]:
    """Seed, follow, stop the producer, time the stages; returns the figures."""
    from kmigrate.adapters.kafka import KafkaCluster

    src, tgt = brokers.source, brokers.target
    parts = args.partitions
    create_topic(src, TOPIC, parts)
    create_topic(tgt, TOPIC, parts, brokers.target_rf)
    t0 = time.monotonic()
    _produce(
        src,
        TOPIC,
        args.records,
        args.size,
        parts,
        {"linger.ms": 20, "batch.num.messages": 10000, "queue.buffering.max.messages": 200000},
    )
    seeded_s = time.monotonic() - t0
    per = {p: len(range(p, args.records, parts)) for p in range(parts)}
    commit_group(src, per)
    source, target = KafkaCluster("source", src), KafkaCluster("target", tgt)
    state = work / "state"
    common = ["--source", src, "--target", tgt, "--topic", TOPIC]
    workers = ["--workers", str(args.workers)] if args.workers else []
    mirror = Runner("mirror", work)
    verifier = Runner("verify-follow", work) if on else None
    final = Runner("verify", work)
    translate = Runner("translate", work)
    prod_result = work / "producer.json"
    producer = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--producer",
            json.dumps(
                {
                    "source": src,
                    "rate": args.rate,
                    "size": args.size,
                    "partitions": parts,
                    "result": str(prod_result),
                }
            ),
        ]
    )
    CHILDREN.append(producer)
    live_at = time.monotonic()
    mirror.start(
        ["mirror", *common, "--follow", "--until", "stopped", "--state-dir", str(state), *workers]
    )
    if verifier is not None:
        verifier.start(
            ["verify", *common, "--follow", "--until", "stopped", "--state-dir", str(state)]
            + workers
        )
    # The backlog copied: the target within one second of the producer.
    deadline = live_at + args.backlog_timeout_s
    while ends(target, parts) < ends(source, parts) - args.rate:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"cutover_bench: the mirror did not catch up in {args.backlog_timeout_s:g} s"
            )
        time.sleep(0.5)
    backlog_s = time.monotonic() - live_at
    proof_s = None
    if verifier is not None:
        # The proof behind the producer by about three seconds, or two blocks per
        # partition (it proves whole blocks of 1,024 records, in rounds).
        slack = max(3 * args.rate, parts * 4096)
        while proof_lag(state, source, parts) > slack:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"cutover_bench: the proof did not catch up in {args.backlog_timeout_s:g} s"
                )
            time.sleep(0.5)
        proof_s = time.monotonic() - live_at
    time.sleep(args.hold_s)
    load_at_stop = load()
    producer.send_signal(signal.SIGTERM)
    producer.wait()
    prod = json.loads(prod_result.read_text())
    if prod["failed"]:
        raise SystemExit(f"cutover_bench: the producer lost {prod['failed']} records")
    stopped_at = prod["acked_at"]
    total = args.records + prod["produced"]
    held = ends(source, parts)
    if held != total:
        raise SystemExit(
            f"cutover_bench: the source holds {held:,} records, the producer wrote {total:,}"
        )
    while ends(target, parts) < total:
        time.sleep(0.02)
    caught_at = time.monotonic()
    mirror.terminate()
    mirrored = mirror.wait()
    mirror_cpu = mirrored["cpu_s"]
    follow_cpu = None
    verify_start = time.monotonic()
    if verifier is not None:
        verifier.terminate()
        follow_cpu = verifier.wait()["cpu_s"]
        final_argv = ["verify", *common, "--state-dir", str(state), *workers]
    else:
        final_argv = ["verify", *common, *workers]
    final.run(final_argv + ["--report", str(work / "verify.json")])
    verified_at = time.monotonic()
    translate.run(
        ["translate-offsets", "--source", src, "--target", tgt, "--group", GROUP]
        + ["--state-dir", str(state)]
    )
    translated_at = time.monotonic()
    followed_s = mirrored["ended"] - mirrored["started"]
    return {
        "records": args.records,
        "continuous_verification": on,
        "live_records": prod["produced"],
        "seed_s": seeded_s,
        "backlog_copied_s": backlog_s,
        "backlog_proven_s": proof_s,
        "caught_up_s": caught_at - stopped_at,
        "mirror_stopped_s": mirrored["ended"] - stopped_at,
        "verified_s": verified_at - mirrored["ended"],
        "final_verify_only_s": verified_at - verify_start,
        "translated_s": translated_at - verified_at,
        "window_s": translated_at - stopped_at,
        "mirror_cpu_s_per_s": mirror_cpu / followed_s,
        "verify_follow_cpu_s_per_s": None if follow_cpu is None else follow_cpu / followed_s,
        "load_at_stop": load_at_stop,
        "load_after": load(),
    }


def cli_start_s() -> float:
    """Seconds for ``python -c 'import kmigrate.cli'`` (what each command pays
    when run on its own, not counted in the stages)."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "import kmigrate.cli"], check=True)
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    """Parse, run each window on fresh clusters, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="N: records on the source")
    parser.add_argument("--rate", type=int, default=5000, help="live producer, records/s")
    parser.add_argument("--size", type=int, default=200, help="value bytes (keys 13 B)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--hold-s", type=float, default=10.0, help="steady state before the stop")
    parser.add_argument("--workers", type=int, default=None, help="kmigrate --workers")
    parser.add_argument(
        "--backlog-timeout-s", type=float, default=1800.0, help="give up on the catch-up after"
    )
    parser.add_argument(
        "--only", choices=("off", "on"), default=None, help="continuous verification off or on"
    )
    parser.add_argument("--broker", choices=("tansu", "apache-kafka"), default="tansu")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument(
        "--profile",
        default=None,
        help="write each command's cProfile (wall clock) to DIR/<command>.prof",
    )
    args = parser.parse_args(argv)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        os.environ["KMIGRATE_BENCH_PROFILE"] = str(Path(args.profile).resolve())
    modes = [args.only == "on"] if args.only else [False, True]
    rows = []
    start = cli_start_s()
    for on in modes:
        work = Path(tempfile.mkdtemp(prefix="kmigrate-cutover-"))
        brokers = Brokers(args.broker, work)
        try:
            rows.append(one_window(brokers, args, on, work))
        except BaseException:
            print(f"logs kept in {work}", file=sys.stderr)
            raise
        finally:
            for child in CHILDREN:
                if child.poll() is None:
                    child.kill()
                    child.wait()
            CHILDREN.clear()
            brokers.stop()
        shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(rows[-1]), flush=True)
    print_table(rows, args, start)
    if args.json:
        Path(args.json).write_text(json.dumps({"cli_start_s": start, "rows": rows}, indent=2))
    return 0


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace, start: float) -> None:
    """The cutover table (markdown, for bench/README.md)."""
    print(
        f"\n{args.broker}, {args.partitions} partitions, {args.size} B values, live producer "
        f"{args.rate:,} records/s, hold {args.hold_s:g} s; CLI start {start:.2f} s (not counted)"
    )
    print(
        "| N | continuous verification | caught up | mirror stopped | verified | "
        "groups translated | window | CPU s/s mirror / verify-follow | load at stop |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        vf = r["verify_follow_cpu_s_per_s"]
        print(
            f"| {r['records']:,} | {'on' if r['continuous_verification'] else 'off'} "
            f"| {r['caught_up_s']:.2f} s | {r['mirror_stopped_s']:.2f} s "
            f"| {r['verified_s']:.2f} s | {r['translated_s']:.2f} s | {r['window_s']:.2f} s "
            f"| {r['mirror_cpu_s_per_s']:.2f} / {'-' if vf is None else f'{vf:.2f}'} "
            f"| {r['load_at_stop']} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--runner":
        sys.exit(runner_main(sys.argv[2]))
    if len(sys.argv) > 2 and sys.argv[1] == "--producer":
        sys.exit(producer_main(sys.argv[2]))
    sys.exit(main())

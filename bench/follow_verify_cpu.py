"""The CPU cost of a following verify while the mirror runs, against the mirror alone,
and what it buys: the final verify's time (tail only) against a full verify.

Starts two local sandbox brokers (Tansu) on free loopback ports, or uses
``--source`` / ``--target`` bootstrap servers (e.g. the real Apache Kafka
clusters of ``kmigrate.adapters.apache_kafka``, PLAINTEXT listeners).  Two runs,
each on a fresh 6-partition topic holding ``--records`` records first:

1. **mirror alone**: a producer writes ``--rate`` records/s for ``--seconds``
   seconds while ``kmigrate mirror --follow --until caught-up --settle-s 1``
   copies;
2. **mirror + following verify**: the same, with ``kmigrate verify --follow
   --until caught-up --settle-s 1`` on the same state dir beside it.

Each CLI process's CPU seconds (user + system, its worker processes included)
come from ``os.wait4``'s rusage.  Printed: the mirror's CPU seconds in each
run, the following verify's, and its share of the mirror's; the seconds from
"producer stopped" to "verify caught up"; then, on run 2's data, the wall
seconds of ``kmigrate verify --state-dir D`` (reads only the tail) and of
``verify --full`` (reads everything).

Usage::

    python bench/follow_verify_cpu.py [--records 200000] [--rate 5000] [--seconds 10]
        [--broker tansu|apache-kafka | --source HOST:PORT --target HOST:PORT] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kmigrate.adapters import sandbox

PARTITIONS = 6
#: Replication factor of the bench topics, by bootstrap servers (default 1).
RF: dict[str, int] = {}
KMIGRATE = [sys.executable, "-m", "kmigrate"]


def produce(bootstrap: str, topic: str, n: int, rate: float | None = None) -> float:
    """Write ``n`` 200-byte records round-robin (at ``rate`` records/s when
    given); returns the monotonic time the last was acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    value = b"v" * 200
    t0 = time.monotonic()
    for i in range(n):
        while True:
            try:
                producer.produce(topic, value=value, key=b"%08d" % i, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
        if rate and i % 200 == 0:
            producer.poll(0)
            ahead = (i + 1) / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    assert producer.flush(60) == 0
    return time.monotonic()


def cpu_of(proc: subprocess.Popen[bytes]) -> tuple[float, float]:
    """Wait for ``proc``: (CPU seconds, user + system, children included; end time)."""
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{proc.args} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, time.monotonic()


def one_run(args: argparse.Namespace, source: str, target: str, work: Path, verify: bool) -> Any:
    """One run (module docstring); returns its figures."""
    topic = f"bench-fv-{uuid.uuid4().hex[:6]}"
    for bootstrap in (source, target):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, PARTITIONS, RF.get(bootstrap, 1))])[topic].result()
    produce(source, topic, args.records)
    state = work / f"state-{topic}"
    clusters = ["--source", source, "--target", target, "--topic", topic]
    follow = ["--state-dir", str(state), "--follow", "--settle-s", "1"]
    mirror = subprocess.Popen(
        [*KMIGRATE, "mirror", *clusters, *follow, "--output", "json"], stdout=subprocess.DEVNULL
    )
    time.sleep(1.0)
    checker = None
    if verify:
        checker = subprocess.Popen(
            [*KMIGRATE, "verify", *clusters, *follow, "--output", "json"],
            stdout=subprocess.DEVNULL,
        )
    stopped = [0.0]
    feeder = threading.Thread(
        target=lambda: stopped.__setitem__(
            0, produce(source, topic, int(args.rate * args.seconds), args.rate)
        )
    )
    feeder.start()
    feeder.join()
    mirror_cpu, mirror_end = cpu_of(mirror)
    out: dict[str, Any] = {
        "mirror_cpu_s": round(mirror_cpu, 2),
        "mirror_caught_up_after_stop_s": round(mirror_end - stopped[0], 2),
    }
    if checker is not None:
        verify_cpu, verify_end = cpu_of(checker)
        out["verify_cpu_s"] = round(verify_cpu, 2)
        out["verify_caught_up_after_stop_s"] = round(verify_end - stopped[0], 2)
        for name, extra in (("final_verify_s", []), ("full_verify_s", ["--full"])):
            t0 = time.monotonic()
            done = subprocess.run(
                [*KMIGRATE, "verify", *clusters, "--state-dir", str(state), *extra],
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"verify {extra} failed: {done.stdout.decode()[-2000:]}")
            out[name] = round(time.monotonic() - t0, 2)
            said = [ln for ln in done.stdout.decode().splitlines() if ln.startswith("reused ")]
            if said:
                out["final_verify_said"] = said[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--broker",
        choices=["tansu", "apache-kafka"],
        default="tansu",
        help="apache-kafka: a Kafka 3.9.1 ZooKeeper source and a 3-node KRaft target "
        "(kmigrate.adapters.apache_kafka; their PLAINTEXT listeners)",
    )
    parser.add_argument("--source")
    parser.add_argument("--target")
    parser.add_argument("--json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kmigrate-fv-bench-"))
    started = []
    clusters: list[Any] = []
    try:
        if args.source and args.target:
            source, target = args.source, args.target
        elif args.broker == "apache-kafka":
            from kmigrate.adapters import apache_kafka

            clusters.append(apache_kafka.start_source(work / "source"))
            clusters.append(apache_kafka.start_target(work / "target"))
            source, target = clusters[0].bootstrap, clusters[1].internal
            RF[target] = 3
        else:
            for role in ("source", "target"):
                started.append(
                    sandbox.start_broker(role, sandbox.free_port(), work / f"{role}.log")
                )
            source, target = started[0].bootstrap, started[1].bootstrap
        alone = one_run(args, source, target, work, verify=False)
        both = one_run(args, source, target, work, verify=True)
        result = {
            "broker": "given" if args.source else args.broker,
            "records_before": args.records,
            "rate": args.rate,
            "seconds": args.seconds,
            "cpus": os.cpu_count(),
            "mirror_alone": alone,
            "mirror_with_follow_verify": both,
            "verify_cpu_share_of_mirror": round(
                both["verify_cpu_s"] / max(both["mirror_cpu_s"], 1e-9), 2
            ),
        }
        print(json.dumps(result, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    finally:
        for broker in started:
            sandbox.stop_pid(broker.pid)
        if clusters:
            from kmigrate.adapters import apache_kafka

            for cluster in clusters:
                apache_kafka.stop_cluster(cluster, kill=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""kmigrate's native engine and MirrorMaker 2 on Kafka Connect, side by side, one machine.

Run through ``python bench/mirror_bench.py --engines native,mirrormaker2`` (or this
file directly, same options).  Real Apache Kafka only (Connect needs it): the
ZooKeeper-mode 3.9 source and the 3-node KRaft 4.1 target of the test suite, the
target reached on its PLAINTEXT listener by both engines; one Kafka Connect 4.1
worker JVM (:mod:`kmigrate.adapters.kafka_connect`) started once, its start time
reported, not counted in the copies.

Per workload (record size x partitions, the same N records seeded once) and engine:

* **records/s**: N over the time from the start (``kmigrate mirror`` launched; the
  connector's ``PUT``) to the target holding N records (its high watermarks);
* **CPU s per million records**: user + system CPU of every process of the engine
  (the ``kmigrate mirror`` process and its workers; the Connect JVM), from
  ``psutil``, between start and done; beside it the brokers' CPU (both clusters'
  JVMs: the ZooKeeper-mode source broker and the three KRaft target nodes) and the
  sum of all processes;
* **peak RSS**: the largest sum of RSS over the engine's processes (each process
  tree summed), sampled every 0.2 s, and the brokers' apart;
* **first record**: time from the start to the first record on the target (the
  native engine's includes starting Python and its worker processes; the Connect
  worker is already running), and the rate after it (the copy alone).

MM2 runs without exactly-once (its default; KIP-618 is opt-in) and with
:data:`kmigrate.engines.mirrormaker2.config.THROUGHPUT_SETTINGS` (printed), its
``tasks.max`` the number of partitions (MM2 assigns whole partitions to tasks).
Between engines the target topic is deleted and created again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

SOURCE_TOPIC = "bench-engines"


class Sampler(threading.Thread):
    """Samples CPU seconds and summed RSS of a set of process trees every 0.2 s."""

    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.cpu: dict[int, float] = {}
        self.peak_rss = 0
        self.stop_flag = threading.Event()

    def _procs(self) -> list[psutil.Process]:
        procs = []
        for pid in self.roots:
            try:
                root = psutil.Process(pid)
                procs += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return procs

    def sample(self) -> None:
        """One sample: CPU per pid (last seen) and the RSS sum."""
        rss = 0
        for proc in self._procs():
            try:
                times = proc.cpu_times()
                self.cpu[proc.pid] = times.user + times.system
                rss += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        self.peak_rss = max(self.peak_rss, rss)

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.sample()
            time.sleep(0.2)

    def total_cpu(self) -> float:
        """CPU seconds of every process seen so far (exited ones at their last sample)."""
        return sum(self.cpu.values())


def _target_count(consumer: Any, topic: str, partitions: int) -> int:
    """The sum of the topic's high watermarks on the target (0 while the consumer does
    not know the new topic yet)."""
    from confluent_kafka import KafkaException, TopicPartition

    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
            for p in range(partitions)
        )
    except KafkaException:
        return 0


def _copy(
    start: Any,
    roots: list[int],
    target: str,
    topic: str,
    partitions: int,
    records: int,
    broker_pids: tuple[int, ...] = (),
    timeout_s: float = 900.0,
) -> dict[str, float]:
    """Time one copy: ``start()`` begins it (returns extra pids to watch); done when
    the target's high watermarks sum to ``records``.  The brokers (``broker_pids``,
    both clusters' JVMs) are sampled apart, so that their CPU and RSS are shown
    beside the engine's and in the sum over all processes."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": target, "group.id": "bench-engines-watch"})
    sampler = Sampler(roots)
    brokers = Sampler(list(broker_pids))
    sampler.sample()
    brokers.sample()
    cpu0, broker_cpu0 = sampler.total_cpu(), brokers.total_cpu()
    brokers.peak_rss = 0  # the peak during the copy, not at rest before it
    began = time.monotonic()
    sampler.roots = roots + start()
    sampler.start()
    brokers.start()
    first = 0.0
    try:
        while True:
            count = _target_count(consumer, topic, partitions)
            now = time.monotonic() - began
            if count and not first:
                first = now
            if count >= records:
                break
            if now > timeout_s:
                raise SystemExit(f"copy not done within {timeout_s:g} s ({count} of {records})")
            time.sleep(0.1)
        seconds = time.monotonic() - began
        sampler.sample()
        brokers.sample()
    finally:
        sampler.stop_flag.set()
        brokers.stop_flag.set()
        consumer.close()
    cpu = sampler.total_cpu() - cpu0
    broker_cpu = brokers.total_cpu() - broker_cpu0
    return {
        "seconds": seconds,
        "records_per_s": records / seconds,
        "cpu_s_per_million": cpu / records * 1e6,
        "broker_cpu_s_per_million": broker_cpu / records * 1e6,
        "all_cpu_s_per_million": (cpu + broker_cpu) / records * 1e6,
        "peak_rss_mib": sampler.peak_rss / 2**20,
        "broker_peak_rss_mib": brokers.peak_rss / 2**20,
        "first_record_s": first,
        # The copy alone: without the native engine's process start, which the
        # already running Connect worker does not pay per copy.
        "records_per_s_after_first": records / max(seconds - first, 1e-9),
    }


def run(
    engines: list[str],
    records: int,
    sizes: list[int],
    partition_counts: list[int],
    workers: int | None = None,
) -> dict[str, Any]:
    """Start the clusters (and Connect when MM2 runs), run every workload with every
    engine, stop everything; the figures per workload and engine."""
    import subprocess

    import mirror_bench as mb  # noqa: I001  (bench/ is on sys.path when run as a script)

    from kmigrate.adapters import kafka_connect
    from kmigrate.adapters.connect_rest import ConnectRest
    from kmigrate.engines.mirrormaker2 import config as mm2
    from kmigrate.plan.schema import PlanModel

    tmp = Path(tempfile.mkdtemp(prefix="kmigrate-engines-bench-"))
    brokers = mb.Brokers("apache-kafka", tmp)
    connect = None
    out: dict[str, Any] = {"records": records, "results": []}
    out["load_before"] = os.getloadavg()[0]
    try:
        if "mirrormaker2" in engines:
            connect = kafka_connect.start_connect(
                tmp / "connect",
                brokers.target,
                {},
                workers=1,
                replication_factor=3,
                exactly_once=False,
            )
            out["connect_start_s"] = connect.start_s
            out["mm2_settings"] = dict(mm2.THROUGHPUT_SETTINGS)
            print(f"Kafka Connect worker up in {connect.start_s:.1f} s")
            print("MirrorMaker 2 throughput settings:", json.dumps(mm2.THROUGHPUT_SETTINGS))
        for size in sizes:
            for parts in partition_counts:
                topic = f"{SOURCE_TOPIC}-{size}-{parts}"
                mb.create_topic(brokers.source, topic, parts)
                mb._produce(brokers.source, topic, records, size, parts, {"linger.ms": 20})
                for engine in engines:
                    mb.create_topic(brokers.target, topic, parts, brokers.target_rf)
                    if engine == "native":
                        state = tmp / f"state-{topic}"
                        options = {"--source": brokers.source, "--target": brokers.target}
                        options |= {"--topic": topic, "--state-dir": str(state)}
                        argv = [sys.executable, "-m", "kmigrate", "mirror"]
                        argv += [x for pair in options.items() for x in pair]
                        if workers:
                            argv += ["--workers", str(workers)]
                        procs: list[Any] = []

                        def start_native(
                            argv: list[str] = argv, procs: list[Any] = procs
                        ) -> list[int]:
                            procs.append(
                                subprocess.Popen(
                                    argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                                )
                            )
                            return [procs[0].pid]

                        figures = _copy(
                            start_native,
                            [],
                            brokers.target,
                            topic,
                            parts,
                            records,
                            brokers.pids,
                        )
                        if procs[0].wait(300) != 0:
                            raise SystemExit(f"kmigrate mirror exited {procs[0].returncode}")
                    else:
                        assert connect is not None
                        plan = PlanModel.model_validate(
                            {
                                "version": 1,
                                "name": "bench",
                                "clusters": {
                                    "source": {
                                        "type": "kafka",
                                        "bootstrap_servers": brokers.source,
                                    },
                                    "target": {
                                        "type": "kafka",
                                        "bootstrap_servers": brokers.target,
                                    },
                                },
                                "topics": {"include": [topic]},
                                "phases": [{"name": "copy", "steps": [{"action": "mirror"}]}],
                            }
                        )
                        opts = mm2.Mm2Options(
                            name=f"bench-{size}-{parts}",
                            tasks_max=parts,
                            throughput=True,
                            replication_factor=3,
                        )
                        config = mm2.source_connector(plan, opts)
                        rest = ConnectRest(connect.url(0))

                        def start_mm2(config: dict = config, rest: Any = rest) -> list[int]:
                            rest.put_config(config["name"], config)
                            return []

                        figures = _copy(
                            start_mm2,
                            [connect.workers[0].pid],
                            brokers.target,
                            topic,
                            parts,
                            records,
                            brokers.pids,
                        )
                        rest.delete(config["name"])
                    row = {"engine": engine, "size": size, "partitions": parts, **figures}
                    out["results"].append(row)
                    print(json.dumps(row))
                    mb.delete_topic(brokers.target, topic)
                    time.sleep(2)
        out["load"] = f"{out['load_before']:.1f} before, {os.getloadavg()[0]:.1f} after"
    finally:
        if connect is not None:
            kafka_connect.stop_connect(connect, kill=True)
        brokers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def print_table(data: dict[str, Any]) -> None:
    """The side-by-side table."""
    from tabulate import tabulate

    rows = [
        [
            r["engine"],
            f"{r['size']} B",
            r["partitions"],
            f"{r['records_per_s']:,.0f}",
            f"{r['cpu_s_per_million']:.1f}",
            f"{r['broker_cpu_s_per_million']:.1f}",
            f"{r['all_cpu_s_per_million']:.1f}",
            f"{r['peak_rss_mib']:.0f}",
            f"{r['broker_peak_rss_mib']:.0f}",
            f"{r['first_record_s']:.2f}",
            f"{r['records_per_s_after_first']:,.0f}",
        ]
        for r in data["results"]
    ]
    print(f"\n{data['records']:,} records per workload; machine load {data.get('load', '?')}")
    print(
        tabulate(
            rows,
            headers=[
                "engine",
                "record",
                "partitions",
                "records/s",
                "CPU s / M records (engine)",
                "(brokers)",
                "(all)",
                "peak RSS MiB (engine)",
                "(brokers)",
                "first record s",
                "records/s after it",
            ],
        )
    )
    if "connect_start_s" in data:
        print(f"Kafka Connect worker start: {data['connect_start_s']:.1f} s (not in the copies)")


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="native,mirrormaker2")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--sizes", default="200,1024")
    parser.add_argument("--partitions", default="6,1")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - {"native", "mirrormaker2"}
    if unknown:
        parser.error(f"--engines: unknown {', '.join(sorted(unknown))}")
    data = run(
        engines,
        args.records,
        [int(s) for s in args.sizes.split(",")],
        [int(p) for p in args.partitions.split(",")],
        args.workers,
    )
    print_table(data)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

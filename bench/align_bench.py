"""The cost of building the offset map of an MM2 copy by alignment (issue 14).

Starts two local sandbox brokers (Tansu, the ``sandbox`` extra) on free loopback
ports, writes the same ``--records`` records (1,000,000 by default, ``--size``
bytes of value each, 200) to one topic of ``--partitions`` partitions (6) on both
(the target as a copy would hold it; with ``--duplicates N`` the first N records
of each partition are written to the target a second time after its first
10,000, as a restarted at-least-once task would), then times
:func:`kmigrate.offsets.build.build_offset_map` over it and prints records/s
(records read on both sides per second of wall time, and source records per
second) as JSON, with the time of verify (one worker, through the map just
built) on the same data in the same run, as a ratio.  The brokers always stop.

Usage::

    python bench/align_bench.py [--records 1000000] [--partitions 6] [--size 200]
                                [--duplicates 0] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

TOPIC = "bench-align"


def produce(bootstrap: str, partitions: int, per_partition: int, size: int, dups: int) -> None:
    """``per_partition`` records of ``size`` bytes to each partition (same bytes,
    keys and timestamps on every call); ``dups`` > 0 replays the first ``dups``
    records of each partition after its 10,000th."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000})
    value = b"x" * size
    for p in range(partitions):
        order = list(range(per_partition))
        if dups:
            cut = min(10_000, per_partition)
            order = order[:cut] + list(range(min(dups, cut))) + order[cut:]
        for i in order:
            while True:
                try:
                    producer.produce(
                        TOPIC,
                        key=b"%d-%d" % (p, i),
                        value=value,
                        partition=p,
                        timestamp=1_700_000_000_000 + i,
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
    assert producer.flush(120) == 0


def main(argv: list[str] | None = None) -> int:
    """Run the bench; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--duplicates", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from confluent_kafka.admin import AdminClient, NewTopic

    from kmigrate.adapters import sandbox
    from kmigrate.adapters.kafka import KafkaCluster
    from kmigrate.offsets.build import build_offset_map
    from kmigrate.offsets.map import OffsetMap

    per = args.records // args.partitions
    started: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="kmigrate-align-") as tmp, ExitStack() as stack:
        for role in ("source", "target"):
            broker = sandbox.start_broker(role, sandbox.free_port(), Path(tmp) / f"{role}.log")
            stack.callback(sandbox.stop_pid, broker.pid)
            started.append(broker)
        source, target = started[0].bootstrap, started[1].bootstrap
        for bootstrap in (source, target):
            admin = AdminClient({"bootstrap.servers": bootstrap})
            admin.create_topics([NewTopic(TOPIC, args.partitions, 1)])[TOPIC].result()
        t0 = time.monotonic()
        produce(source, args.partitions, per, args.size, 0)
        produce(target, args.partitions, per, args.size, args.duplicates)
        produced_s = time.monotonic() - t0
        parts = [(TOPIC, p) for p in range(args.partitions)]
        omap = OffsetMap.load(Path(tmp) / "state")
        src = KafkaCluster("source", source)
        tgt = KafkaCluster("target", target)
        cpu0 = time.process_time()
        report = build_offset_map(src, tgt, parts, omap, workers=args.workers, untimed=())
        cpu = time.process_time() - cpu0
        from kmigrate.verify.compare import ranges_for
        from kmigrate.verify.ordered import verify

        v0, vcpu0 = time.monotonic(), time.process_time()
        verify(src, tgt, ranges_for(src, [TOPIC], None, omap), workers=1)
        verify_s, verify_cpu = time.monotonic() - v0, time.process_time() - vcpu0
        copies = sum(p.copies for p in report.partitions)
        dups = sum(p.duplicate_records for p in report.partitions)
        if (
            copies != per * args.partitions
            or dups != min(args.duplicates, 10_000, per) * args.partitions
        ):
            raise SystemExit(f"align_bench: wrong alignment: {copies} copies, {dups} duplicates")
    result = {
        "records_per_partition": per,
        "partitions": args.partitions,
        "size": args.size,
        "duplicates_per_partition": args.duplicates,
        "workers": args.workers,
        "produce_s": round(produced_s, 1),
        "align_s": round(report.seconds, 2),
        "align_cpu_s": round(cpu, 2),
        "records_read_per_s": round(report.records_per_s),
        "source_records_per_s": round(copies / report.seconds),
        "runs": sum(len(omap.runs(t, p)) for t, p in parts),
        "verify_s": round(verify_s, 2),
        "verify_cpu_s": round(verify_cpu, 2),
        "align_over_verify": round(report.seconds / verify_s, 2),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lag held by ``mirror`` in follow mode while a producer writes at a fixed rate.

Starts two local sandbox brokers (Tansu) on free loopback ports, creates a
6-partition topic on both, starts a producer thread writing 200-byte records at
``--rate`` records/s for ``--seconds`` seconds, and runs kmigrate's mirror in
follow mode (``until: caught-up``, ``settle_s`` 1) on the same topic from the
start.  A sampler reads, every 0.25 s, how many records the producer has had
acknowledged and how many the target's partitions hold (sum of their log end
offsets, read with one consumer to the end-of-partition event, since the
sandbox's ListOffsets lags), and reports the lag in records (acknowledged on
the source minus held by the target) while the producer runs: median, 95th
percentile and maximum, and in seconds (lag / rate).  It also reports the time
from "producer stopped" to "mirror caught up" (the mirror returns after
``settle_s`` of lag 0; that second is subtracted) and checks that the target
holds every record.  ``--workers N`` is the mirror's ``workers`` (default:
kmigrate's, the number of CPUs; 1 keeps the copy in this process).

Usage::

    python bench/follow_bench.py [--rate 5000] [--seconds 15] [--workers N]
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kmigrate.adapters import sandbox
from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.engines.base import FollowSpec
from kmigrate.engines.workers import default_workers
from kmigrate.steps.base import StepContext
from kmigrate.steps.mirror import mirror
from kmigrate.ui import UI

PARTITIONS = 6
TOPIC = "bench-follow"
SETTLE_S = 1.0


class Feeder(threading.Thread):
    """Writes ``rate`` records/s for ``seconds`` seconds; counts acknowledged records."""

    def __init__(self, bootstrap: str, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.rate, self.seconds = bootstrap, rate, seconds
        self.acked = 0
        self.done_at: float | None = None

    def _ack(self, err: object, _msg: object) -> None:
        if err is None:
            self.acked += 1

    def run(self) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        value = b"v" * 200
        total = int(self.rate * self.seconds)
        t0 = time.monotonic()
        for i in range(total):
            while True:
                try:
                    producer.produce(TOPIC, value, partition=i % PARTITIONS, on_delivery=self._ack)
                    break
                except BufferError:
                    producer.poll(0.01)
            if i % 100 == 0:
                producer.poll(0)
                ahead = (i + 1) / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush(30)
        self.done_at = time.monotonic()


def main() -> None:
    """Run one measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=5000, help="records/s")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--workers", type=int, default=None, help="mirror processes (default: the number of CPUs)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kmigrate-follow-bench-"))
    brokers = [
        sandbox.start_broker(role, sandbox.free_port(), work / f"{role}.log")
        for role in ("source", "target")
    ]
    try:
        src, tgt = (b.bootstrap for b in brokers)
        for bootstrap in (src, tgt):
            admin = AdminClient({"bootstrap.servers": bootstrap})
            admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result()
        target = KafkaCluster("target", tgt)
        parts = [(TOPIC, p) for p in range(PARTITIONS)]
        ctx = StepContext(KafkaCluster("source", src), target, UI(out=io.StringIO()))
        ctx.state_dir = work / "state"
        feeder = Feeder(src, args.rate, args.seconds)
        samples: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                acked = feeder.acked
                held = sum(
                    end for _low, end in target.watermark_offsets(parts, read_end=True).values()
                )
                if feeder.done_at is None and acked > args.rate:  # steady state only
                    samples.append(max(acked - held, 0))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        feeder.start()
        sampler.start()
        t0 = time.monotonic()
        record = mirror(
            ctx, [TOPIC], follow=FollowSpec("follow", "caught-up", SETTLE_S), workers=args.workers
        )
        ended = time.monotonic()
        stop.set()
        feeder.join()
        copied = sum(p.records for p in record.partitions)
        total = int(args.rate * args.seconds)
        assert feeder.done_at is not None
        catch_up = ended - SETTLE_S - feeder.done_at
        workers = args.workers or default_workers()
        print(
            f"rate {args.rate:,} records/s for {args.seconds:g} s ({total:,} records, 200 B), "
            f"{PARTITIONS} partitions, workers {workers}"
        )
        print(f"mirror ran {ended - t0:.1f} s, copied {copied:,} records; {record.ended}")
        if samples:
            p95 = sorted(samples)[int(0.95 * (len(samples) - 1))]
            print(
                f"lag while producing ({len(samples)} samples): median "
                f"{statistics.median(samples):,.0f} records "
                f"({statistics.median(samples) / args.rate:.2f} s), p95 {p95:,} records "
                f"({p95 / args.rate:.2f} s), max {max(samples):,} records "
                f"({max(samples) / args.rate:.2f} s)"
            )
        print(f"producer stopped -> caught up: {max(catch_up, 0.0):.2f} s")
        if copied != total:
            raise SystemExit(f"copied {copied} records, expected {total}")
    finally:
        for b in brokers:
            sandbox.stop_pid(b.pid)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""How long a new idempotent producer takes to have its first record confirmed.

Starts one sandbox broker (Tansu, from the ``sandbox`` extra) with a 6-partition
topic, then, for each client setting and each delay, creates a producer with
kmigrate's ``WRITER_SETTINGS`` (overridden by the setting), waits the delay,
produces one record and prints the seconds from creation to its delivery
report.  A new idempotent producer sends nothing before it has a producer id
(KIP-98); librdkafka asks for one only when a broker connection is up and
otherwise retries on a 500 ms timer (src/rdkafka_idempotence.c).  With sparse
connections (librdkafka's default) the real broker's connection opens only at
that timer, so the id often comes at the second firing (see bench/README.md,
"The producer id, again").

Usage::

    python bench/first_record.py [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

SETTINGS: dict[str, dict[str, Any]] = {
    "writer settings (kmigrate)": {},
    "sparse connections (librdkafka default)": {"enable.sparse.connections": True},
    "idempotence off": {"enable.idempotence": False},
}
DELAYS_S = (0.0, 0.005, 0.05, 0.2)


def first_delivery_s(bootstrap: str, topic: str, extra: dict[str, Any], delay_s: float) -> float:
    """Seconds from a new producer's creation to its first delivery report."""
    from confluent_kafka import Producer

    from kmigrate.adapters.kafka import WRITER_SETTINGS

    got: list[float] = []
    t0 = time.monotonic()
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            **WRITER_SETTINGS,
            **extra,
            "on_delivery": lambda _err, _msg: got.append(time.monotonic()),
        }
    )
    time.sleep(delay_s)
    producer.produce(topic, b"x", partition=0)
    if producer.flush(10) or not got:
        raise SystemExit("first_record: the record was not confirmed within 10 s")
    return got[0] - t0


def main() -> int:
    """Run the table; the broker always stops."""
    from confluent_kafka.admin import AdminClient, NewTopic
    from tabulate import tabulate

    from kmigrate.adapters import sandbox

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="producers per setting and delay")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kmigrate-first-record-"))
    brokers = sandbox.up(tmp, sandbox.free_port(), sandbox.free_port())
    try:
        bootstrap = brokers[1].bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("first-record", 6, 1)])["first-record"].result(15)
        time.sleep(0.5)
        rows = []
        for name, extra in SETTINGS.items():
            for delay in DELAYS_S:
                times = [
                    first_delivery_s(bootstrap, "first-record", extra, delay)
                    for _ in range(args.runs)
                ]
                rows.append([name, f"{delay * 1000:.0f}", f"{min(times):.3f}-{max(times):.3f}"])
        print(
            tabulate(
                rows,
                headers=["producer", "first record after ms", "confirmed after s (min-max)"],
                disable_numparse=True,
            )
        )
    finally:
        sandbox.down(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

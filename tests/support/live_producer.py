"""A producer thread for tests that mirror while records are still written."""

from __future__ import annotations

import threading
import time

from confluent_kafka import Producer


class LiveProducer(threading.Thread):
    """Writes ``total`` numbered records at about ``rate`` records/s to ``topic``.

    Record ``i`` has key ``{key_prefix}{i}``, value ``value-{i}``, a ``seq``
    header ``i``, goes to ``partitions[i % len(partitions)]``, and has the
    timestamp ``timestamp_base + i`` (milliseconds) when ``timestamp_base`` is
    given, else the producer's clock.  ``sent`` counts the records handed to
    the producer so far; ``run`` ends after a flush that delivered them all.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        partitions: list[int],
        total: int,
        rate: float,
        *,
        key_prefix: str = "k",
        timestamp_base: int | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.total, self.rate = total, rate
        self.key_prefix, self.timestamp_base = key_prefix, timestamp_base
        self.sent = 0

    def run(self) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        t0 = time.monotonic()
        for i in range(self.total):
            producer.produce(
                self.topic,
                key=f"{self.key_prefix}{i}".encode(),
                value=f"value-{i}".encode(),
                headers=[("seq", str(i).encode())],
                partition=self.partitions[i % len(self.partitions)],
                timestamp=0 if self.timestamp_base is None else self.timestamp_base + i,
            )
            self.sent = i + 1
            if i % 100 == 0:
                producer.poll(0)
                ahead = (i + 1) / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        assert producer.flush(30) == 0

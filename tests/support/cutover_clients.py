"""Clients of the cutover tests (``tests/cutover``, ``tests/commands/test_init.py``): a
consumer that stays a group member, and a step's journaled record (the retried group
commit is ``tests.support.clients.commit``)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer


def journal_record(plan: Path, step: str) -> dict[str, Any]:
    """The record the journal beside ``plan`` (``state/journal.json``) holds for ``step``."""
    data = json.loads((plan.parent / "state" / "journal.json").read_text())
    record: dict[str, Any] = data["steps"][step]["record"]
    return record


class Consuming(threading.Thread):
    """A consumer of ``group`` on ``bootstrap`` that polls until stopped (so it stays a
    member), committing automatically."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "client.id": "billing-app",
                "session.timeout.ms": 6000,
                "auto.offset.reset": "earliest",
            }
        )
        self.consumer.subscribe([topic])
        self.stop = threading.Event()
        self.assigned = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.consumer.poll(0.2)
            if self.consumer.assignment():
                self.assigned.set()
        self.consumer.close()

    def __enter__(self) -> Consuming:
        self.start()
        assert self.assigned.wait(30), "the consumer got no assignment in 30 s"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(30)

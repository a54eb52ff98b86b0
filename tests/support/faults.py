"""Helpers for the fault tests: kmigrate as a subprocess, an independent reader, source snapshots.

The reader here uses a plain confluent-kafka ``Consumer``, never kmigrate's
adapter, so a bug in the adapter's reader cannot hide the same bug in what the
tests judge by.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource

#: One record as the independent reader sees it:
#: (offset, key, value, headers, timestamp ms).
Row = tuple[int, bytes | None, bytes | None, tuple[tuple[str, bytes | None], ...], int]

KMIGRATE = [sys.executable, "-m", "kmigrate"]


def kmigrate(*args: str, cwd: Path, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``kmigrate ARGS`` to completion as a separate process (stdin closed)."""
    return subprocess.run(
        [*KMIGRATE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout_s,
        check=False,
    )


def start_kmigrate(*args: str, cwd: Path, **popen: Any) -> subprocess.Popen[str]:
    """Start ``kmigrate ARGS`` in the background (output collected through a pipe)."""
    popen.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(
        [*KMIGRATE, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def status_json(plan: Path) -> dict[str, Any]:
    """What ``kmigrate status PLAN --output json`` prints (run in this process: fast)."""
    from click.testing import CliRunner

    from kmigrate.cli import cli

    done = CliRunner().invoke(cli, ["status", str(plan), "--output", "json"])
    assert done.exit_code == 0, done.output
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def status_steps(plan: Path) -> list[dict[str, Any]]:
    """The journal's steps as ``kmigrate status PLAN --output json`` reports them."""
    steps: list[dict[str, Any]] = status_json(plan)["steps"]
    return steps


def step_named(steps: list[dict[str, Any]], action: str) -> dict[str, Any]:
    """The one journaled step whose action (description) starts with ``action``."""
    found = [s for s in steps if str(s.get("description", "")).startswith(action)]
    assert len(found) == 1, f"expected one {action} step in {steps}"
    return found[0]


def topic_partitions(bootstrap: str, topic: str) -> int:
    """Partition count of ``topic`` (0 when absent), without asking for it by name
    (a Metadata request naming a topic may auto-create it)."""
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=15)
    meta = md.topics.get(topic)
    return len(meta.partitions) if meta is not None and meta.error is None else 0


def independent_read(bootstrap: str, topic: str, timeout_s: float = 60.0) -> dict[int, list[Row]]:
    """Every record of every partition of ``topic``, per partition in offset order.

    See :func:`independent_read_all`.
    """
    return independent_read_all(bootstrap, [topic], timeout_s)[topic]


def independent_read_all(
    bootstrap: str, topics: list[str], timeout_s: float = 60.0
) -> dict[str, dict[int, list[Row]]]:
    """Every record of the given topics: ``{topic: {partition: [row, ...]}}`` in offset order.

    One consumer reads with ``assign`` from the beginning to each partition's
    end-of-partition event (the true end even where ListOffsets lags, see the
    sandbox-broker doc); it joins no group and commits nothing.  A missing
    topic reads as ``{}``.

    Raises:
        AssertionError: a fetch failed or the read did not end within ``timeout_s``.
    """
    counts = {t: topic_partitions(bootstrap, t) for t in topics}
    out: dict[str, dict[int, list[Row]]] = {t: {p: [] for p in range(n)} for t, n in counts.items()}
    pending = {(t, p) for t, n in counts.items() for p in range(n)}
    if not pending:
        return out
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"faults-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 20,
        }
    )
    try:
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in sorted(pending)])
        deadline = time.monotonic() + timeout_s
        while pending:
            assert time.monotonic() < deadline, f"reading did not end: {sorted(pending)} left"
            for msg in consumer.consume(num_messages=1000, timeout=0.2):
                err = msg.error()
                tp = (str(msg.topic()), int(msg.partition() or 0))
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, err.str()
                    pending.discard(tp)
                    continue
                headers = tuple((k, v) for k, v in (msg.headers() or []))
                out[tp[0]][tp[1]].append(
                    (int(msg.offset() or 0), msg.key(), msg.value(), headers, msg.timestamp()[1])
                )
    finally:
        consumer.close()
    return out


def without_offsets(rows: dict[int, list[Row]]) -> dict[int, list[tuple[Any, ...]]]:
    """The same records with their offsets dropped: what a copy must keep, in order."""
    return {p: [r[1:] for r in recs] for p, recs in rows.items()}


def source_state(bootstrap: str, topics: list[str]) -> dict[str, Any]:
    """Everything of the source a migration could change, read independently.

    ``records``: per topic, per partition, every record with offset, key, value,
    headers and timestamp; ``configs``: every DescribeConfigs entry of each
    topic (value and source); ``groups``: every consumer group's committed
    offsets; ``topics``: every topic name with its partition count.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=15)
    state: dict[str, Any] = {
        "topics": sorted((name, len(t.partitions)) for name, t in md.topics.items()),
        "records": independent_read_all(bootstrap, topics),
    }
    configs = {}
    for res, fut in admin.describe_configs([ConfigResource("topic", t) for t in topics]).items():
        configs[res.name] = {k: (e.value, str(e.source)) for k, e in sorted(fut.result().items())}
    state["configs"] = configs
    groups: dict[str, Any] = {}
    listing = admin.list_consumer_groups(request_timeout=15).result()
    for group in sorted(g.group_id for g in listing.valid):
        futs = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
        for fut in futs.values():
            groups[group] = sorted(
                (tp.topic, tp.partition, tp.offset) for tp in fut.result().topic_partitions
            )
    state["groups"] = groups
    return state


def journal_is_whole_json(plan: Path) -> dict[str, Any]:
    """Parse the journal file ``status`` names; fails the test if it is torn."""
    path = Path(status_json(plan)["journal"])
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data

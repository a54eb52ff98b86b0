"""``kmigrate sandbox up|seed|down``: two local brokers for rehearsals and tests."""

from __future__ import annotations

import time
from pathlib import Path

from kmigrate.adapters import sandbox as brokers
from kmigrate.ui import UI

DEFAULT_DIR = Path(".kmigrate-sandbox")


def up(
    ui: UI, *, source_port: int = 19092, target_port: int = 29092, state_dir: Path = DEFAULT_DIR
) -> int:
    """Start the source and target brokers.  Returns 0.

    Raises:
        kmigrate.errors.UsageError: a sandbox is already running here, or the
            sandbox extra is missing.
        kmigrate.errors.ClusterError: a broker did not start.
    """
    started = brokers.up(state_dir, source_port, target_port)
    for b in started:
        ui.ok(f"{b.role} broker on {b.bootstrap} (pid {b.pid})")
    ui.emit_json([b.__dict__ for b in started])
    return 0


def seed(ui: UI, *, bootstrap_servers: str = "127.0.0.1:19092", records: int = 2000) -> int:
    """Seed the sandbox source with realistic traffic.  Returns 0.

    Raises:
        kmigrate.errors.ClusterError: the broker refused a topic or record.
    """
    written = brokers.seed(bootstrap_servers, records)
    ui.table(
        [[t, brokers.SEED_TOPICS[t][0], n] for t, n in written.items()],
        ["topic", "partitions", "records"],
    )
    ui.ok(
        f"seeded {sum(written.values()):,} records into {bootstrap_servers}; consumer group "
        f"{brokers.SEED_GROUP} has committed offsets"
    )
    ui.emit_json(written)
    return 0


def produce(
    ui: UI,
    *,
    bootstrap_servers: str = "127.0.0.1:19092",
    rate: float = 100.0,
    duration_s: float | None = None,
) -> int:
    """Produce live records to the seed topics at ``rate`` records/s.  Returns 0.

    Runs for ``duration_s`` seconds, or until Ctrl-C (a clean stop: queued
    records are flushed and the counts printed).

    Raises:
        kmigrate.errors.UsageError: a rate <= 0.
        kmigrate.errors.ClusterError: the broker refused records.
    """
    ui.line(
        f"producing about {rate:,.0f} records/s to {len(brokers.SEED_TOPICS)} topics on "
        f"{bootstrap_servers}" + (f" for {duration_s:g} s" if duration_s else " until Ctrl-C")
    )
    t0 = time.monotonic()
    written = brokers.produce_live(
        bootstrap_servers,
        rate,
        duration_s=duration_s,
        on_progress=lambda n: ui.line(f"  {n:,} records so far"),
    )
    elapsed = time.monotonic() - t0
    total = sum(written.values())
    if written:
        ui.table([[t, n] for t, n in written.items()], ["topic", "records"])
    ui.ok(f"produced {total:,} records in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f}/s)")
    ui.emit_json(written)
    return 0


def down(ui: UI, *, state_dir: Path = DEFAULT_DIR) -> int:
    """Stop the sandbox brokers.  Returns 0."""
    stopped = brokers.down(state_dir)
    for b in stopped:
        ui.ok(f"stopped {b.role} broker on {b.bootstrap}")
    if not stopped:
        ui.line("no sandbox broker was running")
    return 0

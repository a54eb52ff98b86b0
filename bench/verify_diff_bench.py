"""Time of ``kmigrate verify`` when many partitions differ, and output size at scale.

Starts two local sandbox brokers (Tansu, from the ``sandbox`` extra) on free
loopback ports, then:

* ``diff`` (default): one topic of ``--partitions`` partitions (200) with
  ``--records`` records each (20) on the source, and the same records on the
  target except one changed value per partition (the middle one), so every
  partition differs.  Times ``kmigrate verify`` over it (exit 1 expected) and
  checks that every partition is named with its first differing offset; then
  the same with nothing changed (``same``), the floor.
* ``lines`` (``--lines``): ``--topics`` topics (400) with ``--partitions``
  partitions in all (2,500), ``--records`` records each, and counts the lines
  and the widest line of ``kmigrate provision``, ``mirror`` and ``verify``
  (output to a pipe, as in a log).

``--other-topics N`` adds N empty topics of 6 partitions to both brokers
(the trial's cluster had 401 topics).
``--python-path DIR`` runs kmigrate from another copy of its code, a folder
holding ``kmigrate/`` (e.g. ``git archive REV kmigrate | tar -x -C DIR``), for a
before/after comparison; ``--keep-output DIR`` keeps each output of
``--lines``.  The brokers always stop.

Usage::

    python bench/verify_diff_bench.py [--partitions 200] [--records 20] [--workers N]
                                      [--other-topics N] [--python-path DIR]
    python bench/verify_diff_bench.py --lines [--topics 400] [--partitions 2500]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

TOPIC = "bench-verify-diff"


def fail(message: str) -> None:
    """Stop the bench with a message."""
    raise SystemExit(f"verify_diff_bench: {message}")


def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    """Create topics (name -> partitions) and wait until Metadata shows them all."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = list(topics)
    for i in range(0, len(names), 50):
        batch = names[i : i + 50]
        futures = admin.create_topics([NewTopic(n, topics[n], 1) for n in batch])
        for f in futures.values():
            f.result(60)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        meta = admin.list_topics(timeout=10).topics
        if all(n in meta and len(meta[n].partitions) == p for n, p in topics.items()):
            return
        time.sleep(0.2)
    fail(f"topics on {bootstrap} did not all appear")


def produce(bootstrap: str, topics: dict[str, int], records: int, changed: bool) -> None:
    """``records`` records into every partition; with ``changed``, the middle
    record of each partition gets another value."""
    from confluent_kafka import Producer

    errors: list[str] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 5,
            "on_delivery": lambda err, _m: errors.append(str(err)) if err else None,
        }
    )
    for topic, parts in topics.items():
        for p in range(parts):
            for i in range(records):
                value = b"changed" if changed and i == records // 2 else b"v%06d" % i
                while True:
                    try:
                        producer.produce(
                            topic, key=b"k%06d" % i, value=value, partition=p, timestamp=1000 + i
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
    if producer.flush(120) or errors:
        fail(f"producing to {bootstrap}: {errors[:3]}")


def kmigrate(argv: list[str], python_path: str | None) -> tuple[float, int, str]:
    """Run ``python -m kmigrate ARGV``; ``(seconds, exit code, stdout + stderr)``."""
    env = dict(os.environ)
    if python_path:
        env["PYTHONPATH"] = python_path
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "kmigrate", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=python_path,  # python -m puts the working folder first on sys.path
    )
    return time.monotonic() - t0, done.returncode, done.stdout + done.stderr


def shape(text: str) -> dict[str, int]:
    """Lines and the widest line of an output."""
    lines = text.splitlines()
    return {"lines": len(lines), "widest": max((len(s) for s in lines), default=0)}


def run_diff(args: argparse.Namespace, source: str, target: str) -> dict[str, Any]:
    """The ``diff`` measurement (module docstring)."""
    workers = ["--workers", str(args.workers)] if args.workers else []
    out: dict[str, Any] = {
        "partitions": args.partitions,
        "records": args.records,
        "other_topics": args.other_topics,
    }
    if args.other_topics:  # a cluster of many topics: each new consumer's Metadata is larger
        others = {f"bench-other-{i:04d}": 6 for i in range(args.other_topics)}
        create_topics(source, others)
        create_topics(target, others)
    for name, changed in (("differing", True), ("same", False)):
        topic = f"{TOPIC}-{name}"
        topics = {topic: args.partitions}
        create_topics(source, topics)
        create_topics(target, topics)
        produce(source, topics, args.records, False)
        produce(target, topics, args.records, changed)
        argv = ["verify", "--source", source, "--target", target, "--topic", topic, *workers]
        seconds, code, text = kmigrate(argv, args.python_path)
        if code != (1 if changed else 0):
            fail(f"verify exited {code} ({name}):\n{text[-2000:]}")
        if changed and f"{args.partitions} of {args.partitions} partitions differ" not in text:
            fail(f"verify did not find every differing partition:\n{text[-2000:]}")
        out[name] = {"seconds": round(seconds, 2), **shape(text)}
    return out


def run_lines(args: argparse.Namespace, source: str, target: str, tmp: Path) -> dict[str, Any]:
    """The ``lines`` measurement (module docstring)."""
    per, extra = divmod(args.partitions, args.topics)
    topics = {f"bench-lines-{i:04d}": per + (1 if i < extra else 0) for i in range(args.topics)}
    create_topics(source, topics)
    produce(source, topics, args.records, False)
    snap = tmp / "snapshot.yaml"
    out: dict[str, Any] = {"topics": args.topics, "partitions": args.partitions}
    plain = ["--topic", "bench-lines-*"]
    pair = ["--source", source, "--target", target, *plain]
    for name, argv in (
        ("export", ["export", "--source", source, *plain, "-o", str(snap)]),
        ("provision", ["provision", str(snap), "--target", target]),
        ("mirror", ["mirror", *pair, "--state-dir", str(tmp / "state")]),
        ("verify", ["verify", *pair]),
    ):
        seconds, code, text = kmigrate(argv, args.python_path)
        if args.keep_output:
            Path(args.keep_output).mkdir(parents=True, exist_ok=True)
            (Path(args.keep_output) / f"{name}.txt").write_text(text)
        if code:
            fail(f"{name} exited {code}:\n{text[-2000:]}")
        out[name] = {"seconds": round(seconds, 1), **shape(text)}
    return out


def main(argv: list[str] | None = None) -> int:
    """Start the brokers, measure, print JSON; the brokers always stop."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", action="store_true", help="measure output size instead")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--topics", type=int, default=400)
    parser.add_argument("--records", type=int, default=20, help="records per partition")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--python-path", default=None, help="run kmigrate from this folder")
    parser.add_argument(
        "--other-topics", type=int, default=0, help="diff: empty 6-partition topics besides"
    )
    parser.add_argument("--keep-output", default=None, help="lines: save each output here")
    args = parser.parse_args(argv)
    if args.partitions is None:
        args.partitions = 2500 if args.lines else 200
    from kmigrate.adapters import sandbox

    started: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="kmigrate-vdb-") as tmp, ExitStack() as stack:
        for role in ("source", "target"):
            broker = sandbox.start_broker(role, sandbox.free_port(), Path(tmp) / f"{role}.log")
            stack.callback(sandbox.stop_pid, broker.pid)
            started.append(broker)
        source, target = started[0].bootstrap, started[1].bootstrap
        if args.lines:
            result = run_lines(args, source, target, Path(tmp))
        else:
            result = run_diff(args, source, target)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

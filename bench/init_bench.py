"""Time ``kmigrate init`` on a source of N topics (issue 15's measure: 1,000).

    python bench/init_bench.py                          # 1,000 topics on Tansu
    python bench/init_bench.py --broker apache-kafka    # a real Kafka 3.9 ZooKeeper source
    python bench/init_bench.py --topics 2000 --partitions 1 --json /tmp/init.json

Set-up (not timed): a fresh source broker, N topics of ``--partitions`` partitions
(every fifth with a customised ``retention.ms``, every tenth ``cleanup.policy=compact``),
one record in partition 0 of each of the first ``--groups`` topics and a consumer group
committed there.  Timed: ``kmigrate init`` as the command runs it
(:func:`kmigrate.commands.init.init`: Metadata, DescribeConfigs of every topic, the
consumer groups' committed offsets, the authorizer and DescribeAcls, the plan written and
validated, the snapshot written), ``--repeat`` times, median; then ``kmigrate plan
--offline`` on the plan it wrote.  Seconds are wall-clock on whatever the machine is
doing: compare runs of one session, not across machines.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kmigrate.commands import init as init_cmd
from kmigrate.commands import plan as plan_cmd
from kmigrate.ui import UI


def populate(bootstrap: str, topics: int, partitions: int, groups: int) -> None:
    """Create the topics (in batches of 100) and the consumer groups."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"bench-{i:05d}" for i in range(topics)]
    for start in range(0, topics, 100):
        batch = []
        for i, name in enumerate(names[start : start + 100], start):
            config = {}
            if i % 5 == 0:
                config["retention.ms"] = str(86_400_000 * (1 + i % 7))
            if i % 10 == 0:
                config["cleanup.policy"] = "compact"
            batch.append(NewTopic(name, partitions, 1, config=config))
        for fut in admin.create_topics(batch, request_timeout=60).values():
            fut.result()
    producer = Producer({"bootstrap.servers": bootstrap})
    for name in names[:groups]:
        producer.produce(name, key=b"k", value=b"v", partition=0)
    assert producer.flush(30) == 0
    for g, name in enumerate(names[:groups]):
        req = ConsumerGroupTopicPartitions(f"bench-group-{g:03d}", [TopicPartition(name, 0, 1)])
        for fut in admin.alter_consumer_group_offsets([req]).values():
            fut.result()


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    """Median and all wall-clock seconds of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), runs


def quiet_ui() -> UI:
    return UI(interactive=False, out=io.StringIO())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--target-type", default="msk")
    parser.add_argument("--broker", choices=("tansu", "apache-kafka"), default="tansu")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    result: dict[str, object] = {
        "broker": args.broker,
        "topics": args.topics,
        "partitions_per_topic": args.partitions,
        "groups": args.groups,
        "repeat": args.repeat,
    }
    with tempfile.TemporaryDirectory(prefix="kmigrate-init-bench-") as folder:
        work = Path(folder)
        stop: Callable[[], object]
        if args.broker == "apache-kafka":
            from kmigrate.adapters import apache_kafka

            cluster = apache_kafka.start_source(work / "source", say=print)
            bootstrap = cluster.bootstrap
            stop = lambda: apache_kafka.stop_cluster(cluster, kill=True)  # noqa: E731
        else:
            from kmigrate.adapters import sandbox

            broker = sandbox.start_broker("source", sandbox.free_port(), work / "source.log")
            bootstrap = broker.bootstrap
            stop = lambda: sandbox.stop_pid(broker.pid)  # noqa: E731
        try:
            start = time.perf_counter()
            populate(bootstrap, args.topics, args.partitions, args.groups)
            result["setup_s"] = round(time.perf_counter() - start, 3)
            plan = work / "plan.yaml"
            median, runs = timed(
                lambda: init_cmd.init(
                    bootstrap, args.target_type, str(plan), quiet_ui(), force=True
                ),
                args.repeat,
            )
            result["init_s"] = round(median, 3)
            result["init_runs_s"] = [round(r, 3) for r in runs]
            result["plan_bytes"] = plan.stat().st_size
            snapshot = init_cmd.snapshot_path_for(plan)
            result["snapshot_bytes"] = snapshot.stat().st_size
            median, _runs = timed(
                lambda: plan_cmd.plan(
                    str(plan), quiet_ui(), offline=True, snapshot_path=str(snapshot)
                ),
                1,
            )
            result["plan_offline_s"] = round(median, 3)
        finally:
            stop()
    for key, value in result.items():
        print(f"{key:22} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

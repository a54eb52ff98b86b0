"""The sandbox's source: ZooKeeper and one Apache Kafka broker in ZooKeeper mode,
like the Compose brokers of the migrations kmigrate serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kmigrate.adapters.apache_kafka.cluster import Cluster, stop_cluster, wait_brokers
from kmigrate.adapters.apache_kafka.jars import kafka_libs
from kmigrate.adapters.apache_kafka.processes import (
    Node,
    check_free,
    free_ports,
    start_node,
    wait_port,
)
from kmigrate.adapters.apache_kafka.server_properties import (
    LOG4J1,
    source_properties,
    write_properties,
    zookeeper_properties,
)
from kmigrate.adapters.apache_kafka.settings import RETENTION_CHECK_MS, SOURCE_VERSION
from kmigrate.safefs import ensure_dir


def start_source(
    folder: Path,
    *,
    port: int | None = None,
    retention_check_ms: int = RETENTION_CHECK_MS,
    say: Callable[[str], None] = lambda _m: None,
) -> Cluster:
    """Start the source: ZooKeeper and one Kafka :data:`SOURCE_VERSION` broker in ``folder``.

    ``port``: the broker's PLAINTEXT port (default: a free one; ZooKeeper's is always free).
    ``retention_check_ms``: how often the broker deletes segments past retention
    (``log.retention.check.interval.ms``; the tests make it a day, see
    :data:`RETENTION_CHECK_MS`).

    Raises:
        UsageError: java or mvn missing.
        ClusterError: a JVM exited, or the broker did not answer within
            :data:`START_TIMEOUT_S` seconds.
    """
    libs = str(kafka_libs(SOURCE_VERSION, say=say))
    ensure_dir(folder)
    zk_port, spare = free_ports(2)
    port = port or spare
    check_free(port)
    (folder / "log4j.properties").write_text(LOG4J1)
    write_properties(folder / "zookeeper.properties", zookeeper_properties(folder, zk_port))
    write_properties(
        folder / "server.properties",
        source_properties(folder, port, zk_port, retention_check_ms),
    )
    zk = Node(
        "zookeeper",
        "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        str(folder / "zookeeper.properties"),
        libs,
        str(folder / "zookeeper.log"),
        SOURCE_VERSION,
        ports={"client": zk_port},
    )
    broker = Node(
        "broker-1",
        "kafka.Kafka",
        str(folder / "server.properties"),
        libs,
        str(folder / "broker-1.log"),
        SOURCE_VERSION,
        ports={"node_id": 1, "PLAINTEXT": port},
    )
    bootstrap = f"127.0.0.1:{port}"
    cluster = Cluster("source", SOURCE_VERSION, str(folder), bootstrap, bootstrap, [zk, broker])
    say(f"starting source: ZooKeeper and Apache Kafka {SOURCE_VERSION} on {bootstrap} ...")
    try:
        start_node(zk)
        wait_port(zk_port, zk)
        start_node(broker)
        wait_brokers(cluster, 1)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster

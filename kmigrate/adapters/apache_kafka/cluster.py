"""A running sandbox cluster: its state (nodes, listeners, users; saved to and
loaded from a 0600 JSON file), waiting for its brokers, and stopping it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from kmigrate.adapters.apache_kafka.processes import Node, alive, start_node, stop_node
from kmigrate.adapters.apache_kafka.settings import SCRAM_MECHANISM, START_TIMEOUT_S
from kmigrate.errors import ClusterError
from kmigrate.safefs import atomic_write


@dataclass
class Cluster:
    """A running sandbox cluster.

    ``bootstrap`` is what a client of this cluster is given (for the target:
    the SASL_SSL listener); ``internal`` the PLAINTEXT listener used for
    set-up (the same as ``bootstrap`` on the source).  ``client_config`` holds
    the librdkafka settings for ``bootstrap`` with the password as it is:
    keep it out of output (``sandbox up`` writes it to a 0600 file).
    """

    role: str
    version: str
    folder: str
    bootstrap: str
    internal: str
    nodes: list[Node]
    client_config: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    ca: str = ""

    def node_for(self, node_id: int) -> Node:
        """The node with Kafka ``node.id``/``broker.id`` ``node_id``."""
        for node in self.nodes:
            if node.ports.get("node_id") == node_id:
                return node
        raise KeyError(node_id)

    def kafka_nodes(self) -> list[Node]:
        """The broker nodes (not ZooKeeper)."""
        return [n for n in self.nodes if "node_id" in n.ports]

    def config_for(self, user: str) -> dict[str, str]:
        """librdkafka settings to reach ``bootstrap`` as ``user`` (SASL_SSL on the target)."""
        if not self.users:
            return {"bootstrap.servers": self.bootstrap}
        return {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": SCRAM_MECHANISM,
            "sasl.username": user,
            "sasl.password": self.users[user],
            "ssl.ca.location": self.ca,
        }

    def to_json(self) -> dict[str, object]:
        """The cluster as JSON (passwords included: write it only to a 0600 file)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Cluster:
        """The inverse of :meth:`to_json`."""
        nodes = [Node(**n) for n in data.pop("nodes")]  # type: ignore[attr-defined]
        return cls(nodes=nodes, **data)  # type: ignore[arg-type]


def wait_brokers(cluster: Cluster, count: int, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until the cluster's Metadata lists ``count`` brokers.

    Raises:
        ClusterError: a node's JVM exited, or the brokers were not there within
            ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    admin = AdminClient({"bootstrap.servers": cluster.internal, "log_level": 0})
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            if node.pid and not alive(node.pid):
                raise ClusterError(f"{cluster.role} {node.name} exited; its log: {node.log}")
        try:
            if len(admin.list_topics(timeout=2).brokers) >= count:
                return
        except KafkaException:
            pass
        time.sleep(0.25)
    raise ClusterError(
        f"{cluster.role} cluster did not show {count} brokers within {timeout_s:g} s "
        f"(logs in {cluster.folder})"
    )


def stop_cluster(
    cluster: Cluster, *, kill: bool = False, timeout_s: float = 30.0
) -> list[tuple[Node, int]]:
    """Stop every JVM of ``cluster``: the brokers all at once (SIGTERM, a controlled
    shutdown; SIGKILL with ``kill`` or for any still running after ``timeout_s``
    seconds), then ZooKeeper or a dedicated controller.  Returns (node, pid) of those
    that were running."""
    stopped = []
    for group in (
        [n for n in cluster.nodes if "node_id" in n.ports],
        [n for n in cluster.nodes if "node_id" not in n.ports],
    ):
        running = [(n, n.pid) for n in group if n.pid and alive(n.pid)]
        for _node, pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for node, _pid in running:
            stop_node(node, kill=kill, timeout_s=max(deadline - time.monotonic(), 0.1))
        for node in group:
            node.pid = 0
        stopped += running
    return stopped


@contextlib.contextmanager
def node_stopped(cluster: Cluster, node_id: int, *, kill: bool = False) -> Iterator[Node]:
    """Stop one broker for the ``with`` block, then start it again with its data and
    wait until the cluster lists all its brokers."""
    node = cluster.node_for(node_id)
    stop_node(node, kill=kill)
    try:
        yield node
    finally:
        start_node(node)
        wait_brokers(cluster, len(cluster.kafka_nodes()))


def save(clusters: list[Cluster], path: Path) -> None:
    """Write the clusters (pids, ports, users) to ``path`` as JSON, mode 0600."""
    atomic_write(path, (json.dumps([c.to_json() for c in clusters], indent=2) + "\n").encode())


def load(path: Path) -> list[Cluster]:
    """The clusters :func:`save` wrote."""
    return [Cluster.from_json(c) for c in json.loads(path.read_text())]

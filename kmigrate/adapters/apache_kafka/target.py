"""The sandbox's target: Apache Kafka in KRaft mode, three nodes, SASL_SSL with
SCRAM-SHA-512 under a CA the sandbox makes, ACLs on, like a managed service
(MSK, Confluent Cloud)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kmigrate.adapters.apache_kafka.acls import grant_acls
from kmigrate.adapters.apache_kafka.cluster import Cluster, stop_cluster, wait_brokers
from kmigrate.adapters.apache_kafka.jars import java_out, kafka_libs
from kmigrate.adapters.apache_kafka.processes import Node, check_free, free_ports, start_node
from kmigrate.adapters.apache_kafka.server_properties import (
    LOG4J2,
    controller_properties,
    target_node_properties,
    write_properties,
)
from kmigrate.adapters.apache_kafka.settings import (
    ADMIN_USER,
    DEDICATED_CONTROLLER_ID,
    MIGRATION_ACLS,
    MIGRATION_USER,
    RETENTION_CHECK_MS,
    SCRAM_MECHANISM,
    TARGET_NODES,
    TARGET_VERSION,
)
from kmigrate.adapters.apache_kafka.tls import make_tls
from kmigrate.safefs import ensure_dir


def start_target(
    folder: Path,
    *,
    nodes: int = TARGET_NODES,
    port: int | None = None,
    retention_check_ms: int = RETENTION_CHECK_MS,
    dedicated_controller: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> Cluster:
    """Start the target: ``nodes`` KRaft nodes of Kafka :data:`TARGET_VERSION` in ``folder``.

    SASL_SSL with SCRAM-SHA-512 under a new CA, ACLs on, users ``admin`` (super
    user) and ``kmigrate`` (:data:`MIGRATION_ACLS`) with random passwords,
    ``default.replication.factor`` min(3, nodes) and ``min.insync.replicas``
    min(2, nodes).  ``port``: the first node's SASL_SSL port, the others on the next
    ones (default: free ports).  ``retention_check_ms`` as for :func:`start_source`.

    ``dedicated_controller``: the ``nodes`` are brokers only, and one more JVM,
    ``controller`` (``process.roles=controller``, node id 100, ports key
    ``controller_id``), is the whole KRaft quorum, as on a managed service whose
    controllers are not its brokers.  With combined nodes (the default), stopping
    two of three also loses the controller quorum: the last broker then answers no
    Metadata and never shrinks an ISR, so a write is never refused with
    NOT_ENOUGH_REPLICAS; with a dedicated controller it is.

    Raises:
        UsageError: java or mvn missing.
        ClusterError: formatting failed, a JVM exited, or the cluster did not
            answer with all its brokers within :data:`START_TIMEOUT_S` seconds.
    """
    libs = str(kafka_libs(TARGET_VERSION, say=say))
    ensure_dir(folder)
    tls = make_tls(folder / "tls")
    users = {ADMIN_USER: uuid.uuid4().hex, MIGRATION_USER: uuid.uuid4().hex}
    internal, client, controller = _ports(nodes, port)
    voters = ",".join(f"{i + 1}@127.0.0.1:{controller[i]}" for i in range(nodes))
    if dedicated_controller:
        voters = f"{DEDICATED_CONTROLLER_ID}@127.0.0.1:{controller[0]}"
    rf = min(3, nodes)
    (folder / "log4j2.properties").write_text(LOG4J2)
    cluster_id = java_out(libs, "kafka.tools.StorageTool", "random-uuid").strip()
    layout = _Layout(folder, libs, cluster_id, users)
    kafka_nodes = []
    for i in range(nodes):
        config = target_node_properties(
            folder,
            i + 1,
            voters,
            f"INTERNAL://127.0.0.1:{internal[i]},CLIENT://127.0.0.1:{client[i]}",
            controller[i],
            dedicated_controller,
            tls.server,
            rf,
            retention_check_ms,
        )
        ports = {
            "node_id": i + 1,
            "INTERNAL": internal[i],
            "CLIENT": client[i],
            "CONTROLLER": controller[i],
        }
        kafka_nodes.append(layout.node(f"node-{i + 1}", f"node-{i + 1}", config, ports))
    if dedicated_controller:
        config = controller_properties(folder, voters, controller[0], rf)
        ports = {"controller_id": DEDICATED_CONTROLLER_ID, "CONTROLLER": controller[0]}
        kafka_nodes.insert(0, layout.node("controller", "controller", config, ports))
    cluster = Cluster(
        "target",
        TARGET_VERSION,
        str(folder),
        ",".join(f"127.0.0.1:{p}" for p in client),
        ",".join(f"127.0.0.1:{p}" for p in internal),
        kafka_nodes,
        users=users,
        ca=str(tls.ca),
    )
    cluster.client_config = cluster.config_for(MIGRATION_USER)
    _start(cluster, nodes, say)
    return cluster


def _ports(nodes: int, port: int | None) -> tuple[list[int], list[int], list[int]]:
    """Free ports for ``nodes`` target nodes: ``(internal, client, controller)``, one
    each per node; the client (SASL_SSL) ports from ``port`` on when given.

    Raises:
        UsageError: a client port is in use.
    """
    ports = free_ports(3 * nodes)
    internal = ports[0::3]
    client = [port + i for i in range(nodes)] if port else ports[1::3]
    controller = ports[2::3]
    for p in client:
        check_free(p)
    return internal, client, controller


@dataclass(frozen=True)
class _Layout:
    """What every node of one target shares: its folder, jars, KRaft cluster id and
    SCRAM users (``{name: password}``)."""

    folder: Path
    libs: str
    cluster_id: str
    users: dict[str, str]

    def node(
        self, name: str, file: str, settings: dict[str, object], ports: dict[str, int]
    ) -> Node:
        """Write node ``name``'s ``file.properties`` from ``settings``, format its log
        dir, and return it (not started).

        Raises:
            ClusterError: formatting failed.
        """
        config = self.folder / f"{file}.properties"
        write_properties(config, settings)
        format_storage(self.libs, self.cluster_id, config, self.users)
        return Node(
            name,
            "kafka.Kafka",
            str(config),
            self.libs,
            str(self.folder / f"{file}.log"),
            TARGET_VERSION,
            ports=ports,
        )


def _start(cluster: Cluster, nodes: int, say: Callable[[str], None]) -> None:
    """Start the target's JVMs, wait for its ``nodes`` brokers and grant the
    migration's ACLs; on any failure stop what was started.

    Raises:
        ClusterError: a JVM exited, the brokers did not answer in time, or an ACL
            was refused.
    """
    say(
        f"starting target: {nodes} KRaft nodes of Apache Kafka {TARGET_VERSION} "
        f"(SASL_SSL on {cluster.bootstrap}) ..."
    )
    try:
        for node in cluster.nodes:
            start_node(node)
        wait_brokers(cluster, nodes)
        grant_acls(cluster.internal, f"User:{MIGRATION_USER}", MIGRATION_ACLS)
    except BaseException:
        stop_cluster(cluster)
        raise


def format_storage(libs: str, cluster_id: str, config: Path, users: dict[str, str]) -> None:
    """Format one KRaft node's log dir with the cluster id and the SCRAM users
    (``kafka-storage format``; real-kafka.md, "SCRAM-SHA-512, TLS and ACLs")."""
    scram = [
        arg
        for name, password in users.items()
        for arg in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]")
    ]
    java_out(libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), *scram)

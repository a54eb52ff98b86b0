"""Kafka Connect in distributed mode, run from Maven Central jars.

Two parts:

* :func:`start_connect` starts N Connect workers (``ConnectDistributed``) against a
  Kafka cluster (in kmigrate: the migration's target, which is where MirrorMaker 2
  on Connect writes: KIP-382, "Running MirrorMaker in a Connect cluster"), from the
  ``connect-runtime`` and ``connect-mirror`` jars fetched with Maven into the same
  cache as the brokers' jars (:func:`kmigrate.adapters.apache_kafka.maven_libs`).
  :func:`stop_worker` stops or ``kill -9``\\ s one worker.
* its REST API's client is :mod:`kmigrate.adapters.connect_rest`.

Facts used, from Apache Kafka's documentation ("Kafka Connect", section 8,
kafka.apache.org/documentation/#connect, and its REST API table) and checked
against the 4.1.0 jars (``../shared/docs/real-kafka.md``):

* worker keys: ``bootstrap.servers``, ``group.id``, ``key.converter``,
  ``value.converter``, ``config.storage.topic``, ``offset.storage.topic``,
  ``status.storage.topic`` and their ``*.replication.factor`` (default 3);
  ``listeners`` (default ``http://:8083``); a secured cluster's client settings
  cover only the worker's internal topics, so they are repeated with the
  ``producer.``, ``consumer.`` and ``admin.`` prefixes;
* ``scheduled.rebalance.max.delay.ms`` (default 300,000 ms, KIP-415): how long a
  departed worker's tasks stay unassigned;
* ``exactly.once.source.support=enabled`` (KIP-618): exactly-once source
  connectors, distributed mode only;
* config providers (KIP-297): ``${env:VAR}`` through ``EnvVarConfigProvider``
  (KIP-887, Kafka 3.5) and ``${directory:DIR:FILE}`` through
  ``DirectoryConfigProvider`` (KIP-632, Kafka 2.7), so connector configs carry
  references, never secret values.

This module starts processes and writes only to clusters and files it was given.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from kmigrate.adapters import apache_kafka
from kmigrate.adapters.apache_kafka import Node, free_ports, maven_libs, start_node, stop_node
from kmigrate.adapters.apache_kafka.processes import alive
from kmigrate.adapters.apache_kafka.server_properties import LOG4J2
from kmigrate.errors import ClusterError
from kmigrate.safefs import ensure_dir

#: The Connect runtime's version: the target's Kafka (Connect needs Java 17 from 4.0).
CONNECT_VERSION = apache_kafka.TARGET_VERSION
#: Connect's main class (``bin/connect-distributed.sh``).
CONNECT_MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"
#: Byte-for-byte converter: MirrorMaker 2's dedicated mode uses it; on Connect it is
#: set by hand (real-kafka.md, "MirrorMaker 2 on Connect").
BYTE_ARRAY_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
#: How long a worker may take to answer on its REST port, in seconds (2 cores).
START_TIMEOUT_S = 180.0
#: ``scheduled.rebalance.max.delay.ms`` for the workers started here: how long the
#: tasks of a worker that died stay unassigned (Kafka's default: 300,000 ms).
REBALANCE_DELAY_MS = 10_000
#: Config providers every worker started here has (KIP-297, KIP-887, KIP-632).
CONFIG_PROVIDERS = {
    "config.providers": "env,directory",
    "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
    "config.providers.directory.class": (
        "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
    ),
}


def _connect_deps(version: str) -> list[tuple[str, str, str]]:
    log4j = apache_kafka.LOG4J2_VERSION
    return [
        ("org.apache.kafka", "connect-runtime", version),
        ("org.apache.kafka", "connect-mirror", version),
        ("org.apache.logging.log4j", "log4j-core", log4j),
        ("org.apache.logging.log4j", "log4j-slf4j-impl", log4j),
    ]


def connect_libs(
    version: str = CONNECT_VERSION, say: Callable[[str], None] = lambda _m: None
) -> Path:
    """The folder of jars that runs Kafka Connect ``version`` with the MirrorMaker 2
    connectors (``connect-runtime``, ``connect-mirror`` and their runtime
    dependencies, Log4j 2 added: real-kafka.md, "Logging"), about 36 MB, fetched
    with Maven on first use into ``cache_root()/connect-VERSION/libs``.

    Raises:
        UsageError: ``java`` or ``mvn`` is missing.
        ClusterError: Maven failed.
    """
    return maven_libs(
        f"connect-{version}",
        _connect_deps(version),
        f"connect-mirror-{version}.jar",
        f"Kafka Connect {version}",
        say,
    )


#: Connect's heap, as ``bin/connect-distributed.sh`` sets it (``KAFKA_HEAP_OPTS``).
CONNECT_HEAP = ("-Xms256M", "-Xmx2G")


@dataclass
class ConnectNode(Node):
    """A Connect worker's JVM: a broker :class:`~kmigrate.adapters.apache_kafka.Node`
    with Connect's own heap (:data:`CONNECT_HEAP`; the brokers here run smaller), so
    that MirrorMaker 2's tasks are measured with the memory Kafka gives them."""

    heap: tuple[str, ...] = CONNECT_HEAP

    def command(self) -> list[str]:
        """The ``java`` command line, the broker's heap flags replaced."""
        cmd = [a for a in super().command() if not a.startswith(("-Xmx", "-Xms"))]
        return [cmd[0], *self.heap, *cmd[1:]]


@dataclass
class ConnectCluster:
    """A running Connect cluster: its workers (:class:`~kmigrate.adapters.apache_kafka.Node`,
    ``ports["rest"]`` each), ``group.id``, internal topics and start time.

    ``start_s``: seconds from the first JVM's start to every worker answering on
    its REST port and the group having a leader (measured by :func:`start_connect`).
    """

    folder: str
    group_id: str
    workers: list[ConnectNode]
    topics: tuple[str, str, str]
    start_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    def url(self, index: int = 0) -> str:
        """The REST base URL of worker ``index``."""
        return f"http://127.0.0.1:{self.workers[index].ports['rest']}"

    def live_url(self) -> str:
        """The REST URL of the first worker still running.

        Raises:
            ClusterError: no worker runs.
        """
        for i, worker in enumerate(self.workers):
            if worker.pid and alive(worker.pid):
                return self.url(i)
        raise ClusterError(f"no Connect worker runs (logs in {self.folder})")

    def worker_id(self, index: int) -> str:
        """The ``worker_id`` the REST status gives worker ``index``'s tasks (host:port)."""
        return f"127.0.0.1:{self.workers[index].ports['rest']}"


def worker_properties(
    bootstrap: str,
    client: Mapping[str, str],
    group_id: str,
    rest_port: int,
    replication_factor: int,
    *,
    exactly_once: bool = True,
    rebalance_delay_ms: int = REBALANCE_DELAY_MS,
    offset_flush_ms: int = 1_000,
) -> dict[str, str]:
    """The properties of one distributed worker (keys as in the module docstring).

    ``client``: Java client settings for ``bootstrap`` (``security.protocol``,
    ``sasl.*``, ``ssl.*``; values may be ``${env:VAR}`` references, resolved by the
    worker's config providers), repeated under ``producer.``, ``consumer.`` and
    ``admin.``.  ``replication_factor``: of the config, offset and status topics
    (the Kafka cluster's own; Connect's default 3 fails on a smaller cluster).
    ``offset_flush_ms``: ``offset.flush.interval.ms`` (default 60,000 ms), how
    often source offsets are committed when exactly-once is off.
    """
    props: dict[str, str] = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "key.converter": BYTE_ARRAY_CONVERTER,
        "value.converter": BYTE_ARRAY_CONVERTER,
        "header.converter": BYTE_ARRAY_CONVERTER,
        "config.storage.topic": f"{group_id}-configs",
        "offset.storage.topic": f"{group_id}-offsets",
        "status.storage.topic": f"{group_id}-status",
        "config.storage.replication.factor": str(replication_factor),
        "offset.storage.replication.factor": str(replication_factor),
        "status.storage.replication.factor": str(replication_factor),
        "listeners": f"http://127.0.0.1:{rest_port}",
        "rest.advertised.host.name": "127.0.0.1",
        "rest.advertised.port": str(rest_port),
        "plugin.discovery": "service_load",
        "scheduled.rebalance.max.delay.ms": str(rebalance_delay_ms),
        "offset.flush.interval.ms": str(offset_flush_ms),
        "exactly.once.source.support": "enabled" if exactly_once else "disabled",
        **CONFIG_PROVIDERS,
    }
    for prefix in ("", "producer.", "consumer.", "admin."):
        for key, value in client.items():
            if key != "bootstrap.servers":
                props[prefix + key] = value
    return props


def start_connect(
    folder: Path,
    bootstrap: str,
    client: Mapping[str, str] | None = None,
    *,
    workers: int = 2,
    replication_factor: int = 1,
    exactly_once: bool = True,
    env: Mapping[str, str] | None = None,
    rebalance_delay_ms: int = REBALANCE_DELAY_MS,
    timeout_s: float = START_TIMEOUT_S,
    say: Callable[[str], None] = lambda _m: None,
) -> ConnectCluster:
    """Start ``workers`` distributed Connect workers of :data:`CONNECT_VERSION` in ``folder``.

    Each worker gets a free REST port on 127.0.0.1, the same new ``group.id``
    (``kmigrate-connect-XXXXXXXX``) and internal topics named after it on
    ``bootstrap``.  ``env``: extra environment of the JVMs (the values of the
    ``${env:VAR}`` references in ``client`` and in connector configs; kept out of
    every file written).  Returns when every worker answers ``GET /connectors``,
    with :attr:`ConnectCluster.start_s` measured.

    Raises:
        UsageError: java or mvn missing.
        ClusterError: a worker exited while starting or did not answer within
            ``timeout_s`` seconds (its log named).
    """
    libs = str(connect_libs(say=say))
    ensure_dir(folder)
    (folder / "log4j2.properties").write_text(_LOG4J2)
    group_id = f"kmigrate-connect-{uuid.uuid4().hex[:8]}"
    ports = free_ports(workers)
    nodes = []
    for i, port in enumerate(ports):
        config = folder / f"worker-{i + 1}.properties"
        props = worker_properties(
            bootstrap,
            client or {},
            group_id,
            port,
            replication_factor,
            exactly_once=exactly_once,
            rebalance_delay_ms=rebalance_delay_ms,
        )
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{k}={_escape(v)}\n" for k, v in props.items()))
        nodes.append(
            ConnectNode(
                f"connect-{i + 1}",
                CONNECT_MAIN,
                str(config),
                libs,
                str(folder / f"worker-{i + 1}.log"),
                CONNECT_VERSION,
                ports={"rest": port},
            )
        )
    cluster = ConnectCluster(
        str(folder),
        group_id,
        nodes,
        (f"{group_id}-configs", f"{group_id}-offsets", f"{group_id}-status"),
        env=dict(env or {}),
    )
    say(f"starting {workers} Kafka Connect {CONNECT_VERSION} workers ...")
    began = time.monotonic()
    try:
        for node in nodes:
            start_worker(cluster, node)
        for i in range(workers):
            wait_rest(cluster, i, timeout_s=max(timeout_s - (time.monotonic() - began), 1.0))
    except BaseException:
        stop_connect(cluster, kill=True)
        raise
    cluster.start_s = time.monotonic() - began
    return cluster


def _escape(value: str) -> str:
    """A Java properties value: backslashes doubled (``=`` and ``:`` are safe after
    the first separator)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def start_worker(cluster: ConnectCluster, node: Node) -> int:
    """Start (or start again) one worker's JVM with the cluster's extra environment."""
    saved = {k: os.environ.get(k) for k in cluster.env}
    os.environ.update(cluster.env)
    try:
        return start_node(node)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_rest(cluster: ConnectCluster, index: int, *, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until worker ``index`` answers ``GET /connectors`` with 200 (it has joined
    the group and read the config topic: Connect answers 503 or times out before).

    Raises:
        ClusterError: the worker exited, or did not answer within ``timeout_s`` seconds.
    """
    node = cluster.workers[index]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(node.pid):
            raise ClusterError(f"Connect worker {node.name} exited while starting; log: {node.log}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{cluster.url(index)}/connectors", timeout=5).status_code == 200:
                return
        time.sleep(0.5)
    raise ClusterError(
        f"Connect worker {node.name} did not answer on {cluster.url(index)} within "
        f"{timeout_s:g} s; log: {node.log}"
    )


def stop_worker(cluster: ConnectCluster, index: int, *, kill: bool = False) -> bool:
    """Stop worker ``index`` (SIGTERM: it leaves the group; ``kill``: SIGKILL, as a
    crash).  True when it was running."""
    return stop_node(cluster.workers[index], kill=kill)


def stop_connect(cluster: ConnectCluster, *, kill: bool = False) -> None:
    """Stop every worker."""
    for node in cluster.workers:
        stop_node(node, kill=kill)


#: The brokers' Log4j 2 settings (WARN to the console), Connect's and MM2's INFO added.
_LOG4J2 = LOG4J2 + (
    "logger.connect.name = org.apache.kafka.connect.runtime\n"
    "logger.connect.level = INFO\n"
    "logger.mirror.name = org.apache.kafka.connect.mirror\n"
    "logger.mirror.level = INFO\n"
)

"""Kafka Connect in distributed mode, run from Maven Central jars, and its REST API.

Two parts:

* :func:`start_connect` starts N Connect workers (``ConnectDistributed``) against a
  Kafka cluster (in kmigrate: the migration's target, which is where MirrorMaker 2
  on Connect writes: KIP-382, "Running MirrorMaker in a Connect cluster"), from the
  ``connect-runtime`` and ``connect-mirror`` jars fetched with Maven into the same
  cache as the brokers' jars (:func:`kmigrate.adapters.apache_kafka.maven_libs`).
  :func:`stop_worker` stops or ``kill -9``\\ s one worker.
* :class:`ConnectRest`, a small client of the Connect REST API (create or update,
  delete, status with task states and traces, restart, config validation), with
  :func:`summarise_trace` putting a failed task's Java stack trace into words.

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
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from kmigrate.adapters import apache_kafka
from kmigrate.adapters.apache_kafka import Node, free_ports, maven_libs, start_node, stop_node
from kmigrate.errors import ClusterError, StepFailed, UsageError
from kmigrate.plan.refs import UnresolvedReference, resolve
from kmigrate.redact import redact
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
            if worker.pid and apache_kafka._alive(worker.pid):
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
        if not apache_kafka._alive(node.pid):
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
_LOG4J2 = apache_kafka._LOG4J2 + (
    "logger.connect.name = org.apache.kafka.connect.runtime\n"
    "logger.connect.level = INFO\n"
    "logger.mirror.name = org.apache.kafka.connect.mirror\n"
    "logger.mirror.level = INFO\n"
)


# --- REST ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskStatus:
    """One task (or the connector itself, ``id`` -1): its ``state`` (UNASSIGNED,
    RUNNING, PAUSED, STOPPED, FAILED, RESTARTING), the worker that runs it
    (``host:port``) and, when FAILED, Connect's Java stack trace."""

    id: int
    state: str
    worker_id: str
    trace: str = ""


@dataclass(frozen=True)
class ConnectorStatus:
    """``GET /connectors/NAME/status``: the connector's own state and its tasks."""

    name: str
    connector: TaskStatus
    tasks: tuple[TaskStatus, ...]

    @property
    def running(self) -> bool:
        """True when the connector and at least one task are RUNNING and every task is."""
        return (
            self.connector.state == "RUNNING"
            and bool(self.tasks)
            and all(t.state == "RUNNING" for t in self.tasks)
        )

    def failures(self) -> list[str]:
        """One line per FAILED part (the connector, or a task by id): where it ran
        and :func:`summarise_trace` of its trace."""
        parts = [self.connector, *self.tasks]
        return [
            f"{'connector' if p.id < 0 else f'task {p.id}'} of {self.name} FAILED on worker "
            f"{p.worker_id}: {summarise_trace(p.trace)}"
            for p in parts
            if p.state == "FAILED"
        ]


class ConnectorFailed(StepFailed):
    """A connector or one of its tasks is FAILED; the message says why in words."""


_CAUSE = re.compile(r"^(?:Caused by: )?([\w.$]+(?:Exception|Error))(?:: (.*))?$")


def summarise_trace(trace: str) -> str:
    """A Java stack trace in one line of words: the first exception and its root
    cause (the last ``Caused by:``), class names without their package, ``at ...``
    frames left out, secrets masked.  An empty trace gives "no trace given".

    Example: ``ConnectException: Failed to create admin client; root cause:
    SaslAuthenticationException: Authentication failed during authentication due to
    invalid credentials with SASL mechanism SCRAM-SHA-512``.
    """
    causes = []
    for line in trace.splitlines():
        match = _CAUSE.match(line.strip())
        if match:
            name = match.group(1).rsplit(".", 1)[-1]
            causes.append(f"{name}: {match.group(2)}" if match.group(2) else name)
    if not causes:
        first = trace.strip().splitlines()[0] if trace.strip() else "no trace given"
        return redact(first)
    text = causes[0] if len(causes) == 1 else f"{causes[0]}; root cause: {causes[-1]}"
    return redact(text)


class ConnectRest:
    """A client of one Kafka Connect REST API (base ``url``, e.g.
    ``http://connect:8083``), over ``requests``.

    ``auth``: HTTP basic (user, password), as Connect's
    ``BasicAuthSecurityRestExtension`` takes it (KIP-208); build it from plan
    references with :meth:`from_refs`.  Errors name the URL path and Connect's
    ``message``, never a credential.  Calls: Kafka docs, "Kafka Connect REST
    Interface" (kafka.apache.org/documentation/#connect_rest).
    """

    def __init__(
        self, url: str, auth: tuple[str, str] | None = None, timeout_s: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self._session = requests.Session()
        self._session.auth = auth
        self.timeout_s = timeout_s

    @classmethod
    def from_refs(
        cls,
        url: str,
        username: str | None,
        password: str | None,
        environ: Mapping[str, str],
        base_dir: Path,
    ) -> ConnectRest:
        """A client whose basic-auth user and password are ``${ENV}`` or
        ``${file:path}`` references, resolved through :func:`kmigrate.plan.refs.resolve`
        (so every value is remembered and masked in any later message).

        Raises:
            UsageError: a reference names an unset variable or unreadable file
                (the message names it, never a value).
        """
        if not (username or password):
            return cls(url)
        try:
            user = resolve(username or "", environ, base_dir)
            secret = resolve(password or "", environ, base_dir)
        except UnresolvedReference as exc:
            raise UsageError(f"Connect REST authentication: {exc}") from None
        return cls(url, (user, secret))

    def _send(self, method: str, path: str, body: Any = None) -> requests.Response:
        """One request; an answer of 400 or more raises with Connect's ``message``.

        Raises:
            ClusterError: no answer, or an error status (the URL path and Connect's
                message, masked; never a credential).
        """
        try:
            resp = self._session.request(
                method, f"{self.url}{path}", json=body, timeout=self.timeout_s
            )
        except requests.RequestException as exc:
            raise ClusterError(
                f"Kafka Connect at {self.url} did not answer {method} {path}: {type(exc).__name__}"
            ) from None
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message", resp.text)
            except ValueError:
                message = resp.text
            raise ClusterError(
                f"Kafka Connect at {self.url}: {method} {path} answered {resp.status_code}: "
                f"{redact(str(message))[:1000]}"
            )
        return resp

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        """:meth:`_send`, the answer's JSON (None when empty)."""
        resp = self._send(method, path, body)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return resp.text

    def version(self) -> dict[str, Any]:
        """``GET /``: ``{"version", "commit", "kafka_cluster_id"}``."""
        return dict(self._call("GET", "/"))

    def plugins(self) -> list[str]:
        """``GET /connector-plugins``: the class names of the connectors installed."""
        return [p["class"] for p in self._call("GET", "/connector-plugins")]

    def validate(self, config: Mapping[str, str]) -> dict[str, list[str]]:
        """``PUT /connector-plugins/CLASS/config/validate``: the errors per config key
        (only keys with errors), as the worker would refuse the config at creation.
        Raises ClusterError when the plugin is unknown."""
        plugin = config["connector.class"].rsplit(".", 1)[-1]
        answer = self._call("PUT", f"/connector-plugins/{plugin}/config/validate", dict(config))
        out: dict[str, list[str]] = {}
        for item in answer.get("configs", []):
            value = item.get("value", {})
            if value.get("errors"):
                out[value["name"]] = list(value["errors"])
        return out

    def exactly_once_source(self, config: Mapping[str, str]) -> bool:
        """True when this Connect cluster runs source connectors exactly once (KIP-618)
        for ``config`` (a complete source connector config).

        How it is detected: the worker must be 3.3 or later (``GET /``: KIP-618 came
        in 3.3), and validating ``config`` with ``exactly.once.support=required``
        (and ``consumer.isolation.level=read_committed``, which
        MirrorSourceConnector needs to declare the support) must raise no error on
        ``exactly.once.support``: a worker without
        ``exactly.once.source.support=enabled`` answers "This worker does not have
        exactly-once source support enabled." there (``DistributedHerder``).
        """
        numbers = re.findall(r"\d+", str(self.version().get("version", "0")))[:2]
        if tuple(int(n) for n in numbers) < (3, 3):
            return False
        probe = {
            **config,
            "exactly.once.support": "required",
            "consumer.isolation.level": "read_committed",
        }
        return not self.validate(probe).get("exactly.once.support")

    def connectors(self) -> list[str]:
        """``GET /connectors``: names."""
        return list(self._call("GET", "/connectors"))

    def put_config(self, name: str, config: Mapping[str, str]) -> bool:
        """``PUT /connectors/NAME/config``: create or update; True when created (201).

        Raises:
            ClusterError: Connect refused the config (its message names the key).
        """
        return self._send("PUT", f"/connectors/{name}/config", dict(config)).status_code == 201

    def config(self, name: str) -> dict[str, str]:
        """``GET /connectors/NAME/config`` (references stay references: Connect
        resolves them only inside the worker)."""
        return dict(self._call("GET", f"/connectors/{name}/config"))

    def delete(self, name: str) -> bool:
        """``DELETE /connectors/NAME``; True when it existed (204), False on 404."""
        try:
            self._call("DELETE", f"/connectors/{name}")
        except ClusterError as exc:
            if " answered 404:" in str(exc):
                return False
            raise
        return True

    def restart(self, name: str, *, include_tasks: bool = True, only_failed: bool = True) -> None:
        """``POST /connectors/NAME/restart?includeTasks=..&onlyFailed=..`` (KIP-745)."""
        query = f"includeTasks={str(include_tasks).lower()}&onlyFailed={str(only_failed).lower()}"
        self._call("POST", f"/connectors/{name}/restart?{query}")

    def status(self, name: str) -> ConnectorStatus:
        """``GET /connectors/NAME/status``."""
        data = self._call("GET", f"/connectors/{name}/status")
        conn = data.get("connector", {})
        return ConnectorStatus(
            name,
            TaskStatus(-1, conn.get("state", ""), conn.get("worker_id", ""), conn.get("trace", "")),
            tuple(
                TaskStatus(t["id"], t["state"], t.get("worker_id", ""), t.get("trace", ""))
                for t in sorted(data.get("tasks", []), key=lambda t: int(t["id"]))
            ),
        )

    def wait_running(
        self,
        name: str,
        *,
        timeout_s: float = 120.0,
        poll_s: float = 0.5,
        tasks: int = 1,
        until: Callable[[ConnectorStatus], bool] | None = None,
    ) -> ConnectorStatus:
        """Poll the status until the connector and every task are RUNNING, with at
        least ``tasks`` tasks (the status lists tasks as they are created), or until
        ``until(status)`` holds; returns that status.

        Raises:
            ConnectorFailed: the connector or a task is FAILED (each failure in words,
                :meth:`ConnectorStatus.failures`), or nothing ran within ``timeout_s``
                seconds (the last states named).
        """
        deadline = time.monotonic() + timeout_s
        last: ConnectorStatus | None = None
        while True:
            try:
                last = self.status(name)
            except ClusterError:
                last = None  # 404 right after creation, or a worker rebalancing
            if last is not None:
                failed = last.failures()
                if failed:
                    raise ConnectorFailed("; ".join(failed))
                if until(last) if until else last.running and len(last.tasks) >= tasks:
                    return last
            if time.monotonic() >= deadline:
                states = (
                    f"connector {last.connector.state}, tasks "
                    + (", ".join(f"{t.id}: {t.state}" for t in last.tasks) or "none")
                    if last
                    else "no status"
                )
                raise ConnectorFailed(
                    f"connector {name} was not running within {timeout_s:g} s ({states})"
                )
            time.sleep(poll_s)

"""Real Apache Kafka for the sandbox and the tests, run from Maven Central jars.

Two clusters, shaped like the two ends of the migrations kmigrate serves
(``../shared/docs/real-kafka.md`` has the artifacts, main classes and keys,
checked against Kafka's own sources):

* **source** -- a Compose-style broker: Apache Kafka :data:`SOURCE_VERSION`
  in ZooKeeper mode (3.9 is the last line that has it; the seeds run
  Confluent Platform 7.5, i.e. Kafka 3.5 with ZooKeeper), one broker with a
  fixed ``broker.id``, PLAINTEXT, ``auto.create.topics.enable=false``.
* **target** -- a managed-style cluster: Apache Kafka :data:`TARGET_VERSION`
  in KRaft mode, :data:`TARGET_NODES` combined broker+controller nodes,
  ``default.replication.factor`` 3 and ``min.insync.replicas`` 2, ACLs on
  (``StandardAuthorizer``), and two client listeners as MSK offers them:
  ``CLIENT`` (SASL_SSL, SCRAM-SHA-512, a certificate from a CA the sandbox
  makes) and ``INTERNAL`` (PLAINTEXT, used between the brokers and for
  set-up).  A ``kmigrate`` principal holds exactly the ACLs a migration
  needs (:data:`MIGRATION_ACLS`); ``admin`` is a super user.  On the
  PLAINTEXT listeners the principal is ``User:ANONYMOUS``, which must be a
  super user anyway for the controllers' own requests (real-kafka.md,
  "ACLs"); the SASL_SSL listener is where authorization is real.

The jars are fetched once with Maven into ``~/.cache/kmigrate/kafka/VERSION``
(``$KMIGRATE_CACHE`` moves it), or taken from ``$KAFKA_HOME/libs`` when that
distribution has the version.  Data lives in log dirs under the cluster's
folder, so a node restarted with :func:`start_node` keeps its data.

This module starts processes and writes only to clusters it started.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from kmigrate.errors import ClusterError, UsageError
from kmigrate.safefs import atomic_write, ensure_dir, open_append

#: The source's Kafka: 3.9 is the last line with ZooKeeper mode (KIP-500 removed it in 4.0).
SOURCE_VERSION = "3.9.1"
#: The target's Kafka, KRaft only.
TARGET_VERSION = "4.1.0"
#: Log4j 2 for 4.x: the Maven POMs lack the jars the tarball adds (real-kafka.md, "Logging").
LOG4J2_VERSION = "2.24.3"
#: Nodes of the target cluster (each a combined broker and controller).
TARGET_NODES = 3
#: The KRaft node id of a target's dedicated controller
#: (``start_target(dedicated_controller=True)``).
DEDICATED_CONTROLLER_ID = 100
#: Maximum heap of each JVM, in MiB: three brokers at Kafka's default 1 GiB would
#: commit 3 GiB up front on a 2-core machine.
HEAP_MB = 384
#: How long a cluster may take to answer after its JVMs start, in seconds (2 cores,
#: class loading of five JVMs at once).
START_TIMEOUT_S = 120.0
#: Partitions of ``__consumer_offsets`` and ``__transaction_state`` (Kafka's default
#: is 50 each: their creation at the first group commit or transaction took over a
#: minute on a loaded 2-core machine).
INTERNAL_TOPIC_PARTITIONS = 6
#: ``log.retention.check.interval.ms``: Kafka's default, 5 minutes.  Retention deletes
#: even the active segment once its newest record is older than ``retention.ms``, so
#: records written with fixed old timestamps vanish at the next check; the test
#: clusters set a day, so that only DeleteRecords moves a log start offset there.  The
#: first check runs ``log.initial.task.delay.ms`` after start (Kafka's default 30 s,
#: an internal key of LogManager's scheduler): set to the same interval.
RETENTION_CHECK_MS = 300_000
#: The SCRAM mechanism of the target's SASL_SSL listener.
SCRAM_MECHANISM = "SCRAM-SHA-512"
#: The principal kmigrate runs as on the target, and the set-up super user.
MIGRATION_USER = "kmigrate"
ADMIN_USER = "admin"

#: What a migration needs on the target, as (resource type, resource name, operation):
#: provision (Create, Describe, DescribeConfigs, AlterConfigs), mirror (Write,
#: IdempotentWrite: KIP-679 makes Write imply it from 3.2, kept explicit), verify
#: (Read), translate-offsets (group Read, Describe), rollback (topic and group Delete),
#: check-connectivity (cluster Describe, DescribeConfigs).  The cluster resource is
#: ``BROKER`` in librdkafka's names, ``kafka-cluster`` its only name.
MIGRATION_ACLS: tuple[tuple[str, str, str], ...] = (
    *(("TOPIC", "*", op) for op in ("CREATE", "WRITE", "READ", "DESCRIBE", "DESCRIBE_CONFIGS")),
    ("TOPIC", "*", "DELETE"),
    ("GROUP", "*", "READ"),
    ("GROUP", "*", "DESCRIBE"),
    ("GROUP", "*", "DELETE"),
    ("BROKER", "kafka-cluster", "DESCRIBE"),
    ("BROKER", "kafka-cluster", "DESCRIBE_CONFIGS"),
    ("BROKER", "kafka-cluster", "IDEMPOTENT_WRITE"),
)

_JVM_FLAGS = [
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]


def cache_root() -> Path:
    """Where fetched jars are kept: ``$KMIGRATE_CACHE/kafka`` or ``~/.cache/kmigrate/kafka``."""
    base = os.environ.get("KMIGRATE_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "kmigrate") / "kafka"


def _kafka_deps(version: str) -> list[tuple[str, str, str]]:
    deps = [("org.apache.kafka", "kafka_2.13", version)]
    if version.startswith("3."):
        # 3.9 logs through reload4j (the log4j 1 API).
        deps.append(("org.slf4j", "slf4j-reload4j", "1.7.36"))
    else:
        deps += [
            ("org.apache.logging.log4j", "log4j-core", LOG4J2_VERSION),
            ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J2_VERSION),
        ]
    return deps


def _pom(name: str, version: str, deps: Sequence[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>kmigrate.sandbox</groupId><artifactId>{name}</artifactId>"
        f"<version>{version}</version><packaging>pom</packaging>"
        f"<dependencies>{body}</dependencies></project>\n"
    )


def _require(tool: str, what: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise UsageError(
            f"the Apache Kafka sandbox needs '{tool}' on PATH ({what}); install it "
            "(Debian: apt-get install openjdk-17-jre-headless maven) or use the default "
            "broker (--broker tansu)"
        )
    return path


def kafka_libs(version: str, *, say: Callable[[str], None] = lambda _m: None) -> Path:
    """The folder of jars that runs Kafka ``version``, fetched with Maven on first use.

    ``$KAFKA_HOME/libs`` is used as it is when it holds ``kafka_2.13-VERSION.jar``.
    Otherwise the jars come from Maven Central into
    ``cache_root()/VERSION/libs`` (about 45 MB, 10-20 s; :func:`maven_libs`).

    Raises:
        UsageError: ``java`` or ``mvn`` is missing.
        ClusterError: Maven failed (its last lines are in the message).
    """
    home = os.environ.get("KAFKA_HOME")
    if home and (Path(home) / "libs" / f"kafka_2.13-{version}.jar").is_file():
        return Path(home) / "libs"
    return maven_libs(
        version, _kafka_deps(version), f"kafka_2.13-{version}.jar", f"Apache Kafka {version}", say
    )


def maven_libs(
    name: str,
    deps: Sequence[tuple[str, str, str]],
    marker: str,
    what: str,
    say: Callable[[str], None] = lambda _m: None,
) -> Path:
    """``cache_root()/name/libs``: the jars of ``deps`` (groupId, artifactId, version)
    and their runtime dependencies, fetched with Maven on first use.

    ``marker`` is a jar file name whose presence means the folder is complete.  The
    jars are written to a temporary folder first, so an interrupted fetch leaves no
    half-filled cache.  ``what`` names the set in messages.

    Raises:
        UsageError: ``java`` or ``mvn`` is missing.
        ClusterError: Maven failed (its last lines are in the message).
    """
    _require("java", "Java 17 runs Kafka")
    libs = cache_root() / name / "libs"
    if (libs / marker).is_file():
        return libs
    mvn = _require("mvn", "Maven fetches Kafka's jars from Maven Central")
    work = cache_root() / name / f"fetch-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        (work / "pom.xml").write_text(_pom(f"{name.replace('.', '-')}-runtime", "0", deps))
        say(f"fetching {what} jars with Maven into {libs.parent} ...")
        proc = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(work / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={work / 'libs'}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
            raise ClusterError(f"fetching {what} with Maven failed:\n{tail}")
        with contextlib.suppress(FileExistsError, OSError):
            os.replace(work / "libs", libs)
        if not (libs / marker).is_file():
            raise ClusterError(f"Maven did not bring {marker} into {libs}")
        return libs
    finally:
        shutil.rmtree(work, ignore_errors=True)


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


# --- TLS -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    """PEM files of the sandbox's CA and the target brokers' certificate.

    ``ca`` is what a client trusts (``ssl.ca.location``); ``server`` holds the
    brokers' unencrypted PKCS#8 key and certificate (Kafka's PEM keystore,
    KIP-651); the certificate's SAN names ``localhost`` and ``127.0.0.1``, so
    clients verify the host name (librdkafka's default since 2.0).
    """

    ca: Path
    server: Path


def make_tls(folder: Path, *, days: int = 30) -> Tls:
    """A new CA and a broker certificate signed by it, as PEM files in ``folder`` (0600).

    Raises:
        UsageError: the ``cryptography`` package is missing.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise UsageError(
            "the Apache Kafka sandbox needs the 'sandbox' extra: pip install 'kmigrate[sandbox]'"
        ) from None
    import ipaddress

    ensure_dir(folder)
    now = datetime.datetime.now(datetime.UTC)

    def cert(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None, signer: object
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
        )
        if issuer is None:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                False,
            )
        return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("kmigrate sandbox CA", ca_key, None, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = cert("localhost", server_key, ca_cert.subject, ca_key)
    pem = serialization.Encoding.PEM
    tls = Tls(ca=folder / "ca.pem", server=folder / "server.pem")
    atomic_write(tls.ca, ca_cert.public_bytes(pem))
    atomic_write(
        tls.server,
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + server_cert.public_bytes(pem)
        + ca_cert.public_bytes(pem),
    )
    return tls


# --- processes -----------------------------------------------------------------------


@dataclass
class Node:
    """One JVM of a cluster: what it is, how to start it again, and its pid (0: stopped)."""

    name: str
    main_class: str
    config: str
    libs: str
    log: str
    version: str
    pid: int = 0
    ports: dict[str, int] = field(default_factory=dict)

    def command(self) -> list[str]:
        """The ``java`` command line that starts this node."""
        if self.version.startswith("3."):
            folder = Path(self.config).parent
            logging = [f"-Dlog4j.configuration=file:{folder / 'log4j.properties'}"]
        else:
            logging = [
                f"-Dlog4j2.configurationFile={Path(self.config).parent / 'log4j2.properties'}"
            ]
        return [
            shutil.which("java") or "java",
            f"-Xmx{HEAP_MB}m",
            "-Xms64m",
            *_JVM_FLAGS,
            f"-Dkafka.logs.dir={Path(self.log).parent}",
            *logging,
            "-cp",
            f"{self.libs}/*",
            self.main_class,
            self.config,
        ]


def start_node(node: Node) -> int:
    """Start ``node``'s JVM in its own session (it outlives this process); returns its pid."""
    with open_append(Path(node.log), binary=True) as log:
        proc = subprocess.Popen(
            node.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    node.pid = proc.pid
    return proc.pid


def stop_node(node: Node, *, kill: bool = False, timeout_s: float = 30.0) -> bool:
    """Stop ``node`` (SIGTERM, a controlled shutdown; SIGKILL with ``kill`` or after
    ``timeout_s`` seconds).  True when it was running."""
    if not node.pid or not _alive(node.pid):
        node.pid = 0
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(node.pid, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(node.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(node.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.pid, signal.SIGKILL)
        while _alive(node.pid):
            time.sleep(0.05)
    node.pid = 0
    return True


def _alive(pid: int) -> bool:
    try:
        finished, _status = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of a process not ours still answers kill(0): read its state.  The
    # main thread of a JVM shows Z while its other threads still exit, holding the
    # broker's sockets (its port still took connections after stop_node): alive until
    # it is the last task.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return len(os.listdir(f"/proc/{pid}/task")) > 1
    return True


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --- clusters ------------------------------------------------------------------------


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


def _write_config(path: Path, settings: dict[str, object]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))


_LOG4J1 = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.org.apache.zookeeper.server.ZooKeeperServerMain=INFO
"""

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRefs = out
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.BrokerServer
logger.server.level = INFO
"""


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
    _check_free(port)
    (folder / "log4j.properties").write_text(_LOG4J1)
    _write_config(
        folder / "zookeeper.properties",
        {
            "dataDir": folder / "zookeeper",
            "clientPort": zk_port,
            "clientPortAddress": "127.0.0.1",
            "maxClientCnxns": 0,
            "admin.enableServer": "false",
        },
    )
    _write_config(
        folder / "server.properties",
        {
            "broker.id": 1,
            "listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "zookeeper.connect": f"127.0.0.1:{zk_port}",
            "zookeeper.connection.timeout.ms": 18000,
            "log.dirs": folder / "data",
            "auto.create.topics.enable": "false",
            "num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": INTERNAL_TOPIC_PARTITIONS,
            "transaction.state.log.num.partitions": INTERNAL_TOPIC_PARTITIONS,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "log.retention.check.interval.ms": retention_check_ms,
            "log.initial.task.delay.ms": retention_check_ms,
        },
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
        _wait_port(zk_port, zk)
        start_node(broker)
        wait_brokers(cluster, 1)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


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
    ports = free_ports(3 * nodes)
    internal = ports[0::3]
    client = [port + i for i in range(nodes)] if port else ports[1::3]
    controller = ports[2::3]
    for p in client:
        _check_free(p)
    voters = ",".join(f"{i + 1}@127.0.0.1:{controller[i]}" for i in range(nodes))
    if dedicated_controller:
        voters = f"{DEDICATED_CONTROLLER_ID}@127.0.0.1:{controller[0]}"
    rf = min(3, nodes)
    (folder / "log4j2.properties").write_text(_LOG4J2)
    cluster_id = _java_out(libs, "kafka.tools.StorageTool", "random-uuid").strip()
    kafka_nodes = []
    for i in range(nodes):
        node_id = i + 1
        config = folder / f"node-{node_id}.properties"
        listeners = f"INTERNAL://127.0.0.1:{internal[i]},CLIENT://127.0.0.1:{client[i]}"
        _write_config(
            config,
            {
                "process.roles": "broker" if dedicated_controller else "broker,controller",
                "node.id": node_id,
                "controller.quorum.voters": voters,
                "listeners": listeners
                + ("" if dedicated_controller else f",CONTROLLER://127.0.0.1:{controller[i]}"),
                "advertised.listeners": listeners,
                "inter.broker.listener.name": "INTERNAL",
                "controller.listener.names": "CONTROLLER",
                "listener.security.protocol.map": "INTERNAL:PLAINTEXT,CLIENT:SASL_SSL,"
                "CONTROLLER:PLAINTEXT",
                "sasl.enabled.mechanisms": SCRAM_MECHANISM,
                "listener.name.client.scram-sha-512.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": tls.server,
                "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
                "log.dirs": folder / f"data-{node_id}",
                "auto.create.topics.enable": "false",
                "num.partitions": 1,
                "default.replication.factor": rf,
                "min.insync.replicas": min(2, rf),
                "offsets.topic.replication.factor": rf,
                "offsets.topic.num.partitions": INTERNAL_TOPIC_PARTITIONS,
                "transaction.state.log.num.partitions": INTERNAL_TOPIC_PARTITIONS,
                "transaction.state.log.replication.factor": rf,
                "transaction.state.log.min.isr": min(2, rf),
                "share.coordinator.state.topic.replication.factor": rf,
                "share.coordinator.state.topic.min.isr": min(2, rf),
                "group.initial.rebalance.delay.ms": 0,
                "log.retention.check.interval.ms": retention_check_ms,
                "log.initial.task.delay.ms": retention_check_ms,
            },
        )
        _format(libs, cluster_id, config, users)
        kafka_nodes.append(
            Node(
                f"node-{node_id}",
                "kafka.Kafka",
                str(config),
                libs,
                str(folder / f"node-{node_id}.log"),
                TARGET_VERSION,
                ports={
                    "node_id": node_id,
                    "INTERNAL": internal[i],
                    "CLIENT": client[i],
                    "CONTROLLER": controller[i],
                },
            )
        )
    if dedicated_controller:
        config = folder / "controller.properties"
        _write_config(
            config,
            {
                "process.roles": "controller",
                "node.id": DEDICATED_CONTROLLER_ID,
                "controller.quorum.voters": voters,
                "listeners": f"CONTROLLER://127.0.0.1:{controller[0]}",
                "controller.listener.names": "CONTROLLER",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
                "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
                "log.dirs": folder / "data-controller",
                # The controller writes its own min.insync.replicas as the cluster's
                # dynamic default when eligible leader replicas are on (KIP-966, the
                # default from 4.1): without these keys that default would be 1 and
                # override the brokers' 2.
                "auto.create.topics.enable": "false",
                "num.partitions": 1,
                "default.replication.factor": rf,
                "min.insync.replicas": min(2, rf),
            },
        )
        _format(libs, cluster_id, config, users)
        kafka_nodes.insert(
            0,
            Node(
                "controller",
                "kafka.Kafka",
                str(config),
                libs,
                str(folder / "controller.log"),
                TARGET_VERSION,
                ports={"controller_id": DEDICATED_CONTROLLER_ID, "CONTROLLER": controller[0]},
            ),
        )
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
    say(
        f"starting target: {nodes} KRaft nodes of Apache Kafka {TARGET_VERSION} "
        f"(SASL_SSL on {cluster.bootstrap}) ..."
    )
    try:
        for node in kafka_nodes:
            start_node(node)
        wait_brokers(cluster, nodes)
        grant_acls(cluster.internal, f"User:{MIGRATION_USER}", MIGRATION_ACLS)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def _format(libs: str, cluster_id: str, config: Path, users: dict[str, str]) -> None:
    """Format one KRaft node's log dir with the cluster id and the SCRAM users
    (``kafka-storage format``; real-kafka.md, "SCRAM-SHA-512, TLS and ACLs")."""
    scram = [
        arg
        for name, password in users.items()
        for arg in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]")
    ]
    _java_out(
        libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), *scram
    )


def _check_free(port: int) -> None:
    """Raises UsageError when something listens on 127.0.0.1:``port`` already."""
    with socket.socket() as sock:
        # As Kafka binds (SO_REUSEADDR): connections of a stopped broker still in
        # TIME_WAIT do not make the port busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise UsageError(
                f"port {port} on 127.0.0.1 is in use; stop what listens there or choose "
                "other ports (--source-port / --target-port)"
            ) from None


def _java_out(libs: str, main_class: str, *args: str) -> str:
    """Run a Kafka tool's main class; its standard output.

    Raises:
        ClusterError: it exited non-zero (its output, passwords masked, in the message).
    """
    proc = subprocess.run(
        [shutil.which("java") or "java", "-Xmx256m", "-cp", f"{libs}/*", main_class, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        text = re.sub(r"password=[^\]]*", "password=(secret not shown)", proc.stdout + proc.stderr)
        raise ClusterError(f"{main_class} {args[0]} failed: {text.strip()[-2000:]}")
    return proc.stdout


def _wait_port(port: int, node: Node, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(node.pid):
            raise ClusterError(f"{node.name} exited while starting; its log: {node.log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise ClusterError(f"{node.name} did not listen on {port} within {timeout_s:g} s")


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
            if node.pid and not _alive(node.pid):
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


def _allow(
    kind: type[AclBinding], principal: str, acls: Sequence[tuple[str, str, str]]
) -> list[Any]:
    """Literal ALLOW bindings (or filters matching them) for ``principal`` from any
    host, one per (resource type, name, operation)."""
    return [
        kind(
            ResourceType[rtype],
            name,
            ResourcePatternType.LITERAL,
            principal,
            "*",
            AclOperation[op],
            AclPermissionType.ALLOW,
        )
        for rtype, name, op in acls
    ]


def grant_acls(internal: str, principal: str, acls: Sequence[tuple[str, str, str]]) -> None:
    """Create literal ALLOW bindings for ``principal`` from any host, one per (resource
    type, name, operation), over the PLAINTEXT listener.

    Raises:
        ClusterError: the broker refused a binding.
    """
    admin = AdminClient({"bootstrap.servers": internal, "log_level": 0})
    futures = admin.create_acls(_allow(AclBinding, principal, acls), request_timeout=30)
    for binding, fut in futures.items():
        try:
            fut.result(timeout=60)
        except KafkaException as exc:
            raise ClusterError(f"creating ACL {binding} failed: {exc.args[0].str()}") from None


def revoke_acls(internal: str, principal: str, acls: Sequence[tuple[str, str, str]]) -> None:
    """Delete the literal ALLOW bindings :func:`grant_acls` made for these triples."""
    admin = AdminClient({"bootstrap.servers": internal, "log_level": 0})
    futures = admin.delete_acls(_allow(AclBindingFilter, principal, acls), request_timeout=30)
    for fut in futures.values():
        fut.result(timeout=60)


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
        running = [(n, n.pid) for n in group if n.pid and _alive(n.pid)]
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

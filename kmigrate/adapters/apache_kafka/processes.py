"""The sandbox's JVMs: a :class:`Node` (one JVM, how to start it again, its pid),
starting and stopping it, and the free ports its listeners take.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kmigrate.adapters.apache_kafka.settings import HEAP_MB, START_TIMEOUT_S
from kmigrate.errors import ClusterError, UsageError
from kmigrate.safefs import open_append

#: The JVM flags every node runs with, besides its heap, logging and class path.
JVM_FLAGS = [
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]


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
            *JVM_FLAGS,
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
    if not node.pid or not alive(node.pid):
        node.pid = 0
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(node.pid, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while alive(node.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(node.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.pid, signal.SIGKILL)
        while alive(node.pid):
            time.sleep(0.05)
    node.pid = 0
    return True


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie JVM counts until its last thread exits)."""
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


def check_free(port: int) -> None:
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


def wait_port(port: int, node: Node, timeout_s: float = START_TIMEOUT_S) -> None:
    """Wait until ``node`` listens on 127.0.0.1:``port``.

    Raises:
        ClusterError: the node exited, or did not listen within ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(node.pid):
            raise ClusterError(f"{node.name} exited while starting; its log: {node.log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise ClusterError(f"{node.name} did not listen on {port} within {timeout_s:g} s")

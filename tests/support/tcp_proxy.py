"""A test-side TCP proxy that can cut connections, delay traffic and move its upstream.

It sits between kmigrate and one broker.  The broker must advertise the
proxy's address (Tansu's ``--advertised-listener-url``, see
:func:`start_proxied_broker`), or clients would bypass the proxy after the
first Metadata answer.  Standard library only: one accept thread, two pump
threads per connection.

Faults on demand:

* :meth:`TcpProxy.cut` closes every open connection at once (both sides), as a
  network partition or a load balancer reset would; clients reconnect.
* :meth:`TcpProxy.delay` holds every forwarded chunk for a number of seconds.
* :meth:`TcpProxy.refuse` makes new connections fail until allowed again.
* :meth:`TcpProxy.retarget` points new connections at another upstream port
  (a broker restarted on a new port behind the same advertised address).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kmigrate.adapters import sandbox


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:upstream_port``.

    Attributes:
        port: the port clients connect to (chosen free at start).
        cuts: how many times :meth:`cut` closed at least one connection.
        connections: connections accepted in all.
        bytes_up: bytes forwarded from clients to the upstream (requests), in all.
    """

    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._delay_s = 0.0
        self._refusing = False
        self._closed = False
        self.cuts = 0
        self.connections = 0
        self.bytes_up = 0
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT`` as clients use it."""
        return f"127.0.0.1:{self.port}"

    # -- faults -------------------------------------------------------------------

    def cut(self) -> int:
        """Close every open connection (client and upstream side); returns how many."""
        with self._lock:
            victims = list(self._open)
            self._open.clear()
        for sock in victims:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        if victims:
            self.cuts += 1
        return len(victims) // 2

    def delay(self, seconds: float) -> None:
        """Hold every forwarded chunk ``seconds`` before sending it on (0 to stop)."""
        self._delay_s = seconds

    def refuse(self, refusing: bool = True) -> None:
        """Close new connections at once while ``refusing`` is true."""
        self._refusing = refusing

    def retarget(self, upstream_port: int) -> None:
        """Send new connections to ``upstream_port``; open ones are cut."""
        self.upstream_port = upstream_port
        self.cut()

    @property
    def open_connections(self) -> int:
        """Connections open through the proxy now."""
        with self._lock:
            return len(self._open) // 2

    def wait_bytes_up(self, more: int, timeout_s: float = 60.0) -> None:
        """Block until ``more`` further request bytes have passed (a write is under way).

        Raises:
            TimeoutError: they did not within ``timeout_s``.
        """
        goal = self.bytes_up + more
        deadline = time.monotonic() + timeout_s
        while self.bytes_up < goal:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {more} bytes passed the proxy in {timeout_s} s")
            time.sleep(0.005)

    def close(self) -> None:
        """Stop accepting and cut everything."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()

    # -- plumbing -----------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            self.connections += 1
            with self._lock:
                self._open.update((client, upstream))
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, up), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self._delay_s:
                    time.sleep(self._delay_s)
                dst.sendall(data)
                if up:
                    self.bytes_up += len(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()


@dataclass
class ProxiedBroker:
    """A Tansu broker on a private port that advertises a :class:`TcpProxy`'s address.

    Clients reach it only through ``proxy``.  :meth:`restart` stops the broker
    and starts an empty one (Tansu keeps data in memory) behind the same
    proxy address, as a restarted broker on a real cluster would come back.
    """

    role: str
    proxy: TcpProxy
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """What kmigrate is given: the proxy's ``host:port``."""
        return self.proxy.address

    def start(self) -> None:
        """Start the broker process and point the proxy at it.

        Raises:
            kmigrate.errors.ClusterError: it did not answer within 15 s.
        """
        self.port = sandbox.free_port()
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                [
                    sandbox.broker_binary(),
                    "broker",
                    "--listener-url",
                    f"tcp://127.0.0.1:{self.port}",
                    "--advertised-listener-url",
                    f"tcp://{self.proxy.address}",
                    "--storage-engine",
                    "memory://tansu/",
                    "--cluster-id",
                    f"faults-{self.role}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.process = proc
        self.proxy.retarget(self.port)
        self.proxy.refuse(False)
        sandbox.wait_ready(self.proxy.address, proc=proc)

    def stop(self) -> None:
        """Crash the broker: connections refused and cut first, then the process
        killed (SIGKILL); its data is gone.  New connections stay refused until
        :meth:`start`."""
        self.proxy.refuse(True)
        self.proxy.cut()
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        """Stop, then start an empty broker behind the same advertised address."""
        self.stop()
        self.start()


def start_proxied_broker(role: str, log_dir: Path) -> ProxiedBroker:
    """A new proxy plus a broker behind it; call ``stop`` and ``proxy.close`` after."""
    log_dir.mkdir(parents=True, exist_ok=True)
    broker = ProxiedBroker(role, TcpProxy(upstream_port=1), log_dir / f"{role}.log")
    broker.start()
    return broker


@contextlib.contextmanager
def proxied_broker(role: str, log_dir: Path) -> Iterator[ProxiedBroker]:
    """:func:`start_proxied_broker`, stopped (its proxy closed) on the way out."""
    broker = start_proxied_broker(role, log_dir)
    try:
        yield broker
    finally:
        broker.stop()
        broker.proxy.close()


@contextlib.contextmanager
def proxied_pair(logs: Path) -> Iterator[tuple[ProxiedBroker, ProxiedBroker]]:
    """A source and a target broker, each reachable only through its own proxy;
    both stopped (and their proxies closed) on the way out."""
    with proxied_broker("source", logs) as source, proxied_broker("target", logs) as target:
        yield source, target

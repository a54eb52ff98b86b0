"""A small client of the Kafka Connect REST API: create or update, delete, status
with task states and traces, restart, config validation, stop and resume, a
connector's source offsets (read, reset), and :func:`summarise_trace` putting a
failed task's Java stack trace into words.

Facts used, from Apache Kafka's documentation ("Kafka Connect", section 8, its REST
API table: kafka.apache.org/documentation/#connect_rest) and checked against the
4.1.0 jars; the offsets and stop calls from KIP-875 ("First-class offsets support
in Kafka Connect": ``PUT /connectors/NAME/stop`` in 3.5, ``GET``/``DELETE
/connectors/NAME/offsets`` in 3.6, the reset only for a STOPPED connector), the
creation of a connector STOPPED from KIP-980 ("Allow creating connectors in a
stopped state", 3.7: ``"initial_state": "STOPPED"`` in the ``POST /connectors`` body).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from kmigrate.clusters.port import ConnectorFailed, ConnectorStatus, TaskStatus, summarise_trace
from kmigrate.errors import ClusterError
from kmigrate.redact import redact

__all__ = [
    "ConnectHttpError",
    "ConnectRest",
    "ConnectorFailed",
    "ConnectorStatus",
    "TaskStatus",
    "summarise_trace",
]


class ConnectHttpError(ClusterError):
    """Kafka Connect answered an HTTP error; ``status`` is its code (404, 405, 409...)
    and ``message`` Connect's own (masked)."""

    def __init__(self, text: str, status: int, message: str) -> None:
        super().__init__(text)
        self.status = status
        self.message = message


class ConnectRest:
    """A client of one Kafka Connect REST API (base ``url``, e.g.
    ``http://connect:8083``), over ``requests``.

    ``auth``: HTTP basic (user, password), as Connect's
    ``BasicAuthSecurityRestExtension`` takes it (KIP-208); build it from plan
    references with :func:`kmigrate.context.connect_rest`.  Errors name the URL path and Connect's
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
            masked = redact(str(message))[:1000]
            raise ConnectHttpError(
                f"Kafka Connect at {self.url}: {method} {path} answered {resp.status_code}: "
                f"{masked}",
                resp.status_code,
                masked,
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

    def version_tuple(self) -> tuple[int, int]:
        """The worker's ``(major, minor)`` version from ``GET /`` (``(0, 0)`` when it
        says none that reads as a version)."""
        numbers = re.findall(r"\d+", str(self.version().get("version", "0")))[:2]
        return (int(numbers[0]), int(numbers[1])) if len(numbers) == 2 else (0, 0)

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
        if self.version_tuple() < (3, 3):
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

    def create_stopped(self, name: str, config: Mapping[str, str]) -> None:
        """``POST /connectors`` with ``{"name", "config", "initial_state": "STOPPED"}``
        (KIP-980, Connect 3.7+): the connector exists but neither it nor any task
        runs, so its stored source offsets can be read and reset before it copies.

        Raises:
            ConnectHttpError: 409 when the connector exists already; 400/500 when the
                worker refuses the config or (before 3.7) the ``initial_state`` field.
            ClusterError: no answer.
        """
        body = {"name": name, "config": dict(config), "initial_state": "STOPPED"}
        self._call("POST", "/connectors", body)

    def stop(self, name: str) -> None:
        """``PUT /connectors/NAME/stop`` (KIP-875, Connect 3.5+): shuts the connector
        and its tasks down (asynchronous: 202; the status turns STOPPED)."""
        self._call("PUT", f"/connectors/{name}/stop")

    def resume(self, name: str) -> None:
        """``PUT /connectors/NAME/resume``: a PAUSED or STOPPED connector runs again."""
        self._call("PUT", f"/connectors/{name}/resume")

    def offsets(self, name: str) -> list[dict[str, Any]]:
        """``GET /connectors/NAME/offsets`` (KIP-875, Connect 3.6+): the committed
        offsets, ``[{"partition": {...}, "offset": {...}}, ...]``; for a source
        connector one item per source partition (MirrorSourceConnector:
        ``{"cluster", "topic", "partition"}`` -> ``{"offset"}``)."""
        return list((self._call("GET", f"/connectors/{name}/offsets") or {}).get("offsets", []))

    def reset_offsets(self, name: str) -> None:
        """``DELETE /connectors/NAME/offsets`` (KIP-875, Connect 3.6+): forget every
        committed offset of a STOPPED connector (a running one is refused with 400).

        Raises:
            ConnectHttpError: refused (400 not STOPPED, 404/405 no such endpoint).
        """
        self._call("DELETE", f"/connectors/{name}/offsets")

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

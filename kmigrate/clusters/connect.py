"""The Kafka Connect REST API as a MirrorMaker 2 control plane (self-run or Strimzi).

:class:`ConnectRestPlane` satisfies
:class:`kmigrate.engines.mirrormaker2.plane.ConnectPlane` structurally over
:class:`kmigrate.adapters.connect_rest.ConnectRest` (``PUT /connectors/NAME/config``,
``GET /connectors/NAME/status``, ``DELETE /connectors/NAME``; Kafka docs, "Kafka
Connect REST Interface", kafka.apache.org/documentation/#connect_rest), and
:class:`kmigrate.engines.mirrormaker2.plane.OffsetsPlane`: a connector created
STOPPED (``POST /connectors`` with ``"initial_state": "STOPPED"``, KIP-980, 3.7+),
stopped (``PUT /connectors/NAME/stop``, KIP-875, 3.5+), its source offsets read and
reset (``GET``/``DELETE /connectors/NAME/offsets``, KIP-875, 3.6+), resumed.  A
worker older than that, or an endpoint answering 404/405, raises
:class:`~kmigrate.clusters.port.OffsetsUnsupported` naming the version or answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from kmigrate.adapters.connect_rest import ConnectHttpError, ConnectRest
from kmigrate.clusters.port import ConnectorStatus, OffsetsUnsupported
from kmigrate.errors import ClusterError

#: Connect versions that brought what the offsets reset needs (KIP-980, KIP-875).
CREATE_STOPPED_SINCE = (3, 7)
OFFSETS_SINCE = (3, 6)
STOP_SINCE = (3, 5)


class ConnectRestPlane:
    """Connectors on one Kafka Connect cluster, by its REST API's base ``url``.

    ``auth``: HTTP basic (user, password) already resolved from plan references
    (never shown: :attr:`where` names only the URL).  ``timeout_s``: per request.
    ``settle_s``: how long, in seconds, a connector may take to show STOPPED, and a
    reset refused while it stops is tried again; ``sleep``: ``time.sleep`` (tests
    pass another).
    """

    def __init__(
        self,
        url: str,
        auth: tuple[str, str] | None = None,
        timeout_s: float = 30.0,
        *,
        settle_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rest = ConnectRest(url, auth, timeout_s)
        self.where = f"Kafka Connect at {self.rest.url}"
        self.settle_s = settle_s  # how long a stop or a refused reset may take, seconds
        self.sleep = sleep
        self._version: tuple[int, int] | None = None

    def create(self, name: str, config: Mapping[str, str]) -> str:
        """``PUT /connectors/NAME/config`` (create or update); returns ``name``.

        Raises:
            ClusterError: Connect refused the config (its message names the key).
        """
        self.rest.put_config(name, {k: v for k, v in config.items() if k != "name"})
        return name

    def status(self, ref: str) -> ConnectorStatus:
        """``GET /connectors/NAME/status``.  Raises ClusterError (404 when unknown)."""
        return self.rest.status(ref)

    def delete(self, ref: str) -> bool:
        """``DELETE /connectors/NAME``; False when it was already gone (404)."""
        return self.rest.delete(ref)

    def exactly_once_source(self, config: Mapping[str, str]) -> bool:
        """Whether this Connect cluster runs ``config`` (a MirrorSourceConnector
        config) exactly once (KIP-618): :meth:`ConnectRest.exactly_once_source`."""
        return self.rest.exactly_once_source(config)

    # --- source offsets (KIP-875, KIP-980) ---------------------------------------

    def version(self) -> tuple[int, int]:
        """The workers' ``(major, minor)`` (``GET /``, asked once)."""
        if self._version is None:
            self._version = self.rest.version_tuple()
        return self._version

    def _needs(self, since: tuple[int, int], what: str) -> None:
        have = self.version()
        if have < since:
            raise OffsetsUnsupported(
                f"{self.where} runs Kafka Connect {have[0]}.{have[1]}; {what} needs "
                f"{since[0]}.{since[1]} or later"
            )

    def create_stopped(self, name: str, config: Mapping[str, str]) -> str:
        """``POST /connectors`` with ``"initial_state": "STOPPED"`` (KIP-980); when
        the connector exists already (409: a run stopped between creating it and
        journaling it), it is stopped and its config updated.  Waits until STOPPED;
        returns ``name``.

        Raises:
            OffsetsUnsupported: a worker before 3.7, or one refusing ``initial_state``.
            ClusterError: Connect refused the config or did not answer.
        """
        self._needs(CREATE_STOPPED_SINCE, "creating a connector STOPPED (KIP-980)")
        body = {k: v for k, v in config.items() if k != "name"}
        try:
            self.rest.create_stopped(name, body)
        except ConnectHttpError as exc:
            if exc.status != 409:
                if "initial_state" in exc.message:
                    raise OffsetsUnsupported(
                        f"{self.where} refused to create {name} STOPPED (KIP-980): {exc.message}"
                    ) from None
                raise
            self.stop(name)
            self.rest.put_config(name, body)
        self._wait_stopped(name)
        return name

    def stop(self, ref: str) -> None:
        """``PUT /connectors/NAME/stop`` (KIP-875), then wait until STOPPED.

        Raises:
            OffsetsUnsupported: a worker before 3.5, or the endpoint answers 404/405.
            ClusterError: no answer, or not STOPPED within ``settle_s``.
        """
        self._needs(STOP_SINCE, "stopping a connector (KIP-875)")
        try:
            self.rest.stop(ref)
        except ConnectHttpError as exc:
            if exc.status == 405:
                raise OffsetsUnsupported(
                    f"{self.where} has no PUT /connectors/NAME/stop (KIP-875): "
                    f"answered {exc.status}"
                ) from None
            raise
        self._wait_stopped(ref)

    def _wait_stopped(self, ref: str) -> None:
        """Poll the status until the connector is STOPPED.  Its tasks are not looked
        at: the status topic may still list a task of an earlier connector of the
        same name (seen on 4.1); a reset refused while tasks shut down is retried."""
        waited, last = 0.0, "no status"
        while waited <= self.settle_s:
            try:
                status = self.rest.status(ref)
                if status.connector.state == "STOPPED":
                    return
                last = f"connector {status.connector.state}, tasks " + (
                    ", ".join(f"{t.id} {t.state}" for t in status.tasks) or "none"
                )
            except ClusterError:
                pass  # 404 right after creation, or a worker rebalancing
            self.sleep(0.5)
            waited += 0.5
        raise ClusterError(
            f"{self.where}: connector {ref} was not STOPPED within {self.settle_s:g} s ({last})"
        )

    def reset_offsets(self, ref: str) -> int:
        """``GET /connectors/NAME/offsets``; when it lists any, ``DELETE`` them
        (KIP-875; the connector must be STOPPED: a refusal while the workers catch
        up with the stop is tried again within ``settle_s``).  Returns how many
        source partitions had offsets.

        Raises:
            OffsetsUnsupported: a worker before 3.6, or the endpoint answers 404/405.
            ClusterError: refused or no answer.
        """
        self._needs(OFFSETS_SINCE, "reading and resetting a connector's offsets (KIP-875)")
        try:
            held = self.rest.offsets(ref)
            if not held:
                return 0
            waited = 0.0
            while True:
                try:
                    self.rest.reset_offsets(ref)
                    return len(held)
                except ConnectHttpError as exc:
                    if exc.status not in (400, 409) or waited >= self.settle_s:
                        raise
                self.sleep(1.0)
                waited += 1.0
        except ConnectHttpError as exc:
            if exc.status in (404, 405):
                raise OffsetsUnsupported(
                    f"{self.where} answered {exc.status} to /connectors/{ref}/offsets "
                    f"(KIP-875): {exc.message}"
                ) from None
            raise

    def resume(self, ref: str) -> None:
        """``PUT /connectors/NAME/resume``."""
        self.rest.resume(ref)

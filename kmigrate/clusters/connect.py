"""The Kafka Connect REST API as a MirrorMaker 2 control plane (self-run or Strimzi).

:class:`ConnectRestPlane` satisfies
:class:`kmigrate.engines.mirrormaker2.plane.ConnectPlane` structurally over
:class:`kmigrate.adapters.connect_rest.ConnectRest` (``PUT /connectors/NAME/config``,
``GET /connectors/NAME/status``, ``DELETE /connectors/NAME``; Kafka docs, "Kafka
Connect REST Interface", kafka.apache.org/documentation/#connect_rest).
"""

from __future__ import annotations

from collections.abc import Mapping

from kmigrate.adapters.connect_rest import ConnectRest
from kmigrate.clusters.port import ConnectorStatus


class ConnectRestPlane:
    """Connectors on one Kafka Connect cluster, by its REST API's base ``url``.

    ``auth``: HTTP basic (user, password) already resolved from plan references
    (never shown: :attr:`where` names only the URL).  ``timeout_s``: per request.
    """

    def __init__(
        self, url: str, auth: tuple[str, str] | None = None, timeout_s: float = 30.0
    ) -> None:
        self.rest = ConnectRest(url, auth, timeout_s)
        self.where = f"Kafka Connect at {self.rest.url}"

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

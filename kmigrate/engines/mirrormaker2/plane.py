"""Where MirrorMaker 2's connectors run: the Connect control plane the MM2 engine drives.

The engine asks a plane for three things only: create a connector from its config
(:mod:`.config`), read its state and its tasks' states, delete it.  Two
implementations: :class:`kmigrate.clusters.connect.ConnectRestPlane` (a self-run or
Strimzi Kafka Connect cluster's REST API) and an MSK Connect plane (boto3
``kafkaconnect``, :mod:`kmigrate.clusters.msk_connect`).  The value types
(:class:`~kmigrate.clusters.port.ConnectorStatus`,
:class:`~kmigrate.clusters.port.TaskStatus`) live in the cluster port, so both
implementations build them without importing the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from kmigrate.clusters.port import (
    ConnectorStatus,
    OffsetsUnsupported,
    TaskStatus,
    summarise_trace,
)

__all__ = [
    "ConnectPlane",
    "ConnectorStatus",
    "OffsetsPlane",
    "OffsetsUnsupported",
    "TaskStatus",
    "summarise_trace",
]


class ConnectPlane(Protocol):
    """Where MM2 connectors run: a self-run/Strimzi Connect REST API or MSK Connect.

    Attributes:
        where: for messages and the journal, e.g. ``Kafka Connect at http://h:8083``
            or ``MSK Connect (eu-west-1)``.  Never holds a credential.

    State mapping an implementation owes (:class:`ConnectorStatus`): Connect REST
    answers its own states (UNASSIGNED, RUNNING, PAUSED, STOPPED, FAILED,
    RESTARTING; Kafka docs, "Kafka Connect REST Interface"); MSK Connect's
    ``connectorState`` maps RUNNING -> RUNNING, CREATING/UPDATING -> UNASSIGNED,
    FAILED -> FAILED (trace = ``stateDescription`` code and message), DELETING ->
    STOPPED (docs.aws.amazon.com/MSKC/latest/mskc/API_DescribeConnector.html).
    """

    where: str

    def create(self, name: str, config: Mapping[str, str]) -> str:
        """Create (or, on Connect REST, create-or-update) connector ``name`` from its
        config (str -> str, secrets as config-provider references).

        Returns:
            The reference :meth:`status` and :meth:`delete` take, and rollback
            deletes: the connector name (Connect REST) or its ARN (MSK Connect).

        Raises:
            ClusterError: the plane refused the config or did not answer (its
                message in words, never a credential).
        """
        ...

    def status(self, ref: str) -> ConnectorStatus:
        """The connector's own state and each task's.

        Raises:
            ClusterError: the plane did not answer, or the connector is unknown.
        """
        ...

    def delete(self, ref: str) -> bool:
        """Delete the connector; True when it existed, False when already gone.

        Raises:
            ClusterError: the plane did not answer or refused.
        """
        ...


@runtime_checkable
class OffsetsPlane(Protocol):
    """A plane that can create a connector STOPPED and reset its stored source
    offsets: a Kafka Connect REST API (KIP-875, KIP-980).  MSK Connect has no such
    API; :mod:`kmigrate.engines.mirrormaker2.source_offsets` says what to do there.

    Kafka Connect keeps a source connector's committed source offsets in its offsets
    topic by connector *name*, after the connector is deleted: a connector created
    again under that name resumes from them.
    """

    where: str

    def create_stopped(self, name: str, config: Mapping[str, str]) -> str:
        """Create connector ``name`` STOPPED (KIP-980); an existing one is stopped
        and its config updated.  Returns the reference.  Waits until it is STOPPED.

        Raises:
            OffsetsUnsupported: the plane cannot (the version, or its answer).
            ClusterError: the plane refused the config or did not answer.
        """
        ...

    def stop(self, ref: str) -> None:
        """Stop the connector (KIP-875) and wait until it is STOPPED.

        Raises:
            OffsetsUnsupported: the plane has no stop.
            ClusterError: no answer, or it did not stop in time.
        """
        ...

    def reset_offsets(self, ref: str) -> int:
        """Forget the STOPPED connector's stored source offsets (KIP-875); returns
        how many source partitions had offsets (0: nothing to reset, nothing sent).

        Raises:
            OffsetsUnsupported: the plane cannot (the version, or its answer).
            ClusterError: refused or no answer.
        """
        ...

    def resume(self, ref: str) -> None:
        """Let the STOPPED connector run."""
        ...

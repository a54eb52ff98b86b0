"""The Kafka adapter's client plumbing: librdkafka settings every client of one
cluster shares, how a failed call names the cluster, and the reader's consumer.

References: confluent-kafka-python API docs (AdminClient, Consumer); librdkafka
CONFIGURATION.md for the settings used below.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from kmigrate.adapters.kafka.errors import NO_ANSWER, unreachable
from kmigrate.adapters.malloc import keep_large_buffers_mapped
from kmigrate.errors import ClusterError
from kmigrate.logs import client_logger

#: Seconds an admin request may take before it counts as unreachable.
ADMIN_TIMEOUT_S = 15.0

#: Milliseconds a fetch may wait on the broker for data (librdkafka's default
#: 500): every kmigrate consumer sets it, so that a read of the end of a
#: partition, or a follow, answers quickly.
FETCH_WAIT_MS = 50


@dataclass
class ClusterClient:
    """One cluster's connection settings, opened in a role (``source`` or ``target``),
    and the plumbing its admin, reader and writer calls share.

    Args:
        role: ``"source"`` (read-only) or ``"target"``.
        bootstrap_servers: comma-separated ``host:port`` list.
        config: extra librdkafka settings, secrets already resolved.  They are
            never printed; errors name only ``role`` and ``bootstrap_servers``.
    """

    role: str
    bootstrap_servers: str
    config: Mapping[str, str] = field(default_factory=dict)
    _admin: AdminClient | None = field(default=None, init=False, repr=False)

    def _conf(self, **extra: Any) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "log.connection.close": False,
            # librdkafka's log to kmigrate's log file, never to stderr (kmigrate.logs).
            "logger": client_logger(self.role),
        }
        conf.update(self.config)
        conf.update(extra)
        return conf

    @property
    def label(self) -> str:
        """``source (127.0.0.1:19092)``: how errors name this cluster."""
        return f"{self.role} ({self.bootstrap_servers})"

    def _fail(self, what: str, exc: BaseException) -> ClusterError:
        detail = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
        if isinstance(detail, KafkaError):
            if detail.code() in NO_ANSWER:
                if self._admin is not None:
                    self._admin.poll(0)  # hand over librdkafka's queued log lines
                return unreachable(
                    self.role, self.bootstrap_servers, what, ADMIN_TIMEOUT_S, detail.str()
                )
            detail = f"{detail.name()}: {detail.str()}"
        return ClusterError(f"{self.label}: {what} failed: {detail}")

    @property
    def admin(self) -> AdminClient:
        """The cluster's AdminClient, created on first use.  Each use first
        hands librdkafka's queued log lines to the log (``poll(0)``), so they
        do not pile up in a long-lived client."""
        if self._admin is None:
            self._admin = AdminClient(self._conf())
        else:
            self._admin.poll(0)
        return self._admin

    def _require_target(self, what: str) -> None:
        if self.role != "target":
            raise ClusterError(
                f"{self.label}: refused to {what}: kmigrate never writes to the source cluster"
            )

    def _consumer(self, **extra: Any) -> Consumer:
        keep_large_buffers_mapped()  # flat memory over a long read (see its module)
        return Consumer(
            self._conf(
                **{
                    # A private group id that never joins or commits: assign() only.
                    "group.id": f"kmigrate-reader-{uuid.uuid4().hex[:12]}",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "enable.partition.eof": True,
                    # Never jump silently: a start offset the log no longer holds
                    # (retention moved the log start past it) is an error.
                    "auto.offset.reset": "error",
                    "fetch.wait.max.ms": FETCH_WAIT_MS,
                    **extra,
                }
            )
        )

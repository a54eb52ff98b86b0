"""A connection probe that says *why* a secured connection failed.

librdkafka reports authentication and TLS failures through ``error_cb``, while a
Metadata request only times out with ``_TRANSPORT``.  :func:`probe` listens to
both, so a wrong secret reads "authentication failed" (and a wrong CA "TLS
failed"), never a generic transport error; no secret value appears in the message.

Source: confluent-kafka-python ``error_cb`` (docs.confluent.io/platform/current/clients/
confluent-kafka-python/html/index.html#kafka-client-configuration) and librdkafka
error codes ``_AUTHENTICATION`` / ``_SSL`` (librdkafka ``rdkafka.h``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from kmigrate import redact as secrets
from kmigrate.adapters.kafka import unreachable
from kmigrate.clusters.port import ClusterInfo
from kmigrate.errors import ClusterError
from kmigrate.logs import client_logger

_FATAL = {KafkaError._AUTHENTICATION: "authentication failed", KafkaError._SSL: "TLS failed"}


def redact(message: str, config: Mapping[str, Any]) -> str:
    """``message`` with every secret setting's value masked.

    A setting is secret by the one list, :func:`kmigrate.redact.is_secret_key`
    (or its value is an Event Hubs connection string); its value is remembered
    with every other resolved secret and masked as a whole value by
    :func:`kmigrate.redact.redact`.
    """
    for key, value in config.items():
        if isinstance(value, str) and (
            secrets.is_secret_key(key) or secrets.is_secret_value(value)
        ):
            secrets.remember(value, f"the setting {key}")
    return secrets.redact(message)


def probe(
    role: str, bootstrap_servers: str, config: Mapping[str, Any], timeout_s: float = 15.0
) -> ClusterInfo:
    """Connect and read Metadata; cluster id, broker count and topic count.

    Args:
        role: ``source`` or ``target`` (names the cluster in errors).
        bootstrap_servers: ``host:port,...``.
        config: librdkafka settings, secrets resolved (never printed).
        timeout_s: how long to keep trying (seconds).

    Raises:
        ClusterError: authentication or TLS failed (said so, with librdkafka's reason,
            secrets redacted).
        kmigrate.errors.Unreachable: no connection within ``timeout_s`` (one
            line: cluster, address, what was tried, librdkafka's last word).
    """
    seen: list[KafkaError] = []
    label = f"{role} ({bootstrap_servers})"
    conf: dict[str, Any] = {
        **config,
        "bootstrap.servers": bootstrap_servers,
        "log.connection.close": False,
        "error_cb": seen.append,
        # librdkafka's log to kmigrate's log file, never to stderr (kmigrate.logs).
        "logger": client_logger(role),
    }
    try:
        admin = AdminClient(conf)
    except KafkaException as exc:  # a setting librdkafka refuses (it may quote the value)
        detail = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
        raise ClusterError(redact(f"{label}: connecting failed: {detail}", config)) from None
    deadline = time.monotonic() + timeout_s
    last: KafkaException | None = None
    while True:
        try:
            md = admin.list_topics(timeout=min(1.0, max(deadline - time.monotonic(), 0.1)))
            topics = [t for t in md.topics if not t.startswith("__")]
            return ClusterInfo(md.cluster_id, len(md.brokers), len(topics))
        except KafkaException as exc:
            last = exc
        admin.poll(0)
        for err in seen:
            what = _FATAL.get(err.code())
            if what is not None:
                raise ClusterError(redact(f"{label}: {what}: {err.str()}", config))
        if time.monotonic() >= deadline:
            detail = last.args[0].str() if last and last.args else "no answer"
            # No config value in it: the address and librdkafka's connection line.
            raise unreachable(role, bootstrap_servers, "reading its Metadata", timeout_s, detail)

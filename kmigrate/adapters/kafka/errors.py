"""How the Kafka adapter words client errors: librdkafka's error codes mapped to
kmigrate's errors (:class:`~kmigrate.errors.Unreachable`,
:class:`~kmigrate.errors.OffsetOutOfRange`) and to lines an operator can act on.

Sources: librdkafka's rdkafka.h (error codes) and CONFIGURATION.md.
"""

from __future__ import annotations

import re

from confluent_kafka import KafkaError

from kmigrate.errors import OffsetOutOfRange, Unreachable
from kmigrate.logs import last_failure

#: Client-side errors of a request cut off by a dropped or reset connection
#: (librdkafka's local error codes); a read-only request may be asked again.
TRANSIENT = frozenset({KafkaError._TRANSPORT, KafkaError._DESTROY_BROKER})
#: How many times a read-only request is tried when it fails transiently.
READ_ATTEMPTS = 3
#: Client-side errors that mean no broker answered at all (librdkafka's local
#: codes: transport failure, all brokers down, request timed out).
NO_ANSWER = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT})


def unreachable(
    role: str, bootstrap_servers: str, tried: str, timeout_s: float, detail: str = ""
) -> Unreachable:
    """The one line saying a cluster did not answer: the cluster, its address,
    what was tried for how long, and why: librdkafka's last word on a
    connection (its log line, kept by :func:`kmigrate.logs.last_failure`),
    else ``detail`` (the client's error text)."""
    why = last_failure(role)
    if why is not None:
        # librdkafka's line: "[thrd:…]: host:port/bootstrap: Connect to … failed:
        # Connection refused (after 0ms in state CONNECT)": from the address on.
        why = re.sub(r" \(after \d+ms in state \w+\)", "", why.rsplit("]: ", 1)[-1])
    why = why or detail
    return Unreachable(
        f"the {role} cluster at {bootstrap_servers} does not answer: {tried} got no "
        f"connection in {timeout_s:g} s" + (f" ({why})" if why else "") + ". Is the address "
        "right and the broker up?",
        role,
        bootstrap_servers,
    )


def out_of_range(label: str, tp: tuple[str, int], offset: int, err: KafkaError) -> OffsetOutOfRange:
    """The error of a read whose position ``offset`` of ``tp`` the partition no longer
    holds (librdkafka's ``_AUTO_OFFSET_RESET`` under ``auto.offset.reset=error``)."""
    return OffsetOutOfRange(
        f"{label}: {tp[0]}[{tp[1]}] no longer holds the records to be read from its start "
        f"offset (the log start offset moved past it, e.g. by retention): {err.str()}",
        tp[0],
        tp[1],
        offset,
    )


#: What a delivery or produce error means for a migration, in words an operator
#: can act on (librdkafka error codes, rdkafka.h / CONFIGURATION.md).
_ERROR_HINTS = {
    KafkaError._UNKNOWN_TOPIC: "the topic does not exist on the target",
    KafkaError.UNKNOWN_TOPIC_OR_PART: "the topic or partition does not exist on the target",
    KafkaError._UNKNOWN_PARTITION: "the target topic has no such partition",
    KafkaError._MSG_TIMED_OUT: "the target did not confirm the record within message.timeout.ms",
}
#: Appended to every message about records the target lost or never confirmed.
TARGET_LOST_HINT = (
    "was the target broker restarted empty or the topic deleted? Only records the "
    "target confirmed count as written"
)


def explain(err: KafkaError) -> str:
    """``NAME: text``, and what it means for a migration where that is known
    (:data:`_ERROR_HINTS`)."""
    hint = _ERROR_HINTS.get(err.code())
    text = f"{err.name()}: {err.str()}"
    return f"{text} ({hint}; {TARGET_LOST_HINT})" if hint else text

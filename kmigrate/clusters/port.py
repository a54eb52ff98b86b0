"""The cluster port: what steps need of a cluster, whatever its type.

Two small interfaces, both :class:`typing.Protocol`:

* :class:`Cluster`, the Kafka data plane: the method names steps called on the
  concrete Kafka adapter (:class:`kmigrate.adapters.kafka.KafkaCluster` satisfies it
  structurally; every type speaks the Kafka protocol for records).
* :class:`ControlPlane`, what differs per type: preflight (discovery and declared
  facts checked), the target profile used by the translation rules, which topics
  (hubs) exist, and creating / deleting them through the right API (Kafka Admin
  API for kafka, redpanda, msk and confluent-cloud; ARM for eventhubs).

The neutral value types (:class:`Record`, :class:`PartitionEnd`, :class:`Tick`,
:class:`TopicMeta`, :class:`ConfigValue`, :class:`ClusterInfo`,
:class:`GroupState`, :class:`CreateOutcome`, and Kafka Connect's
:class:`TaskStatus` / :class:`ConnectorStatus`) are defined here: the adapters build
them, steps read them, and neither needs the other's module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from kmigrate.errors import ClusterError, StepFailed
from kmigrate.redact import redact

if TYPE_CHECKING:
    from kmigrate.adapters.kafka import RawReader, RecordWriter
    from kmigrate.targets.model import TopicTranslation
    from kmigrate.targets.profiles import TargetProfile

#: Record headers: ``(name, value)`` pairs in order; names may repeat, values may be null.
Headers = list[tuple[str, bytes | None]]


@dataclass(frozen=True)
class ClusterInfo:
    """What ``describe`` reports: cluster id, number of brokers, number of topics."""

    cluster_id: str | None
    broker_count: int
    topic_count: int


@dataclass(frozen=True)
class TopicMeta:
    """A topic's shape from Metadata: partition count and replication factor."""

    name: str
    partitions: int
    replication_factor: int


@dataclass(frozen=True)
class ConfigValue:
    """One DescribeConfigs entry.  ``source`` is the broker's word (KIP-226)."""

    value: str | None
    source: str
    is_sensitive: bool = False
    is_read_only: bool = False


@dataclass(slots=True)
class Record:
    """One record as read: topic, partition, offset, key, value, headers, timestamp (ms).

    ``key``/``value`` keep the difference between ``None`` (null) and ``b""``.
    ``headers`` keeps order, duplicate names and null values.  (A slotted,
    unfrozen dataclass: one is built per record read, and frozen ones cost
    four times as much to build.)
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int

    @property
    def size(self) -> int:
        """Bytes of key, value and headers."""
        size = len(self.key or b"") + len(self.value or b"")
        if self.headers:
            size += sum(len(k) + len(v or b"") for k, v in self.headers)
        return size


@dataclass
class PartitionEnd:
    """Reached-end marker from a multi-partition read: ``offset`` is the partition end."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class GroupState:
    """A consumer group as DescribeGroups reports it.

    ``state``: the broker's word (``EMPTY``, ``STABLE``, ``PREPARING_REBALANCE``,
    ``COMPLETING_REBALANCE``, ``DEAD``, ``UNKNOWN``); ``members``: one
    ``client-id (member-id on host)`` line per active member.
    """

    group: str
    state: str
    members: list[str]

    @property
    def active(self) -> bool:
        """True when the group has members or is not idle (``EMPTY``/``DEAD``)."""
        return bool(self.members) or self.state not in ("EMPTY", "DEAD")


@dataclass
class Tick:
    """A pause in a follow read: ``highs`` maps ``(topic, partition)`` to the high
    watermark last seen (librdkafka's cached value; may lag, see sandbox-broker.md)."""

    highs: dict[tuple[str, int], int]


#: The status of a write a dry-run wrapper (:mod:`kmigrate.clusters.dry_run`)
#: described instead of making, returned where the real write returns
#: ``deleted`` / ``created`` ...: the caller's line says ``would ...``.
DESCRIBED = "described"


@dataclass
class CreateOutcome:
    """Per-topic outcome of ``create_topics``: ``created``, ``exists`` or ``failed``
    (:data:`DESCRIBED` from a dry run's cluster)."""

    topic: str
    status: str
    error: str | None = None


__all__ = [
    "DESCRIBED",
    "Headers",
    "Cluster",
    "ClusterInfo",
    "ConfigValue",
    "ControlPlane",
    "CreateOutcome",
    "CrossCheck",
    "Found",
    "GroupState",
    "PartitionEnd",
    "RawReader",
    "Record",
    "RecordWriter",
    "Tick",
    "TopicMeta",
]


class Cluster(Protocol):
    """The Kafka data plane of one cluster, opened as ``source`` (read-only) or ``target``.

    Shapes and errors are those of :class:`kmigrate.adapters.kafka.KafkaCluster`:
    every failure is a :class:`~kmigrate.errors.ClusterError` naming the role and the
    bootstrap servers, never a secret.
    """

    role: str

    @property
    def bootstrap_servers(self) -> str:
        """``host:port,...``."""
        ...

    @property
    def label(self) -> str:
        """``target (host:port)``: how errors name the cluster."""
        ...

    def describe(self) -> ClusterInfo:
        """Cluster id, broker count, topic count (Metadata)."""
        ...

    def topics(self) -> dict[str, TopicMeta]:
        """Topics (internal ones excluded) with partitions and replication factor."""
        ...

    def topic_configs(self, names: Iterable[str]) -> dict[str, dict[str, ConfigValue]]:
        """DescribeConfigs per topic."""
        ...

    def topic_ids(self, names: Iterable[str]) -> dict[str, str | None]:
        """Topic id per topic (KIP-516; DescribeTopics); None: absent or not reported."""
        ...

    def topic_operations(self, topics: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """Authorized ACL operations per topic (KIP-430); None: unknown or no topic."""
        ...

    def group_operations(self, groups: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """Authorized ACL operations per consumer group (KIP-430); None: unknown."""
        ...

    def cluster_operations(self) -> frozenset[str] | None:
        """Authorized ACL operations on the cluster (KIP-430); None: not reported."""
        ...

    def broker_configs(self, keys: Iterable[str]) -> dict[str, str]:
        """``{key: value}`` of one broker's configuration; ``{}`` when it cannot be read."""
        ...

    def group_offsets(self, topics: Iterable[str]) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets per consumer group, for the given topics."""
        ...

    def watermark_offsets(
        self, partitions: Iterable[tuple[str, int]], *, read_end: bool = False
    ) -> dict[tuple[str, int], tuple[int, int]]:
        """``{(topic, partition): (log start offset, end)}``: ``end`` is the high
        watermark (ListOffsets), or with ``read_end`` the offset the next record
        will get, read to the end of each partition (right where ListOffsets lags)."""
        ...

    def read(
        self,
        starts: Iterable[tuple[str, int, int]],
        *,
        stop_offsets: Mapping[tuple[str, int], int] | None = None,
        batch: int = ...,
        idle_timeout_s: float = 60.0,
    ) -> Iterator[Record | PartitionEnd]:
        """Records (and :class:`PartitionEnd` markers) from ``(topic, partition, offset)``."""
        ...

    def follow(
        self,
        starts: Iterable[tuple[str, int, int]],
        *,
        batch: int = ...,
        tick_s: float = 0.25,
    ) -> Iterator[Record | PartitionEnd | Tick]:
        """Records as they arrive, with :class:`Tick` pauses."""
        ...

    def raw_reader(
        self,
        starts: Iterable[tuple[str, int, int]],
        *,
        follow: bool = False,
        batch: int = ...,
        idle_timeout_s: float = 60.0,
        eager: bool = False,
    ) -> RawReader:
        """The fast path of mirror and verify: raw messages a ``consume()`` batch at a time
        (``eager``: for a short read, a batch is what has come, not a full one)."""
        ...

    def offsets_for_times(
        self, partitions: Iterable[tuple[str, int]], timestamp_ms: int
    ) -> dict[tuple[str, int], int | None]:
        """The earliest offset whose record timestamp is >= ``timestamp_ms`` (ms), per partition."""
        ...

    def first_records(
        self, starts: Iterable[tuple[str, int, int]], *, idle_timeout_s: float = 30.0
    ) -> dict[tuple[str, int], Record | None]:
        """The first record at or after each start offset, or None at the partition's end."""
        ...

    def group_offsets_of(self, group: str) -> dict[tuple[str, int], int]:
        """One consumer group's committed offsets (OffsetFetch)."""
        ...

    def group_ids(self) -> list[str]:
        """Consumer group ids (ListGroups)."""
        ...

    def group_members(self, group: str) -> GroupState:
        """A group's state and active members (DescribeGroups)."""
        ...

    def alter_group_offsets(self, group: str, offsets: Mapping[tuple[str, int], int]) -> None:
        """AlterConsumerGroupOffsets; target only."""
        ...

    def delete_group(self, group: str) -> str:
        """DeleteGroups for one group; target only."""
        ...

    def create_topics(
        self,
        topics: Iterable[tuple[str, int, int, Mapping[str, str]]],
        *,
        validate_only: bool = False,
    ) -> list[CreateOutcome]:
        """CreateTopics ``(name, partitions, replication factor, configs)``; target only."""
        ...

    def delete_topic(self, name: str) -> str:
        """DeleteTopics for one topic: ``deleted`` or ``absent``; target only."""
        ...

    def writer(
        self, on_error: Callable[[str], None], partitions: Iterable[tuple[str, int]] = ()
    ) -> RecordWriter:
        """A producer keeping partition, key, value, headers and timestamp; target only.

        ``partitions``: the ``(topic, partition)`` pairs it will write, checked
        against the target when records stay unconfirmed."""
        ...

    def prepare_writer(self) -> None:
        """Start the next :meth:`writer` early (it waits for its producer id); target only."""
        ...

    def close(self) -> None:
        """Release clients."""
        ...


@dataclass
class Found:
    """What a preflight found about one cluster: ``rows`` of ``(what, value)`` to print,
    ``facts`` as a plan declares them (``{"broker_count": 3}``)."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)


@dataclass
class CrossCheck:
    """A control plane's own check of what ``verify`` read: ``rows`` of ``(what, value)``
    to print and ``problems`` (empty when everything agrees)."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class ControlPlane(Protocol):
    """What one cluster type does differently (one implementation per type module).

    Attributes:
        cluster_type: the plan ``type`` (``kafka``, ``redpanda``, ``msk``, ``eventhubs``,
            ``confluent-cloud``).
        facts: the plan's declared ``facts`` (used offline, checked by ``preflight``).
    """

    cluster_type: str
    facts: Mapping[str, object]

    def profile(self) -> TargetProfile:
        """The target profile (stock defaults, settable keys, limits) for the declared facts.

        Raises:
            UsageError: a fact the type needs is missing or unknown.
        """
        ...

    def preflight(self, cluster: Cluster) -> Found:
        """Discover the cluster through its control plane and Kafka; what was found.

        Raises:
            ClusterError: unreachable, refused, not usable (MSK not ACTIVE, Event Hubs
                Basic), or a declared fact disagrees with the discovered one (both named).
        """
        ...

    def existing(self, cluster: Cluster) -> dict[str, int]:
        """Topics (hubs) on the cluster now: ``{name: partitions}``.

        Raises:
            ClusterError: the read failed.
        """
        ...

    def provision(
        self, cluster: Cluster, translations: list[TopicTranslation]
    ) -> list[CreateOutcome]:
        """Create the topics (hubs) ``translations`` describe (action ``create``), one
        outcome each; the Kafka family validates first (``validate_only``).

        Raises:
            ClusterError: the request could not be sent.
        """
        ...

    def remove(self, cluster: Cluster, name: str) -> str:
        """Delete one topic (hub) kmigrate created: ``deleted`` or ``absent``.

        Raises:
            ClusterError: the service refused.
        """
        ...

    def cross_check(self, cluster: Cluster, counts: dict[tuple[str, int], int]) -> CrossCheck:
        """After ``verify`` matched: check, through the service's own API, what verify read
        (``counts``: records per ``(topic, partition)`` on the target).  Kafka-API types
        have nothing more to ask (empty result); Event Hubs compares partition ids and
        event counts by sequence numbers.

        Raises:
            ClusterError: the service's API failed.
        """
        ...


# --- Kafka Connect: connector and task states (any Connect control plane) -------------


@dataclass(frozen=True)
class TaskStatus:
    """One task (or the connector itself, ``id`` -1): its ``state`` (UNASSIGNED,
    RUNNING, PAUSED, STOPPED, FAILED, RESTARTING), the worker that runs it
    (``host:port``) and, when FAILED, Connect's Java stack trace."""

    id: int
    state: str
    worker_id: str
    trace: str = ""


@dataclass(frozen=True)
class ConnectorStatus:
    """``GET /connectors/NAME/status``: the connector's own state and its tasks."""

    name: str
    connector: TaskStatus
    tasks: tuple[TaskStatus, ...]

    @property
    def running(self) -> bool:
        """True when the connector and at least one task are RUNNING and every task is."""
        return (
            self.connector.state == "RUNNING"
            and bool(self.tasks)
            and all(t.state == "RUNNING" for t in self.tasks)
        )

    def failures(self) -> list[str]:
        """One line per FAILED part (the connector, or a task by id): where it ran
        and :func:`summarise_trace` of its trace."""
        parts = [self.connector, *self.tasks]
        return [
            f"{'connector' if p.id < 0 else f'task {p.id}'} of {self.name} FAILED on worker "
            f"{p.worker_id}: {summarise_trace(p.trace)}"
            for p in parts
            if p.state == "FAILED"
        ]


class ConnectorFailed(StepFailed):
    """A connector or one of its tasks is FAILED, or did not run in time (exit 1); the
    message says why in words."""


class OffsetsUnsupported(ClusterError):
    """The Connect control plane cannot read or reset a connector's stored source
    offsets (KIP-875, Connect 3.6+) or create it STOPPED (KIP-980, 3.7+); the message
    says which and why (the version, or the endpoint's answer)."""


_CAUSE = re.compile(r"^(?:Caused by: )?([\w.$]+(?:Exception|Error))(?:: (.*))?$")


def summarise_trace(trace: str) -> str:
    """A Java stack trace in one line of words: the first exception and its root
    cause (the last ``Caused by:``), class names without their package, ``at ...``
    frames left out, secrets masked.  An empty trace gives "no trace given".

    Example: ``ConnectException: Failed to create admin client; root cause:
    SaslAuthenticationException: Authentication failed during authentication due to
    invalid credentials with SASL mechanism SCRAM-SHA-512``.
    """
    causes = []
    for line in trace.splitlines():
        match = _CAUSE.match(line.strip())
        if match:
            name = match.group(1).rsplit(".", 1)[-1]
            causes.append(f"{name}: {match.group(2)}" if match.group(2) else name)
    if not causes:
        first = trace.strip().splitlines()[0] if trace.strip() else "no trace given"
        return redact(first)
    text = causes[0] if len(causes) == 1 else f"{causes[0]}; root cause: {causes[-1]}"
    return redact(text)

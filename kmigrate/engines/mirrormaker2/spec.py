"""What MM2's connector configs are made from: neutral, read-only views of a plan.

The engine layer does not import the plan's schema: these :class:`typing.Protocol`\\ s
name only the attributes the configs read, and a loaded plan's model
(``kmigrate.plan.schema.PlanModel``) satisfies them structurally, as does any small
object a test or a plan-less command builds (:class:`Mm2Selection`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class Mm2Cluster(Protocol):
    """One cluster as the configs read it: its plan ``type`` and connection keys;
    ``config`` holds librdkafka settings whose secret values are ``${VAR}`` /
    ``${file:path}`` references (never resolved here)."""

    @property
    def type(self) -> str: ...
    @property
    def bootstrap_servers(self) -> str | None: ...
    @property
    def config(self) -> Mapping[str, str | int | float | bool]: ...
    @property
    def auth(self) -> str | None: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def connection_string(self) -> str | None: ...
    @property
    def api_key(self) -> str | None: ...
    @property
    def api_secret(self) -> str | None: ...


class Mm2Clusters(Protocol):
    """The source and the target."""

    @property
    def source(self) -> Mm2Cluster: ...
    @property
    def target(self) -> Mm2Cluster: ...


class Mm2Topics(Protocol):
    """The topic selection: shell globs."""

    @property
    def include(self) -> Sequence[str]: ...
    @property
    def exclude(self) -> Sequence[str]: ...


class Mm2Plan(Protocol):
    """What the configs are made from: a name, the two clusters, the topic selection."""

    @property
    def name(self) -> str: ...
    @property
    def clusters(self) -> Mm2Clusters: ...
    @property
    def topics(self) -> Mm2Topics: ...


@dataclass(frozen=True)
class Mm2ClusterSpec:
    """A plain :class:`Mm2Cluster` (``kmigrate mirror --engine mirrormaker2`` builds
    one from ``--source``/``--target`` and ``-X``/``-Y`` settings)."""

    type: str = "kafka"
    bootstrap_servers: str | None = None
    config: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    auth: str | None = None
    namespace: str | None = None
    connection_string: str | None = None
    api_key: str | None = None
    api_secret: str | None = None


@dataclass(frozen=True)
class Mm2Pair:
    """A plain :class:`Mm2Clusters`."""

    source: Mm2ClusterSpec
    target: Mm2ClusterSpec


@dataclass(frozen=True)
class Mm2TopicSelection:
    """A plain :class:`Mm2Topics`."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ("__*",)


@dataclass(frozen=True)
class Mm2Selection:
    """A plain :class:`Mm2Plan`."""

    name: str
    clusters: Mm2Pair
    topics: Mm2TopicSelection

"""The topic snapshot: a deterministic, sorted, diffable YAML file.

Written by ``export-topics``, read by ``provision-topics``::

    version: 1
    source: {type: kafka, bootstrap_servers: 127.0.0.1:19092}
    topics:
      purchase-created:
        partitions: 3
        replication_factor: 1
        configs: {cleanup.policy: compact}
    consumer_groups:
      billing:
        purchase-created: {0: 12, 1: 40}

``configs`` holds only values that differ from the source type's stock
defaults (see :mod:`kmigrate.topic_configs`).  No timestamps, so exporting an
unchanged cluster twice gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kmigrate.acls.model import parse_bindings
from kmigrate.plan.files import SNAPSHOT_MAX_BYTES, read_text
from kmigrate.plan.loader import parse_yaml_model
from kmigrate.safefs import atomic_write


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SnapshotSource(_Strict):
    """Where the snapshot came from (no credentials)."""

    type: str
    bootstrap_servers: str


class TopicSnapshot(_Strict):
    """One topic: partition count, replication factor, customised configs.

    ``config_sources`` names, per config key, where the broker said the value comes
    from (DescribeConfigs ``source``, KIP-226: ``DYNAMIC_TOPIC_CONFIG``,
    ``STATIC_BROKER_CONFIG``, ``DEFAULT_CONFIG``, ...); a key without one is an
    explicit topic value.  The translation rules use it to carry a Compose broker's
    ``server.properties`` values and Redpanda's cluster-level customisations.
    """

    partitions: int = Field(gt=0)
    replication_factor: int = Field(gt=0)
    configs: dict[str, str] = Field(default_factory=dict)
    config_sources: dict[str, str] = Field(default_factory=dict)


class Snapshot(_Strict):
    """A whole snapshot.  ``consumer_groups`` maps group → topic → partition → offset.

    ``acls``: the source's ACL bindings in their snapshot shape
    (:meth:`kmigrate.acls.model.AclBinding.to_dict`), written by ``kmigrate init``; None
    (and absent from the file) when they were not read or the source has no authorizer.
    """

    version: int = 1
    source: SnapshotSource
    topics: dict[str, TopicSnapshot] = Field(default_factory=dict)
    consumer_groups: dict[str, dict[str, dict[int, int]]] = Field(default_factory=dict)
    acls: list[dict[str, str]] | None = None

    @field_validator("acls")
    @classmethod
    def _bindings(cls, value: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
        if value is not None:
            parse_bindings(value)  # AclInputError is a ValueError: names the item and key
        return value


def dump(snapshot: Snapshot) -> str:
    """The snapshot as sorted YAML text."""
    data = snapshot.model_dump(exclude={"acls"} if snapshot.acls is None else None)
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False)


def write(snapshot: Snapshot, path: Path) -> None:
    """Write the snapshot atomically."""
    atomic_write(path, dump(snapshot))


def load(path: Path) -> Snapshot:
    """Read and validate a snapshot file.

    The file must be a regular file of at most
    :data:`~kmigrate.plan.files.SNAPSHOT_MAX_BYTES` bytes of UTF-8 YAML.
    Messages never quote the file's content: a ``snapshot:`` path may name
    any file, a secret one included.

    Raises:
        PlanError: missing, not a regular file, too large, or invalid content
            (file, line, key).
    """
    text = read_text(path, "topic snapshot", SNAPSHOT_MAX_BYTES)
    snapshot: Snapshot = parse_yaml_model(text, path, Snapshot)
    return snapshot

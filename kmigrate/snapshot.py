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
from pydantic import BaseModel, ConfigDict, Field

from kmigrate.errors import PlanError
from kmigrate.journal import atomic_write
from kmigrate.plan.loader import parse_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SnapshotSource(_Strict):
    """Where the snapshot came from (no credentials)."""

    type: str
    bootstrap_servers: str


class TopicSnapshot(_Strict):
    """One topic: partition count, replication factor, customised configs."""

    partitions: int = Field(gt=0)
    replication_factor: int = Field(gt=0)
    configs: dict[str, str] = Field(default_factory=dict)


class Snapshot(_Strict):
    """A whole snapshot.  ``consumer_groups`` maps group → topic → partition → offset."""

    version: int = 1
    source: SnapshotSource
    topics: dict[str, TopicSnapshot] = Field(default_factory=dict)
    consumer_groups: dict[str, dict[str, dict[int, int]]] = Field(default_factory=dict)


def dump(snapshot: Snapshot) -> str:
    """The snapshot as sorted YAML text."""
    return yaml.safe_dump(snapshot.model_dump(), sort_keys=True, default_flow_style=False)


def write(snapshot: Snapshot, path: Path) -> None:
    """Write the snapshot atomically."""
    atomic_write(path, dump(snapshot))


def load(path: Path) -> Snapshot:
    """Read and validate a snapshot file.

    Raises:
        PlanError: missing file or invalid content (file, line, key).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the topic snapshot: {exc.strerror}") from None
    snapshot: Snapshot = parse_yaml_model(text, path, Snapshot)
    return snapshot

"""Type ``redpanda``: a self-run Redpanda cluster, through its Kafka API.

As a source its vendor keys (``redpanda.*``, ``write.caching``, ...) are recognised by
the translation rules, its replication factor comes from Metadata, and cluster-level
customisations it reports as ``DEFAULT_CONFIG`` are carried when they differ from the
target's stock default (:func:`kmigrate.targets.rules.carry_source_values`).

Source: docs.redpanda.com/current/reference/properties/topic-properties/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmigrate.clusters.kafka import KafkaPlane, data_plane
from kmigrate.clusters.port import Cluster


def open_cluster(
    role: str, values: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[Cluster, KafkaPlane]:
    """A ``redpanda`` cluster: bootstrap servers and the plan's ``config:``."""
    return (
        data_plane(role, str(values.get("bootstrap_servers") or ""), config),
        KafkaPlane("redpanda", values.get("facts") or {}, config),
    )

"""Type ``redpanda``: a self-run Redpanda cluster, through its Kafka API.

As a source its vendor keys (``redpanda.*``, ``write.caching``, ...) are recognised by
the translation rules, its replication factor comes from Metadata, and cluster-level
customisations it reports as ``DEFAULT_CONFIG`` are carried when they differ from the
target's stock default (:func:`kmigrate.targets.rules.carry_source_values`).

Source: docs.redpanda.com/current/reference/properties/topic-properties/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kmigrate.clusters.kafka import KafkaPlane, data_plane
from kmigrate.clusters.spec import ClusterType
from kmigrate.targets.profiles import SRC_REDPANDA, Fact, TargetProfile, frozen
from kmigrate.topic_configs import REDPANDA_DEFAULTS

if TYPE_CHECKING:
    from kmigrate.clusters.port import Cluster

PROFILE = TargetProfile(
    name="redpanda",
    family="redpanda",
    defaults=frozen(REDPANDA_DEFAULTS),
    defaults_source=SRC_REDPANDA,
    kafka_endpoint=Fact(True, SRC_REDPANDA),
    holds_vendor_keys=True,
    self_run=True,
    broker_counted=True,
)

#: The ``redpanda`` type: ``bootstrap_servers``; a source or a target.
TYPE = ClusterType("redpanda", ("bootstrap_servers",), source=True, profiles={"": PROFILE})


def open_cluster(
    role: str, values: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[Cluster, KafkaPlane]:
    """A ``redpanda`` cluster: bootstrap servers and the plan's ``config:``."""
    return (
        data_plane(role, str(values.get("bootstrap_servers") or ""), config),
        KafkaPlane(TYPE, values.get("facts") or {}, config),
    )

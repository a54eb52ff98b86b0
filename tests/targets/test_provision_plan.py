"""Tests for kmigrate.steps.provision_topics.translate_snapshot (pure: no cluster).

provision-topics plans through the named rules of kmigrate.targets.translate; these tests
check the wiring from a snapshot (with recorded config sources) to the table.
"""

from __future__ import annotations

from kmigrate.clusters.registry import profile_for
from kmigrate.snapshot import Snapshot, SnapshotSource, TopicSnapshot
from kmigrate.steps.provision_topics import translate_snapshot
from kmigrate.targets.model import Accept, TopicTranslation


def snap(source_type: str = "kafka", **topics: TopicSnapshot) -> Snapshot:
    return Snapshot(source=SnapshotSource(type=source_type, bootstrap_servers="x:1"), topics=topics)


def only(snapshot: Snapshot, target: str = "kafka", facts=None, **kw) -> TopicTranslation:  # type: ignore[no-untyped-def]
    facts = {} if facts is None else facts
    [t] = translate_snapshot(snapshot, profile_for(target, facts), facts, **kw).topics
    return t


def decision(t: TopicTranslation, key: str) -> tuple[str, str | None, str]:
    [d] = [d for d in t.decisions if d.key == key]
    return d.decision, d.target_value, d.rule


def test_missing_topic_is_created_with_rf_capped_at_broker_count() -> None:
    t = only(
        snap(orders=TopicSnapshot(partitions=3, replication_factor=3)), facts={"broker_count": 1}
    )
    assert (t.action, t.partitions, t.replication_factor) == ("create", 3, 1)
    assert t.replication_factor_reason == (
        "the source's replication factor 3, capped at the target's 1 brokers"
    )


def test_rf_not_capped_when_enough_brokers() -> None:
    t = only(
        snap(orders=TopicSnapshot(partitions=3, replication_factor=3)), facts={"broker_count": 5}
    )
    assert t.replication_factor == 3


def test_topics_come_sorted_by_name() -> None:
    s = snap(
        b=TopicSnapshot(partitions=1, replication_factor=1),
        a=TopicSnapshot(partitions=1, replication_factor=1),
    )
    names = [t.name for t in translate_snapshot(s, profile_for("kafka"), {}).topics]
    assert names == ["a", "b"]


def test_existing_topic_with_fewer_partitions_is_refused_and_cannot_be_accepted() -> None:
    t = only(
        snap(orders=TopicSnapshot(partitions=4, replication_factor=1)),
        existing={"orders": 2},
        accept=[Accept("orders", "partitions")],
    )
    assert t.action == "refuse"
    assert decision(t, "partitions") == ("refused", "2", "partitions_not_fewer")


def test_existing_topic_with_as_many_partitions_exists() -> None:
    t = only(snap(orders=TopicSnapshot(partitions=2, replication_factor=1)), existing={"orders": 3})
    assert (t.action, t.partitions) == ("exists", 3)


def test_redpanda_vendor_keys_are_dropped_for_a_kafka_target_and_compression_converted() -> None:
    s = snap(
        "redpanda",
        orders=TopicSnapshot(
            partitions=1,
            replication_factor=1,
            configs={"redpanda.remote.read": "true", "compression.type": "none"},
        ),
    )
    t = only(s)
    assert decision(t, "redpanda.remote.read")[0] == "dropped"
    assert decision(t, "compression.type") == (
        "converted",
        "uncompressed",
        "convert_compression_none",
    )
    assert t.configs == {"compression.type": "uncompressed"}


def test_redpanda_target_keeps_vendor_keys() -> None:
    s = snap(
        "redpanda",
        orders=TopicSnapshot(
            partitions=1, replication_factor=1, configs={"redpanda.remote.read": "true"}
        ),
    )
    assert only(s, "redpanda").configs == {"redpanda.remote.read": "true"}


def test_plan_replication_factor_overrides_the_sources_and_is_still_capped() -> None:
    s = snap(orders=TopicSnapshot(partitions=1, replication_factor=1))
    t = only(s, facts={"broker_count": 2}, replication_factor=3)
    assert t.replication_factor == 2
    assert t.replication_factor_reason.startswith("the plan's replication factor 3")


def test_confluent_cloud_requires_rf_3_whatever_the_source_had() -> None:
    t = only(
        snap(orders=TopicSnapshot(partitions=1, replication_factor=1)),
        "confluent-cloud",
        {"cluster_type": "standard"},
    )
    assert t.replication_factor == 3


def test_eventhubs_has_no_replication_factor_and_gets_hub_properties() -> None:
    t = only(
        snap(orders=TopicSnapshot(partitions=2, replication_factor=1)),
        "eventhubs",
        {"tier": "standard"},
    )
    assert t.replication_factor is None
    assert t.configs["cleanupPolicy"] == "Delete"
    assert t.configs["retentionTimeInHours"] == "168"


def test_a_compose_static_broker_value_is_carried_when_it_differs_from_the_target() -> None:
    """A server.properties value (STATIC_BROKER_CONFIG) is the topic's effective value; it
    is carried to a target whose stock default differs (MSK's retention is 168 h too, so
    a 3-day broker retention must be set explicitly)."""
    s = snap(
        orders=TopicSnapshot(
            partitions=1,
            replication_factor=1,
            configs={"retention.ms": "259200000"},
            config_sources={"retention.ms": "STATIC_BROKER_CONFIG"},
        )
    )
    t = only(s, "msk", {"cluster_type": "provisioned", "broker_count": 3})
    assert decision(t, "retention.ms")[:2] == ("copied", "259200000")

"""Tests for kmigrate.steps.provision_topics.plan_provision (pure: no cluster)."""

from __future__ import annotations

from kmigrate.adapters.kafka import TopicMeta
from kmigrate.snapshot import Snapshot, SnapshotSource, TopicSnapshot
from kmigrate.steps.provision_topics import CONFLICT, CREATE, EXISTS, TopicAction, plan_provision


def snap(source_type: str = "redpanda", **topics: TopicSnapshot) -> Snapshot:
    return Snapshot(
        source=SnapshotSource(type=source_type, bootstrap_servers="src:9092"),
        topics={name.replace("_", "-"): t for name, t in topics.items()},
    )


def topic(partitions: int = 3, rf: int = 3, **configs: str) -> TopicSnapshot:
    return TopicSnapshot(
        partitions=partitions,
        replication_factor=rf,
        configs={k.replace("_", "."): v for k, v in configs.items()},
    )


def only(actions: list[TopicAction]) -> TopicAction:
    assert len(actions) == 1
    return actions[0]


def test_missing_topic_is_created_with_rf_capped_at_broker_count() -> None:
    s = snap(orders=topic(partitions=6, rf=3, cleanup_policy="compact"))
    action = only(plan_provision(s, {}, {}, target_brokers=1, target_type="kafka"))
    assert action.topic == "orders"
    assert action.action == CREATE
    assert action.partitions == 6
    assert action.replication_factor == 1
    assert action.configs == {"cleanup.policy": "compact"}
    assert action.differences == []
    assert len(action.notes) == 1
    assert "replication factor 3 -> 1" in action.notes[0]
    assert "1 broker(s)" in action.notes[0]


def test_rf_not_capped_when_enough_brokers() -> None:
    s = snap(orders=topic(rf=3))
    action = only(plan_provision(s, {}, {}, target_brokers=5, target_type="kafka"))
    assert action.replication_factor == 3
    assert action.notes == []


def test_zero_brokers_still_gives_rf_one() -> None:
    s = snap(orders=topic(rf=3))
    action = only(plan_provision(s, {}, {}, target_brokers=0, target_type="kafka"))
    assert action.replication_factor == 1


def test_actions_are_sorted_by_topic() -> None:
    s = snap(zeta=topic(), alpha=topic(), mid=topic())
    actions = plan_provision(s, {}, {}, 3, "kafka")
    assert [a.topic for a in actions] == ["alpha", "mid", "zeta"]


def test_existing_topic_with_fewer_partitions_is_a_conflict() -> None:
    s = snap(orders=topic(partitions=6, rf=1))
    existing = {"orders": TopicMeta("orders", 3, 1)}
    action = only(plan_provision(s, existing, {"orders": {}}, 1, "kafka"))
    assert action.action == CONFLICT
    assert action.partitions == 3  # the target's, which is left alone
    assert len(action.differences) == 1
    assert "partitions: target has 3, source has 6" in action.differences[0]
    assert "fewer partitions" in action.differences[0]


def test_existing_topic_with_more_partitions_exists_with_a_difference() -> None:
    s = snap(orders=topic(partitions=3, rf=1))
    existing = {"orders": TopicMeta("orders", 12, 1)}
    action = only(plan_provision(s, existing, {"orders": {}}, 1, "kafka"))
    assert action.action == EXISTS
    assert action.partitions == 12
    assert action.differences == ["partitions: target has 12, source has 3"]


def test_existing_identical_topic_exists_without_differences() -> None:
    s = snap(orders=topic(partitions=3, rf=1, cleanup_policy="compact"))
    existing = {"orders": TopicMeta("orders", 3, 1)}
    target_configs: dict[str, dict[str, str | None]] = {
        "orders": {"cleanup.policy": "compact", "retention.ms": "604800000"}
    }
    action = only(plan_provision(s, existing, target_configs, 1, "kafka"))
    assert action.action == EXISTS
    assert action.differences == []


def test_existing_topic_replication_factor_difference() -> None:
    s = snap(orders=topic(partitions=3, rf=3))
    existing = {"orders": TopicMeta("orders", 3, 1)}
    action = only(plan_provision(s, existing, {}, 3, "kafka"))
    assert action.action == EXISTS
    assert action.replication_factor == 1
    assert action.differences == ["replication factor: target has 1, wanted 3"]


def test_config_differences_are_reported_both_ways() -> None:
    s = snap(orders=topic(partitions=1, rf=1, cleanup_policy="compact", retention_ms="1000"))
    existing = {"orders": TopicMeta("orders", 1, 1)}
    target_configs: dict[str, dict[str, str | None]] = {
        "orders": {
            "cleanup.policy": "delete",  # stock default on the target
            "retention.ms": "2000",  # customised differently
            "min.insync.replicas": "2",  # customised only on the target
        }
    }
    action = only(plan_provision(s, existing, target_configs, 1, "kafka"))
    assert action.action == EXISTS
    assert action.differences == [
        "cleanup.policy: target has (default), source has compact",
        "min.insync.replicas: target has 2, source has (default)",
        "retention.ms: target has 2000, source has 1000",
    ]


def test_source_value_equal_to_the_target_default_is_no_difference() -> None:
    """A Redpanda source with segment.bytes = 1 GiB (customised there) against a
    Kafka target at its stock 1 GiB: both hold the same value."""
    s = snap(orders=topic(partitions=1, rf=1, segment_bytes="1073741824"))
    existing = {"orders": TopicMeta("orders", 1, 1)}
    target_configs: dict[str, dict[str, str | None]] = {"orders": {"segment.bytes": "1073741824"}}
    action = only(plan_provision(s, existing, target_configs, 1, "kafka"))
    assert action.differences == []


def test_vendor_keys_are_dropped_and_listed() -> None:
    s = snap(
        orders=topic(
            partitions=1,
            rf=1,
            cleanup_policy="compact",
            redpanda_remote_read="true",
            write_caching="true",
            compression_type="none",
        )
    )
    action = only(plan_provision(s, {}, {}, 1, "kafka"))
    assert action.configs == {"cleanup.policy": "compact", "compression.type": "uncompressed"}
    assert set(action.dropped) == {"redpanda.remote.read", "write.caching"}
    assert all(action.dropped.values())
    assert set(action.rewritten) == {"compression.type"}


def test_dropped_vendor_keys_are_not_differences_on_existing_topics() -> None:
    s = snap(orders=topic(partitions=1, rf=1, redpanda_remote_read="true"))
    existing = {"orders": TopicMeta("orders", 1, 1)}
    action = only(plan_provision(s, existing, {"orders": {}}, 1, "kafka"))
    assert action.action == EXISTS
    assert action.differences == []
    assert set(action.dropped) == {"redpanda.remote.read"}


def test_redpanda_target_keeps_vendor_keys() -> None:
    s = snap(orders=topic(partitions=1, rf=1, redpanda_remote_read="true"))
    action = only(plan_provision(s, {}, {}, 1, "redpanda"))
    assert action.configs == {"redpanda.remote.read": "true"}
    assert action.dropped == {}


def test_plan_replication_factor_overrides_the_sources_and_is_noted() -> None:
    s = snap(orders=topic(rf=1))
    action = only(
        plan_provision(s, {}, {}, target_brokers=3, target_type="kafka", replication_factor=3)
    )
    assert action.replication_factor == 3
    assert action.notes == ["replication factor 1 -> 3: set by the plan"]


def test_plan_replication_factor_is_still_capped_at_broker_count() -> None:
    s = snap(orders=topic(rf=1))
    action = only(
        plan_provision(s, {}, {}, target_brokers=2, target_type="kafka", replication_factor=3)
    )
    assert action.replication_factor == 2
    assert action.notes == [
        "replication factor 1 -> 3: set by the plan",
        "replication factor 3 -> 2: the target has 2 broker(s)",
    ]

"""Translation rules, table-driven: one row per fact of issue 5 (pure; no broker).

Each row names a target profile, a source topic and the decision expected for one key:
its decision, target value, a phrase of its reason and the rule's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmigrate.clusters.registry import ALL_RULES, PROFILES, profile_for, rule_catalogue
from kmigrate.errors import UsageError
from kmigrate.snapshot import Snapshot, SnapshotSource, TopicSnapshot
from kmigrate.targets.model import Accept, SourceConfig, SourceTopic
from kmigrate.targets.translate import translate_topic, translate_topics


@dataclass(frozen=True)
class Row:
    """One fact: the input topic and the decision expected for ``key``."""

    id: str
    profile: str
    configs: dict[str, str | SourceConfig]
    key: str
    decision: str
    target_value: str | None
    reason: str
    rule: str
    source_type: str = "kafka"
    partitions: int = 3
    facts: dict[str, object] = field(default_factory=dict)
    target_key: str | None = None


# fmt: off
KEY_ROWS = [
    Row("redpanda key dropped for kafka", "kafka", {"redpanda.remote.write": "true"},
        "redpanda.remote.write", "dropped", None, "Redpanda", "drop_vendor_keys", "redpanda"),
    Row("write.caching dropped for msk", "msk-provisioned", {"write.caching": "true"},
        "write.caching", "dropped", None, "Redpanda-only", "drop_vendor_keys", "redpanda"),
    Row("redpanda flush.ms dropped for confluent cloud", "confluent-cloud-standard",
        {"flush.ms": "50"}, "flush.ms", "dropped", None, "write cache", "drop_vendor_keys",
        "redpanda"),
    Row("retention.local.target dropped for eventhubs", "eventhubs-standard",
        {"retention.local.target.ms": "1000"}, "retention.local.target.ms", "dropped", None,
        "tiered-storage", "drop_vendor_keys", "redpanda"),
    Row("redpanda key kept for redpanda", "redpanda", {"write.caching": "true"},
        "write.caching", "copied", "true", "holds", "copy_settable", "redpanda"),
    Row("compression none -> uncompressed", "msk-provisioned", {"compression.type": "none"},
        "compression.type", "converted", "uncompressed", "spelled 'uncompressed'",
        "convert_compression_none", "redpanda"),
    Row("confluent cloud compression fixed", "confluent-cloud-basic", {"compression.type": "zstd"},
        "compression.type", "dropped", None, "fixes compression.type=producer", "keep_fixed_keys"),
    Row("confluent cloud non-editable key dropped", "confluent-cloud-dedicated",
        {"min.cleanable.dirty.ratio": "0.1"}, "min.cleanable.dirty.ratio", "dropped", None,
        "not editable on Confluent Cloud", "confluent_cloud_editable_keys"),
    Row("confluent cloud editable key copied", "confluent-cloud-standard",
        {"retention.ms": "1209600000"}, "retention.ms", "copied", "1209600000", "holds",
        "copy_settable"),
    Row("msk provisioned copies any kafka key", "msk-provisioned",
        {"min.cleanable.dirty.ratio": "0.1"}, "min.cleanable.dirty.ratio", "copied", "0.1",
        "holds", "copy_settable"),
    Row("msk serverless segment.bytes refused", "msk-serverless", {"segment.bytes": "268435456"},
        "segment.bytes", "refused", None, "refuses segment.bytes", "msk_serverless_keys"),
    Row("msk serverless max.message.bytes above 8 MiB refused", "msk-serverless",
        {"max.message.bytes": str(9 * 1024 * 1024)}, "max.message.bytes", "refused", None,
        "up to 8388608 bytes", "msk_serverless_keys"),
    Row("msk serverless max.message.bytes within 8 MiB copied", "msk-serverless",
        {"max.message.bytes": "2097152"}, "max.message.bytes", "copied", "2097152", "holds",
        "copy_settable"),
    Row("msk serverless other key dropped", "msk-serverless", {"min.compaction.lag.ms": "60000"},
        "min.compaction.lag.ms", "dropped", None, "only 7 topic configs", "msk_serverless_keys"),
    Row("eventhubs retention.ms -> hours rounded up", "eventhubs-standard",
        {"retention.ms": "90000000"}, "retention.ms", "converted", "25", "25 hours (rounded up",
        "eventhubs_retention_hours", target_key="retentionTimeInHours"),
    Row("eventhubs retention above standard maximum refused", "eventhubs-standard",
        {"retention.ms": "1209600000"}, "retention.ms", "refused", None,
        "maximum retention of 168 hours", "eventhubs_retention_hours",
        target_key="retentionTimeInHours"),
    Row("eventhubs premium holds 14 days", "eventhubs-premium", {"retention.ms": "1209600000"},
        "retention.ms", "converted", "336", "336 hours", "eventhubs_retention_hours",
        target_key="retentionTimeInHours"),
    Row("eventhubs infinite retention", "eventhubs-dedicated", {"retention.ms": "-1"},
        "retention.ms", "converted", "-1", "infinite", "eventhubs_retention_hours",
        target_key="retentionTimeInHours"),
    Row("eventhubs source default retention still set", "eventhubs-standard", {},
        "retention.ms", "converted", "168", "168 hours", "eventhubs_retention_hours",
        target_key="retentionTimeInHours"),
    Row("eventhubs retention.bytes dropped", "eventhubs-standard", {"retention.bytes": "1000000"},
        "retention.bytes", "dropped", None, "by time only", "eventhubs_retention_bytes_dropped"),
    Row("eventhubs cleanup delete", "eventhubs-standard", {}, "cleanup.policy", "converted",
        "Delete", "hub cleanup policy Delete", "eventhubs_cleanup_policy",
        target_key="cleanupPolicy"),
    Row("eventhubs cleanup compact", "eventhubs-premium", {"cleanup.policy": "compact"},
        "cleanup.policy", "converted", "Compact", "cleanup policy Compact",
        "eventhubs_cleanup_policy", target_key="cleanupPolicy"),
    Row("eventhubs cleanup compact,delete", "eventhubs-premium",
        {"cleanup.policy": "delete,compact"}, "cleanup.policy", "converted", "DeleteOrCompact",
        "DeleteOrCompact", "eventhubs_cleanup_policy", target_key="cleanupPolicy"),
    Row("eventhubs tombstone hours", "eventhubs-premium",
        {"cleanup.policy": "compact", "delete.retention.ms": "86400001"}, "delete.retention.ms",
        "converted", "25", "25 hours", "eventhubs_tombstone_hours",
        target_key="tombstoneRetentionTimeInHours"),
    Row("eventhubs min compaction lag minutes", "eventhubs-premium",
        {"min.compaction.lag.ms": "90000"}, "min.compaction.lag.ms", "converted", "2",
        "2 minutes (rounded up)", "eventhubs_min_compaction_lag_minutes",
        target_key="minCompactionLagTimeInMinutes"),
    Row("eventhubs min compaction lag capped at 2 days", "eventhubs-premium",
        {"min.compaction.lag.ms": str(3 * 86_400_000)}, "min.compaction.lag.ms", "converted",
        "2880", "capped at 2 days", "eventhubs_min_compaction_lag_minutes",
        target_key="minCompactionLagTimeInMinutes"),
    Row("eventhubs CreateTime set so timestamps survive", "eventhubs-standard", {},
        "message.timestamp.type", "converted", "Create", "keep their source timestamps",
        "eventhubs_create_time", target_key="timestampType"),
    Row("eventhubs max.message.bytes above 1 MB refused", "eventhubs-standard",
        {"max.message.bytes": "2097152"}, "max.message.bytes", "refused", None,
        "below 1046528 bytes", "eventhubs_max_message_bytes"),
    Row("eventhubs non-numeric retention refused", "eventhubs-standard",
        {"retention.ms": "forever"}, "retention.ms", "refused", None, "is not a number",
        "eventhubs_retention_hours"),
    Row("eventhubs other key dropped", "eventhubs-standard", {"segment.bytes": "268435456"},
        "segment.bytes", "dropped", None, "no hub setting for segment.bytes",
        "eventhubs_no_equivalent"),
    Row("eventhubs basic refused", "eventhubs-basic", {}, "namespace", "refused", None,
        "no Kafka endpoint", "eventhubs_basic_refused"),
    Row("eventhubs partitions above standard limit refused", "eventhubs-standard", {},
        "partitions", "refused", None, "above eventhubs-standard's limit of 32",
        "partitions_within_tier_limit", partitions=40),
    Row("redpanda DEFAULT_CONFIG customisation carried", "msk-provisioned",
        {"retention.ms": SourceConfig("172800000", "DEFAULT_CONFIG")}, "retention.ms", "copied",
        "172800000", "holds", "copy_settable", "redpanda"),
    Row("kafka STATIC_BROKER value carried", "confluent-cloud-standard",
        {"retention.ms": SourceConfig("259200000", "STATIC_BROKER_CONFIG")}, "retention.ms",
        "copied", "259200000", "holds", "copy_settable"),
]
# fmt: on


@pytest.mark.parametrize("row", KEY_ROWS, ids=[r.id for r in KEY_ROWS])
def test_rule_row(row: Row) -> None:
    """Each fact gives its decision, target value, reason and rule name."""
    t = translate_topic(
        "orders",
        SourceTopic(row.partitions, 3, row.configs),
        row.source_type,
        PROFILES[row.profile],
        row.facts,
    )
    found = [d for d in t.decisions if d.key == row.key]
    assert len(found) == 1, t.decisions
    d = found[0]
    assert (d.decision, d.target_value, d.rule) == (row.decision, row.target_value, row.rule)
    assert row.reason in d.reason
    assert d.target_key == row.target_key
    if row.decision == "refused":
        assert t.action == "refuse"
        assert d in t.refusals


def test_redpanda_default_equal_to_target_default_is_not_carried() -> None:
    """A Redpanda DEFAULT_CONFIG value equal to the target's stock default needs no setting,
    and an unchanged vendor default is not listed either."""
    t = translate_topic(
        "orders",
        SourceTopic(
            3,
            3,
            {
                "retention.ms": SourceConfig("604800000", "DEFAULT_CONFIG"),
                "write.caching": SourceConfig("false", "DEFAULT_CONFIG"),
            },
        ),
        "redpanda",
        PROFILES["msk-provisioned"],
    )
    assert t.decisions == []


def test_kafka_static_broker_equal_to_target_default_not_carried() -> None:
    """A STATIC_BROKER value equal to the target's stock default is not a setting to make."""
    t = translate_topic(
        "orders",
        SourceTopic(3, 1, {"segment.bytes": SourceConfig("104857600", "STATIC_BROKER_CONFIG")}),
        "kafka",
        PROFILES["confluent-cloud-standard"],
    )
    assert [d.key for d in t.decisions] == []


def test_fewer_target_partitions_refused_everywhere() -> None:
    """Every target refuses an existing topic with fewer partitions than the source."""
    for profile in PROFILES.values():
        if not profile.kafka_endpoint.value:
            continue
        t = translate_topic(
            "orders", SourceTopic(6, 3, {}), "kafka", profile, existing_partitions=3
        )
        d = next(d for d in t.decisions if d.key == "partitions")
        assert (d.decision, d.rule, t.action) == ("refused", "partitions_not_fewer", "refuse")
        assert "fewer partitions cannot keep" in d.reason


def test_existing_topic_with_enough_partitions_exists() -> None:
    """A target topic with at least the source's partitions is left as it is."""
    t = translate_topic(
        "orders", SourceTopic(3, 3, {}), "kafka", PROFILES["kafka"], existing_partitions=6
    )
    assert (t.action, t.partitions) == ("exists", 6)


def test_confluent_cloud_rf_3() -> None:
    """Confluent Cloud requires RF 3 whatever the source had."""
    t = translate_topic("o", SourceTopic(3, 1, {}), "kafka", PROFILES["confluent-cloud-basic"])
    assert t.replication_factor == 3
    assert "requires replication factor 3" in t.replication_factor_reason


def test_confluent_cloud_compression_warns() -> None:
    """A non-producer compression.type on the source warns that the target keeps producer."""
    t = translate_topic(
        "o",
        SourceTopic(3, 3, {"compression.type": "zstd"}),
        "kafka",
        PROFILES["confluent-cloud-standard"],
    )
    assert [w.rule for w in t.warnings] == ["keep_fixed_keys"]
    assert "keeps producer" in t.warnings[0].message


@pytest.mark.parametrize(
    ("source_rf", "brokers", "configs", "rf", "reason", "warning"),
    [
        (3, 3, {}, 3, "the source's replication factor 3", None),
        (3, 2, {}, 2, "capped at the target's 2 brokers", "one broker down stops"),
        (1, 3, {}, 1, "the source's replication factor 1", "acks=all producers cannot write"),
        (3, 3, {"min.insync.replicas": "3"}, 3, "the source's", "one broker down stops"),
    ],
)
def test_msk_provisioned_rf(
    source_rf: int,
    brokers: int,
    configs: dict[str, str],
    rf: int,
    reason: str,
    warning: str | None,
) -> None:
    """MSK Provisioned RF = min(source RF, brokers); RF <= min.insync.replicas (MSK default 2)
    warns."""
    t = translate_topic(
        "o",
        SourceTopic(3, source_rf, configs),
        "kafka",
        PROFILES["msk-provisioned"],
        {"broker_count": brokers},
    )
    assert t.replication_factor == rf
    assert reason in t.replication_factor_reason
    rf_warnings = [w for w in t.warnings if w.rule == "replication_factor_msk_provisioned"]
    if warning is None:
        assert rf_warnings == []
    else:
        assert len(rf_warnings) == 1 and warning in rf_warnings[0].message


def test_msk_partition_guidance_warns() -> None:
    """Partitions x RF / brokers above AWS's guidance for the broker size warns."""
    topics = {f"t{i}": SourceTopic(100, 3, {}) for i in range(4)}  # 1200 replicas
    facts = {"broker_count": 3, "broker_type": "kafka.t3.small"}
    tr = translate_topics(topics, "kafka", PROFILES["msk-provisioned"], facts)
    assert [w.rule for w in tr.warnings] == ["msk_partition_guidance"]
    assert "400 partition replicas per broker" in tr.warnings[0].message
    assert "300" in tr.warnings[0].message
    ok = translate_topics(
        topics, "kafka", PROFILES["msk-provisioned"], {**facts, "broker_type": "kafka.m5.large"}
    )
    assert ok.warnings == []


def test_eventhubs_rf_none() -> None:
    """Event Hubs has no replication factor a client sets."""
    t = translate_topic("o", SourceTopic(3, 3, {}), "kafka", PROFILES["eventhubs-standard"])
    assert t.replication_factor is None
    assert "replicates internally" in t.replication_factor_reason


def test_eventhubs_hub_limit() -> None:
    """Hubs above the namespace limit (Standard 10) are refused, counting existing hubs."""
    topics = {f"t{i:02}": SourceTopic(1, 1, {}) for i in range(5)}
    tr = translate_topics(
        topics, "kafka", PROFILES["eventhubs-standard"], {}, existing_topic_count=8
    )
    assert [t.action for t in tr.topics] == ["create", "create", "refuse", "refuse", "refuse"]
    d = next(d for d in tr.topics[2].decisions if d.key == "hubs")
    assert d.rule == "eventhubs_hub_limit"
    assert "would hold 11 hubs; eventhubs-standard allows 10" in d.reason


def test_eventhubs_premium_partitions_per_namespace() -> None:
    """Premium holds 200 partitions per processing unit across the namespace."""
    topics = {
        "a": SourceTopic(100, 1, {}),
        "b": SourceTopic(100, 1, {}),
        "c": SourceTopic(1, 1, {}),
    }
    tr = translate_topics(topics, "kafka", PROFILES["eventhubs-premium"], {})
    assert [t.action for t in tr.topics] == ["create", "create", "refuse"]
    two = translate_topics(topics, "kafka", PROFILES["eventhubs-premium"], {"processing_units": 2})
    assert [t.action for t in two.topics] == ["create", "create", "create"]


def test_accepted_refusal_is_recorded_and_unblocks() -> None:
    """A refusal the plan accepts (topic glob + key) is marked accepted; the topic is created
    without that key."""
    topic = SourceTopic(3, 3, {"retention.ms": "1209600000", "retention.bytes": "100"})
    accept = [Accept("event-*", "retention.ms")]
    t = translate_topic("event-created", topic, "kafka", PROFILES["eventhubs-standard"], {}, accept)
    d = next(d for d in t.decisions if d.key == "retention.ms")
    assert (d.decision, d.accepted, t.action) == ("refused", True, "create")
    assert "retentionTimeInHours" not in t.configs
    other = translate_topic("orders", topic, "kafka", PROFILES["eventhubs-standard"], {}, accept)
    assert other.action == "refuse"


def test_structural_refusal_cannot_be_accepted() -> None:
    """Accepting ``partitions`` does not lift a partition refusal; a warning says so."""
    t = translate_topic(
        "big",
        SourceTopic(64, 1, {}),
        "kafka",
        PROFILES["eventhubs-standard"],
        {},
        [Accept("*", "partitions")],
    )
    assert t.action == "refuse"
    assert [w.rule for w in t.warnings] == ["apply_accepts"]


def test_json_contract() -> None:
    """``to_dict`` carries the issue's JSON keys."""
    t = translate_topic(
        "o", SourceTopic(3, 1, {"retention.ms": "1"}), "kafka", PROFILES["kafka"], {}
    )
    out = t.to_dict()
    assert {"name", "action", "partitions", "replication_factor", "decisions"} <= set(out)
    assert out["decisions"] == [
        {
            "key": "retention.ms",
            "source_value": "1",
            "target_value": "1",
            "decision": "copied",
            "reason": "kafka holds retention.ms",
            "rule": "copy_settable",
            "target_key": None,
            "accepted": False,
            "acceptable": True,
        }
    ]


def test_eventhubs_configs_are_arm_settings() -> None:
    """An Event Hubs translation's configs are the ARM hub settings to apply."""
    t = translate_topic(
        "o",
        SourceTopic(4, 1, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
        "kafka",
        PROFILES["eventhubs-premium"],
    )
    assert t.configs == {
        "cleanupPolicy": "Compact",
        "minCompactionLagTimeInMinutes": "1",
        "retentionTimeInHours": "168",
        "timestampType": "Create",
    }


@pytest.mark.parametrize(
    ("ctype", "facts", "name"),
    [
        ("kafka", {}, "kafka"),
        ("msk", {"cluster_type": "SERVERLESS"}, "msk-serverless"),
        ("eventhubs", {"tier": "premium"}, "eventhubs-premium"),
        ("confluent-cloud", {"cluster_type": "enterprise"}, "confluent-cloud-enterprise"),
    ],
)
def test_profile_for(ctype: str, facts: dict[str, object], name: str) -> None:
    """A plan type plus its declared facts picks one profile."""
    assert profile_for(ctype, facts).name == name


def test_profile_for_errors() -> None:
    """A missing or unknown fact names the allowed values."""
    with pytest.raises(UsageError, match="needs facts.tier"):
        profile_for("eventhubs", {})
    with pytest.raises(UsageError, match="expected one of basic, standard"):
        profile_for("confluent-cloud", {"cluster_type": "huge"})


def test_every_limit_has_a_source() -> None:
    """Every limit and fixed value of every profile names where it comes from."""
    for p in PROFILES.values():
        assert p.defaults_source
        for fact in [*p.limits.values(), *p.fixed.values(), p.kafka_endpoint]:
            assert fact.source, p.name


def test_every_rule_cites_its_source() -> None:
    """Each rule's docstring names where its fact comes from; the catalogue lists them all."""
    catalogue = rule_catalogue()
    assert [c["rule"] for c in catalogue] == [r.__name__ for r in ALL_RULES]
    for entry in catalogue:
        assert entry["source"], entry["rule"]
        assert entry["summary"], entry["rule"]


def test_tiered_storage_source_warns() -> None:
    """A Redpanda topic using tiered storage gets its key dropped and a warning."""
    t = translate_topic(
        "o",
        SourceTopic(3, 3, {"redpanda.remote.read": "true"}),
        "redpanda",
        PROFILES["confluent-cloud-standard"],
    )
    assert [w.rule for w in t.warnings] == ["drop_vendor_keys"]
    assert "tiered storage" in t.warnings[0].message


@given(st.integers(min_value=1, max_value=7 * 86_400_000))
def test_eventhubs_retention_hours_round_up(ms: int) -> None:
    """Retention in hours never shortens the source's retention, by less than one hour."""
    t = translate_topic(
        "o", SourceTopic(1, 1, {"retention.ms": str(ms)}), "kafka", PROFILES["eventhubs-standard"]
    )
    hours = int(t.configs["retentionTimeInHours"])
    assert hours * 3_600_000 >= ms
    assert (hours - 1) * 3_600_000 < ms


@given(
    st.sampled_from(sorted(PROFILES)),
    st.integers(min_value=1, max_value=2000),
    st.dictionaries(
        st.sampled_from(
            [
                "retention.ms",
                "segment.bytes",
                "cleanup.policy",
                "max.message.bytes",
                "write.caching",
                "compression.type",
            ]
        ),
        st.sampled_from(["-1", "1", "604800000", "compact", "none", "99999999999"]),
    ),
)
def test_action_is_refuse_exactly_when_a_refusal_stands(
    profile: str, partitions: int, configs: dict[str, str]
) -> None:
    """Whatever the input, a topic is refused iff an unaccepted refusal stands, and each
    key is decided once."""
    t = translate_topic("o", SourceTopic(partitions, 3, configs), "kafka", PROFILES[profile])
    assert (t.action == "refuse") == bool(t.refusals)
    keys = [d.key for d in t.decisions]
    assert len(keys) == len(set(keys))


def test_snapshot_topics_translate() -> None:
    """A snapshot's topics (what ``export-topics`` writes) translate as they are."""
    snap = Snapshot(
        source=SnapshotSource(type="redpanda", bootstrap_servers="127.0.0.1:1"),
        topics={
            "event-created": TopicSnapshot(
                partitions=6,
                replication_factor=3,
                configs={"retention.bytes": "1000", "write.caching": "true"},
            )
        },
    )
    tr = translate_topics(snap.topics, snap.source.type, PROFILES["eventhubs-standard"])
    [t] = tr.topics
    decisions = {d.key: (d.decision, d.rule) for d in t.decisions}
    assert decisions["write.caching"] == ("dropped", "drop_vendor_keys")
    assert decisions["retention.bytes"] == ("dropped", "eventhubs_retention_bytes_dropped")
    assert (t.action, t.partitions) == ("create", 6)

"""Tests for kmigrate.topic_configs: customised() and translate()."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kmigrate.adapters.kafka import ConfigValue
from kmigrate.topic_configs import (
    KAFKA_DEFAULTS,
    REDPANDA_DEFAULTS,
    customised,
    translate,
    vendor_reason,
)

# --------------------------------------------------------------------------- #
# customised()
# --------------------------------------------------------------------------- #


def test_customised_drops_values_equal_to_the_kafka_default() -> None:
    configs = {
        "cleanup.policy": "delete",
        "retention.ms": "604800000",
        "segment.bytes": "1073741824",
    }
    assert customised(configs, "kafka") == {}


def test_customised_keeps_values_that_differ_from_the_default() -> None:
    configs = {"cleanup.policy": "compact", "retention.ms": "604800000", "min.insync.replicas": "2"}
    assert customised(configs, "kafka") == {"cleanup.policy": "compact", "min.insync.replicas": "2"}


def test_segment_bytes_default_depends_on_the_cluster_type() -> None:
    """Kafka's stock segment.bytes is 1 GiB, Redpanda's is 128 MiB."""
    assert KAFKA_DEFAULTS["segment.bytes"] != REDPANDA_DEFAULTS["segment.bytes"]
    kafka_default = {"segment.bytes": "1073741824"}
    redpanda_default = {"segment.bytes": "134217728"}
    assert customised(kafka_default, "kafka") == {}
    assert customised(kafka_default, "redpanda") == {"segment.bytes": "1073741824"}
    assert customised(redpanda_default, "redpanda") == {}
    assert customised(redpanda_default, "kafka") == {"segment.bytes": "134217728"}


def test_max_message_bytes_default_depends_on_the_cluster_type() -> None:
    assert customised({"max.message.bytes": "1048588"}, "kafka") == {}
    assert customised({"max.message.bytes": "1048576"}, "redpanda") == {}
    assert customised({"max.message.bytes": "1048576"}, "kafka") == {"max.message.bytes": "1048576"}


def test_customised_ignores_the_brokers_source_field() -> None:
    """Only values count: a "default"-sourced custom value is kept, a topic-sourced
    stock value is dropped (Redpanda reports cluster customisations as DEFAULT_CONFIG)."""
    described = {
        "retention.ms": ConfigValue("86400000", "DEFAULT_CONFIG"),
        "cleanup.policy": ConfigValue("delete", "DYNAMIC_TOPIC_CONFIG"),
        "segment.bytes": ConfigValue("134217728", "DYNAMIC_TOPIC_CONFIG"),
    }
    values = {k: v.value for k, v in described.items()}
    assert customised(values, "redpanda") == {"retention.ms": "86400000"}


def test_customised_drops_sensitive_values() -> None:
    configs = {"cleanup.policy": "compact", "some.secret": "hunter2"}
    out = customised(configs, "kafka", frozenset({"some.secret"}))
    assert out == {"cleanup.policy": "compact"}


def test_customised_drops_sensitive_even_when_it_differs_from_a_default() -> None:
    out = customised({"retention.ms": "1"}, "kafka", frozenset({"retention.ms"}))
    assert out == {}


def test_customised_drops_null_values() -> None:
    configs: dict[str, str | None] = {"retention.ms": None, "unknown.key": None}
    assert customised(configs, "kafka") == {}


def test_customised_keeps_unknown_keys_with_non_empty_values() -> None:
    configs = {"confluent.value.schema.validation": "true", "unknown.empty": ""}
    assert customised(configs, "kafka") == {"confluent.value.schema.validation": "true"}


def test_customised_unknown_cluster_type_falls_back_to_kafka_defaults() -> None:
    assert customised({"segment.bytes": "1073741824"}, "msk") == {}


def test_customised_output_is_sorted_by_key() -> None:
    out = customised({"z.key": "1", "a.key": "2", "m.key": "3"}, "kafka")
    assert list(out) == ["a.key", "m.key", "z.key"]


@given(
    st.dictionaries(
        st.sampled_from(sorted(KAFKA_DEFAULTS) + ["x.one", "x.two"]),
        st.one_of(st.none(), st.sampled_from(["", "0", "1", "delete", "compact"])),
    ),
    st.sampled_from(["kafka", "redpanda"]),
)
def test_customised_never_keeps_a_stock_default_or_null(
    configs: dict[str, str | None], cluster_type: str
) -> None:
    defaults = KAFKA_DEFAULTS if cluster_type == "kafka" else REDPANDA_DEFAULTS
    out = customised(configs, cluster_type)
    for key, value in out.items():
        assert configs[key] == value
        assert value is not None
        assert defaults.get(key) != value
        if key not in defaults:
            assert value != ""
    for key, value in configs.items():
        if value is not None and key in defaults and value != defaults[key]:
            assert out[key] == value


# --------------------------------------------------------------------------- #
# translate()
# --------------------------------------------------------------------------- #

REDPANDA_SOURCE = {
    "cleanup.policy": "compact",
    "retention.ms": "86400000",
    "redpanda.remote.read": "true",
    "redpanda.remote.write": "true",
    "write.caching": "true",
    "flush.bytes": "1048576",
    "retention.local.target.ms": "3600000",
    "retention.local.target.bytes": "1000000",
    "initial.retention.local.target.ms": "1000",
    "compaction.strategy": "offset",
}


def test_translate_drops_vendor_keys_for_a_kafka_target_with_a_reason() -> None:
    tr = translate(REDPANDA_SOURCE, "kafka")
    vendor = set(REDPANDA_SOURCE) - {"cleanup.policy", "retention.ms"}
    assert set(tr.dropped) == vendor
    for key in vendor:
        assert key not in tr.configs
        assert tr.dropped[key]  # a non-empty reason
    assert "Redpanda-only" in tr.dropped["redpanda.remote.read"]
    assert "tiered-storage" in tr.dropped["retention.local.target.ms"]


def test_translate_keeps_portable_keys() -> None:
    tr = translate(REDPANDA_SOURCE, "kafka")
    assert tr.configs == {"cleanup.policy": "compact", "retention.ms": "86400000"}
    assert tr.rewritten == {}


def test_translate_drops_kafka_tiered_storage_and_throttle_keys() -> None:
    source = {
        "remote.storage.enable": "true",
        "local.retention.ms": "1000",
        "remote.log.copy.disable": "true",
        "leader.replication.throttled.replicas": "0:1",
        "message.format.version": "2.8",
        "min.insync.replicas": "2",
    }
    tr = translate(source, "kafka")
    assert tr.configs == {"min.insync.replicas": "2"}
    assert set(tr.dropped) == set(source) - {"min.insync.replicas"}


def test_translate_rewrites_compression_none_for_a_kafka_target() -> None:
    tr = translate({"compression.type": "none"}, "kafka")
    assert tr.configs == {"compression.type": "uncompressed"}
    assert "compression.type" in tr.rewritten
    assert "uncompressed" in tr.rewritten["compression.type"]
    assert tr.dropped == {}


def test_translate_keeps_other_compression_types() -> None:
    tr = translate({"compression.type": "zstd"}, "kafka")
    assert tr.configs == {"compression.type": "zstd"}
    assert tr.rewritten == {}


def test_translate_for_a_redpanda_target_keeps_vendor_keys_and_spelling() -> None:
    source = {"redpanda.remote.read": "true", "compression.type": "none"}
    tr = translate(source, "redpanda")
    assert tr.configs == source
    assert tr.dropped == {}
    assert tr.rewritten == {}


def test_vendor_reason() -> None:
    assert vendor_reason("redpanda.iceberg.mode") is not None
    assert vendor_reason("cleanup.policy") is None
    assert vendor_reason("retention.ms") is None


@given(
    st.dictionaries(
        st.sampled_from(
            sorted(set(KAFKA_DEFAULTS) | set(REDPANDA_DEFAULTS) | set(REDPANDA_SOURCE))
        ),
        st.sampled_from(["none", "true", "1", "compact"]),
    )
)
def test_translate_partitions_every_key_into_kept_or_dropped(configs: dict[str, str]) -> None:
    tr = translate(configs, "kafka")
    assert set(tr.configs) | set(tr.dropped) == set(configs)
    assert not set(tr.configs) & set(tr.dropped)
    assert all(vendor_reason(k) is None for k in tr.configs)


def test_translate_drops_redpanda_flush_ms_but_keeps_kafka_flush_ms() -> None:
    from_redpanda = translate({"flush.ms": "50", "retention.ms": "1000"}, "kafka", "redpanda")
    assert from_redpanda.configs == {"retention.ms": "1000"}
    assert "fsync" in from_redpanda.dropped["flush.ms"]
    assert translate({"flush.ms": "50"}, "kafka", "kafka").configs == {"flush.ms": "50"}

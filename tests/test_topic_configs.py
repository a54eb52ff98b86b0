"""Tests for kmigrate.topic_configs: customised() and vendor_reason()."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmigrate.clusters.port import ConfigValue
from kmigrate.errors import UsageError
from kmigrate.topic_configs import (
    KAFKA_DEFAULTS,
    REDPANDA_DEFAULTS,
    customised,
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


def test_customised_refuses_a_type_without_source_defaults() -> None:
    """An unknown (or target-only) type never silently gets Kafka's defaults."""
    with pytest.raises(UsageError, match="no stock topic defaults for cluster type 'msk'"):
        customised({"segment.bytes": "1073741824"}, "msk")


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
# vendor_reason() (the translation itself: tests/test_target_rules.py)
# --------------------------------------------------------------------------- #


def test_vendor_reason() -> None:
    assert vendor_reason("redpanda.iceberg.mode") is not None
    assert vendor_reason("cleanup.policy") is None
    assert vendor_reason("retention.ms") is None

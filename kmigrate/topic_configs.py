"""Topic config knowledge: stock defaults of the source cluster types and vendor-only
keys.  The translation into what a target accepts is :mod:`kmigrate.targets.translate`.

Sources:

* Apache Kafka 3.9 stock topic defaults: ``LogConfig.java`` / ``TopicConfig.java``
  (https://kafka.apache.org/documentation/#topicconfigs); the compression levels
  came in 3.8 (KIP-390), ``remote.log.copy.disable`` and
  ``remote.log.delete.on.disable`` in 3.9 (KIP-950).
* Redpanda defaults and its DescribeConfigs key set:
  redpanda-data/redpanda ``src/v/kafka/server/handlers/configs/config_response_utils.cc``
  and https://docs.redpanda.com/current/reference/properties/topic-properties/.

A broker's ``source`` field is not trusted (Redpanda reports cluster-wide
customisations as DEFAULT_CONFIG; some brokers report explicit topic settings
as defaults), so "customised" means "value differs from the stock default".
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from kmigrate.errors import ClusterError, UsageError

if TYPE_CHECKING:
    from kmigrate.clusters.port import Cluster

KAFKA_DEFAULTS: dict[str, str] = {
    "cleanup.policy": "delete",
    "compression.gzip.level": "-1",
    "compression.lz4.level": "9",
    "compression.type": "producer",
    "compression.zstd.level": "3",
    "delete.retention.ms": "86400000",
    "file.delete.delay.ms": "60000",
    "flush.messages": "9223372036854775807",
    "flush.ms": "9223372036854775807",
    "follower.replication.throttled.replicas": "",
    "index.interval.bytes": "4096",
    "leader.replication.throttled.replicas": "",
    "local.retention.bytes": "-2",
    "local.retention.ms": "-2",
    "max.compaction.lag.ms": "9223372036854775807",
    "max.message.bytes": "1048588",
    "message.downconversion.enable": "true",
    "message.format.version": "3.0-IV1",
    "message.timestamp.after.max.ms": "9223372036854775807",
    "message.timestamp.before.max.ms": "9223372036854775807",
    "message.timestamp.difference.max.ms": "9223372036854775807",
    "message.timestamp.type": "CreateTime",
    "min.cleanable.dirty.ratio": "0.5",
    "min.compaction.lag.ms": "0",
    "min.insync.replicas": "1",
    "preallocate": "false",
    "remote.log.copy.disable": "false",
    "remote.log.delete.on.disable": "false",
    "remote.storage.enable": "false",
    "retention.bytes": "-1",
    "retention.ms": "604800000",
    "segment.bytes": "1073741824",
    "segment.index.bytes": "10485760",
    "segment.jitter.ms": "0",
    "segment.ms": "604800000",
    "unclean.leader.election.enable": "false",
}

REDPANDA_DEFAULTS: dict[str, str] = {
    "cleanup.policy": "delete",
    "compression.type": "producer",
    "segment.bytes": "134217728",
    "retention.ms": "604800000",
    "retention.bytes": "-1",
    "message.timestamp.type": "CreateTime",
    "max.message.bytes": "1048576",
    "write.caching": "false",
    "flush.ms": "100",
    "flush.bytes": "262144",
    "redpanda.remote.read": "false",
    "redpanda.remote.write": "false",
    "redpanda.remote.delete": "true",
    "retention.local.target.bytes": "-1",
    "retention.local.target.ms": "86400000",
    "initial.retention.local.target.bytes": "-1",
    "initial.retention.local.target.ms": "-1",
    "segment.ms": "1209600000",
    "delete.retention.ms": "86400000",
    "redpanda.iceberg.mode": "disabled",
    "redpanda.leaders.preference": "none",
}

STOCK_DEFAULTS: dict[str, dict[str, str]] = {"kafka": KAFKA_DEFAULTS, "redpanda": REDPANDA_DEFAULTS}

#: Keys only one vendor's brokers hold, with the reason a Kafka target cannot.
VENDOR_KEYS: dict[str, str] = {
    "redpanda.*": "Redpanda-only setting; Apache Kafka has no equivalent",
    "write.caching": "Redpanda-only setting; Apache Kafka has no equivalent",
    "flush.bytes": "Redpanda-only setting; Apache Kafka has no equivalent",
    "retention.local.target.*": "Redpanda tiered-storage setting; not portable",
    "initial.retention.local.target.*": "Redpanda tiered-storage setting; not portable",
    "compaction.strategy": "Redpanda-only setting; Apache Kafka has no equivalent",
    "local.retention.*": "tiered-storage setting of the source cluster; not portable",
    "remote.storage.enable": "tiered-storage setting of the source cluster; not portable",
    "remote.log.*": "tiered-storage setting of the source cluster; not portable",
    "message.format.version": "deprecated since Kafka 3.0 (KIP-724); the target decides",
    "follower.replication.throttled.replicas": "names source broker ids; not portable",
    "leader.replication.throttled.replicas": "names source broker ids; not portable",
}


def customised(
    configs: Mapping[str, str | None], cluster_type: str, sensitive: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The configs whose value differs from ``cluster_type``'s stock default.

    Keys with no known default are kept when they have a non-empty value.
    Sensitive and null values are left out.

    Args:
        configs: ``{key: value}`` from DescribeConfigs.
        cluster_type: ``kafka`` or ``redpanda``.
        sensitive: keys the broker flagged as sensitive.

    Raises:
        UsageError: another cluster type (an unknown type never gets Kafka's defaults).
    """
    if cluster_type not in STOCK_DEFAULTS:
        raise UsageError(
            f"no stock topic defaults for cluster type {cluster_type!r} as a source "
            f"(expected one of: {', '.join(STOCK_DEFAULTS)})"
        )
    defaults = STOCK_DEFAULTS[cluster_type]
    out: dict[str, str] = {}
    for key, value in sorted(configs.items()):
        if value is None or key in sensitive:
            continue
        if key in defaults:
            if value != defaults[key]:
                out[key] = value
        elif value != "":
            out[key] = value
    return out


def vendor_reason(key: str) -> str | None:
    """Why ``key`` cannot be set on an Apache Kafka target, or None when it can."""
    for pattern, reason in VENDOR_KEYS.items():
        if fnmatch.fnmatchcase(key, pattern):
            return reason
    return None


#: The topic config that decides a record's timestamp (Kafka docs, topic config
#: ``message.timestamp.type``, KIP-32): ``CreateTime`` keeps the producer's,
#: ``LogAppendTime`` makes the broker stamp each record with its own time when
#: it appends it, whatever the producer sent.
TIMESTAMP_TYPE_KEY = "message.timestamp.type"
LOG_APPEND_TIME = "LogAppendTime"


def log_append_time_topics(cluster: Cluster, topics: Iterable[str]) -> list[str]:
    """The topics, among ``topics``, that ``cluster`` stamps with its own time
    on append (``message.timestamp.type=LogAppendTime``), sorted.

    On such a target topic a copy cannot keep the source's timestamps: that is
    the topic's contract, not a loss, and verify compares it without them.
    A cluster whose DescribeConfigs fails (or that does not say) counts as
    ``CreateTime``: timestamps are then compared, the strict choice.
    """
    names = sorted(set(topics))
    if not names:
        return []
    try:
        configs = cluster.topic_configs(names)
    except ClusterError:
        return []
    out = []
    for name in names:
        entry = configs.get(name, {}).get(TIMESTAMP_TYPE_KEY)
        if entry is not None and entry.value == LOG_APPEND_TIME:
            out.append(name)
    return out

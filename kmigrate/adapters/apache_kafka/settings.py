"""The sandbox's Apache Kafka clusters in numbers: versions, sizes, timeouts, users
and the ACLs a migration needs (``../shared/docs/real-kafka.md`` has the sources).
"""

from __future__ import annotations

#: The source's Kafka: 3.9 is the last line with ZooKeeper mode (KIP-500 removed it in 4.0).
SOURCE_VERSION = "3.9.1"
#: The target's Kafka, KRaft only.
TARGET_VERSION = "4.1.0"
#: Log4j 2 for 4.x: the Maven POMs lack the jars the tarball adds (real-kafka.md, "Logging").
LOG4J2_VERSION = "2.24.3"
#: Nodes of the target cluster (each a combined broker and controller).
TARGET_NODES = 3
#: The KRaft node id of a target's dedicated controller
#: (``start_target(dedicated_controller=True)``).
DEDICATED_CONTROLLER_ID = 100
#: Maximum heap of each JVM, in MiB: three brokers at Kafka's default 1 GiB would
#: commit 3 GiB up front on a 2-core machine.
HEAP_MB = 384
#: How long a cluster may take to answer after its JVMs start, in seconds (2 cores,
#: class loading of five JVMs at once).
START_TIMEOUT_S = 120.0
#: Partitions of ``__consumer_offsets`` and ``__transaction_state`` (Kafka's default
#: is 50 each: their creation at the first group commit or transaction took over a
#: minute on a loaded 2-core machine).
INTERNAL_TOPIC_PARTITIONS = 6
#: ``log.retention.check.interval.ms``: Kafka's default, 5 minutes.  Retention deletes
#: even the active segment once its newest record is older than ``retention.ms``, so
#: records written with fixed old timestamps vanish at the next check; the test
#: clusters set a day, so that only DeleteRecords moves a log start offset there.  The
#: first check runs ``log.initial.task.delay.ms`` after start (Kafka's default 30 s,
#: an internal key of LogManager's scheduler): set to the same interval.
RETENTION_CHECK_MS = 300_000
#: The SCRAM mechanism of the target's SASL_SSL listener.
SCRAM_MECHANISM = "SCRAM-SHA-512"
#: The principal kmigrate runs as on the target, and the set-up super user.
MIGRATION_USER = "kmigrate"
ADMIN_USER = "admin"

#: What a migration needs on the target, as (resource type, resource name, operation):
#: provision (Create, Describe, DescribeConfigs, AlterConfigs), mirror (Write,
#: IdempotentWrite: KIP-679 makes Write imply it from 3.2, kept explicit), verify
#: (Read), translate-offsets (group Read, Describe), rollback (topic and group Delete),
#: check-connectivity (cluster Describe, DescribeConfigs).  The cluster resource is
#: ``BROKER`` in librdkafka's names, ``kafka-cluster`` its only name.
MIGRATION_ACLS: tuple[tuple[str, str, str], ...] = (
    *(("TOPIC", "*", op) for op in ("CREATE", "WRITE", "READ", "DESCRIBE", "DESCRIBE_CONFIGS")),
    ("TOPIC", "*", "DELETE"),
    ("GROUP", "*", "READ"),
    ("GROUP", "*", "DESCRIBE"),
    ("GROUP", "*", "DELETE"),
    ("BROKER", "kafka-cluster", "DESCRIBE"),
    ("BROKER", "kafka-cluster", "DESCRIBE_CONFIGS"),
    ("BROKER", "kafka-cluster", "IDEMPOTENT_WRITE"),
)

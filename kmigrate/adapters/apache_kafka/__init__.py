"""Real Apache Kafka for the sandbox and the tests, run from Maven Central jars.

Two clusters, shaped like the two ends of the migrations kmigrate serves
(``../shared/docs/real-kafka.md`` has the artifacts, main classes and keys,
checked against Kafka's own sources):

* **source** -- a Compose-style broker: Apache Kafka :data:`SOURCE_VERSION`
  in ZooKeeper mode (3.9 is the last line that has it; the seeds run
  Confluent Platform 7.5, i.e. Kafka 3.5 with ZooKeeper), one broker with a
  fixed ``broker.id``, PLAINTEXT, ``auto.create.topics.enable=false``.
* **target** -- a managed-style cluster: Apache Kafka :data:`TARGET_VERSION`
  in KRaft mode, :data:`TARGET_NODES` combined broker+controller nodes,
  ``default.replication.factor`` 3 and ``min.insync.replicas`` 2, ACLs on
  (``StandardAuthorizer``), and two client listeners as MSK offers them:
  ``CLIENT`` (SASL_SSL, SCRAM-SHA-512, a certificate from a CA the sandbox
  makes) and ``INTERNAL`` (PLAINTEXT, used between the brokers and for
  set-up).  A ``kmigrate`` principal holds exactly the ACLs a migration
  needs (:data:`MIGRATION_ACLS`); ``admin`` is a super user.  On the
  PLAINTEXT listeners the principal is ``User:ANONYMOUS``, which must be a
  super user anyway for the controllers' own requests (real-kafka.md,
  "ACLs"); the SASL_SSL listener is where authorization is real.

The jars are fetched once with Maven into ``~/.cache/kmigrate/kafka/VERSION``
(``$KMIGRATE_CACHE`` moves it), or taken from ``$KAFKA_HOME/libs`` when that
distribution has the version.  Data lives in log dirs under the cluster's
folder, so a node restarted with :func:`start_node` keeps its data.

This package starts processes and writes only to clusters it started.  Its
modules, by job: :mod:`.settings` (versions, sizes, users, ACLs), :mod:`.jars`
(Maven fetch), :mod:`.tls`, :mod:`.server_properties`, :mod:`.processes` (JVMs
and ports), :mod:`.cluster` (a running cluster, saved and loaded), :mod:`.acls`,
:mod:`.source` and :mod:`.target`; their public names are exported here.
"""

from __future__ import annotations

from kmigrate.adapters.apache_kafka.acls import grant_acls, revoke_acls
from kmigrate.adapters.apache_kafka.cluster import (
    Cluster,
    load,
    node_stopped,
    save,
    stop_cluster,
    wait_brokers,
)
from kmigrate.adapters.apache_kafka.jars import cache_root, kafka_libs, maven_libs
from kmigrate.adapters.apache_kafka.processes import (
    Node,
    alive,
    free_ports,
    rss_bytes,
    start_node,
    stop_node,
)
from kmigrate.adapters.apache_kafka.settings import (
    ADMIN_USER,
    DEDICATED_CONTROLLER_ID,
    HEAP_MB,
    INTERNAL_TOPIC_PARTITIONS,
    LOG4J2_VERSION,
    MIGRATION_ACLS,
    MIGRATION_USER,
    RETENTION_CHECK_MS,
    SCRAM_MECHANISM,
    SOURCE_VERSION,
    START_TIMEOUT_S,
    TARGET_NODES,
    TARGET_VERSION,
)
from kmigrate.adapters.apache_kafka.source import start_source
from kmigrate.adapters.apache_kafka.target import start_target
from kmigrate.adapters.apache_kafka.tls import Tls, make_tls

__all__ = [
    "ADMIN_USER",
    "DEDICATED_CONTROLLER_ID",
    "HEAP_MB",
    "INTERNAL_TOPIC_PARTITIONS",
    "LOG4J2_VERSION",
    "maven_libs",
    "MIGRATION_ACLS",
    "MIGRATION_USER",
    "RETENTION_CHECK_MS",
    "SCRAM_MECHANISM",
    "SOURCE_VERSION",
    "START_TIMEOUT_S",
    "TARGET_NODES",
    "TARGET_VERSION",
    "Cluster",
    "Node",
    "Tls",
    "alive",
    "cache_root",
    "free_ports",
    "grant_acls",
    "kafka_libs",
    "load",
    "make_tls",
    "node_stopped",
    "revoke_acls",
    "rss_bytes",
    "save",
    "start_node",
    "start_source",
    "start_target",
    "stop_cluster",
    "stop_node",
    "wait_brokers",
]

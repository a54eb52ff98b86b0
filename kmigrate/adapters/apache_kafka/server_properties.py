"""The sandbox clusters' configuration files: ``server.properties`` of each node,
ZooKeeper's, and the log4j settings (keys from Kafka's documentation,
https://kafka.apache.org/documentation/#configuration, checked in
``../shared/docs/real-kafka.md``).
"""

from __future__ import annotations

from pathlib import Path

from kmigrate.adapters.apache_kafka.settings import (
    ADMIN_USER,
    DEDICATED_CONTROLLER_ID,
    INTERNAL_TOPIC_PARTITIONS,
    SCRAM_MECHANISM,
)


def write_properties(path: Path, settings: dict[str, object]) -> None:
    """Write ``settings`` to ``path`` as a Java properties file, one ``key=value`` a line."""
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))


#: log4j 1 (reload4j) settings of the source's JVMs (Kafka 3.9): warnings, and the
#: broker's and ZooKeeper's start lines.
LOG4J1 = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.org.apache.zookeeper.server.ZooKeeperServerMain=INFO
"""

#: log4j 2 settings of the target's JVMs (Kafka 4.x): warnings and the broker's start lines.
LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRefs = out
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.BrokerServer
logger.server.level = INFO
"""


def zookeeper_properties(folder: Path, zk_port: int) -> dict[str, object]:
    """The source's ZooKeeper: data in ``folder/zookeeper``, client port ``zk_port`` on
    127.0.0.1, no admin server."""
    return {
        "dataDir": folder / "zookeeper",
        "clientPort": zk_port,
        "clientPortAddress": "127.0.0.1",
        "maxClientCnxns": 0,
        "admin.enableServer": "false",
    }


def source_properties(
    folder: Path, port: int, zk_port: int, retention_check_ms: int
) -> dict[str, object]:
    """The source broker (ZooKeeper mode, ``broker.id`` 1): PLAINTEXT on 127.0.0.1:``port``,
    data in ``folder/data``, no topic auto-creation; ``retention_check_ms`` as for
    :func:`~kmigrate.adapters.apache_kafka.start_source`."""
    return {
        "broker.id": 1,
        "listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "zookeeper.connect": f"127.0.0.1:{zk_port}",
        "zookeeper.connection.timeout.ms": 18000,
        "log.dirs": folder / "data",
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": INTERNAL_TOPIC_PARTITIONS,
        "transaction.state.log.num.partitions": INTERNAL_TOPIC_PARTITIONS,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        "log.retention.check.interval.ms": retention_check_ms,
        "log.initial.task.delay.ms": retention_check_ms,
    }


def target_node_properties(
    folder: Path,
    node_id: int,
    voters: str,
    listeners: str,
    controller_port: int,
    dedicated_controller: bool,
    keystore: Path,
    rf: int,
    retention_check_ms: int,
) -> dict[str, object]:
    """One KRaft node of the target (a broker, and a controller too unless
    ``dedicated_controller``): ``listeners`` INTERNAL and CLIENT (SASL_SSL with the
    PEM ``keystore``), ACLs on, replication factor ``rf`` by default."""
    return {
        "process.roles": "broker" if dedicated_controller else "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters,
        "listeners": listeners
        + ("" if dedicated_controller else f",CONTROLLER://127.0.0.1:{controller_port}"),
        "advertised.listeners": listeners,
        "inter.broker.listener.name": "INTERNAL",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,CLIENT:SASL_SSL,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "listener.name.client.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": keystore,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
        "log.dirs": folder / f"data-{node_id}",
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "default.replication.factor": rf,
        "min.insync.replicas": min(2, rf),
        "offsets.topic.replication.factor": rf,
        "offsets.topic.num.partitions": INTERNAL_TOPIC_PARTITIONS,
        "transaction.state.log.num.partitions": INTERNAL_TOPIC_PARTITIONS,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min(2, rf),
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min(2, rf),
        "group.initial.rebalance.delay.ms": 0,
        "log.retention.check.interval.ms": retention_check_ms,
        "log.initial.task.delay.ms": retention_check_ms,
    }


def controller_properties(
    folder: Path, voters: str, controller_port: int, rf: int
) -> dict[str, object]:
    """The target's dedicated KRaft controller (node id
    :data:`~kmigrate.adapters.apache_kafka.settings.DEDICATED_CONTROLLER_ID`)."""
    return {
        "process.roles": "controller",
        "node.id": DEDICATED_CONTROLLER_ID,
        "controller.quorum.voters": voters,
        "listeners": f"CONTROLLER://127.0.0.1:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
        "log.dirs": folder / "data-controller",
        # The controller writes its own min.insync.replicas as the cluster's
        # dynamic default when eligible leader replicas are on (KIP-966, the
        # default from 4.1): without these keys that default would be 1 and
        # override the brokers' 2.
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "default.replication.factor": rf,
        "min.insync.replicas": min(2, rf),
    }

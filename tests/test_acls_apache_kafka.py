"""ACL bindings on the real ACL-enabled Apache Kafka target (StandardAuthorizer, SASL_SSL
with SCRAM-SHA-512): describe, create and delete through :mod:`kmigrate.adapters.kafka_acls`,
and the proof of issue 15: a service principal whose bindings were created from a
source-like set can do on the target exactly what they allow, and is refused what they
deny or do not grant (real produce and consume as that principal).

Runs only with ``--broker apache-kafka``: Tansu has no authorizer (sandbox-broker.md
fact 8).  The source cluster of the tests is ZooKeeper mode without an authorizer, so
it holds no ACLs to export (DescribeAcls there answers SECURITY_DISABLED, which the
first test checks): the source-like set is written here in the snapshot shape and the
describe path is tested on the target.  The admin calls run as ``admin`` (a super
user) over SASL_SSL; each test uses principals of its own, so tests do not meet.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from kmigrate.acls import kafka_target
from kmigrate.acls.model import AclBinding, parse_bindings
from kmigrate.acls.principals import PrincipalMap
from kmigrate.adapters import apache_kafka
from kmigrate.adapters.kafka_acls import CREATED, EXISTS, KafkaAcls
from kmigrate.errors import ClusterError
from tests.conftest import Brokers, create_topic

pytestmark = pytest.mark.broker

#: Seconds a binding may take to reach every broker of the KRaft target (through the
#: metadata log; measured well under a second here).
PROPAGATION_S = 20.0


@pytest.fixture(autouse=True)
def _real_kafka(brokers: Brokers) -> None:
    if not brokers.real:
        pytest.skip("Tansu has no authorizer (sandbox-broker.md fact 8)")


def target(brokers: Brokers) -> apache_kafka.Cluster:
    return brokers.clusters[1]


def admin_acls(brokers: Brokers) -> KafkaAcls:
    """The target's ACLs through its SASL_SSL listener as the super user ``admin``."""
    t = target(brokers)
    cfg = t.config_for(apache_kafka.ADMIN_USER)
    return KafkaAcls.connect("target", cfg.pop("bootstrap.servers"), cfg)


def add_scram_user(brokers: Brokers, name: str) -> dict[str, str]:
    """A new SCRAM-SHA-512 user on the target (AlterUserScramCredentials, KIP-554, over the
    PLAINTEXT set-up listener); the librdkafka settings to connect as that user."""
    t = target(brokers)
    password = uuid.uuid4().hex
    admin = AdminClient({"bootstrap.servers": t.internal})
    upsert = UserScramCredentialUpsertion(
        name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
    )
    for fut in admin.alter_user_scram_credentials([upsert], request_timeout=30).values():
        fut.result(timeout=60)
    cfg = t.config_for(apache_kafka.ADMIN_USER)
    cfg.update({"sasl.username": name, "sasl.password": password})
    return cfg


def eventually(check: Callable[[], str], want: str, timeout_s: float = PROPAGATION_S) -> str:
    """Call ``check`` until it returns ``want`` (ACLs reach each broker through the metadata
    log) or ``timeout_s`` passes; the last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def produce_as(cfg: dict[str, str], topic: str, **extra: Any) -> str:
    """Produce one record to ``topic``; ``ok`` or the delivery error's code name."""
    result: list[str] = []
    producer = Producer({**cfg, "message.timeout.ms": 5000, "logger": _quiet(), **extra})

    def delivered(err: KafkaError | None, _msg: object) -> None:
        result.append("ok" if err is None else err.name())

    producer.produce(topic, b"v", on_delivery=delivered)
    producer.flush(15)
    return result[0] if result else "no delivery report"


def produce_in_transaction(cfg: dict[str, str], topic: str, txn_id: str) -> str:
    """Produce one record in a transaction as ``txn_id``; ``ok`` or the error's code name."""
    producer = Producer(
        {**cfg, "transactional.id": txn_id, "transaction.timeout.ms": 10000, "logger": _quiet()}
    )
    try:
        producer.init_transactions(15)
        producer.begin_transaction()
        producer.produce(topic, b"t")
        producer.commit_transaction(15)
    except Exception as exc:  # KafkaException carries a KafkaError
        err = exc.args[0] if exc.args else None
        return err.name() if isinstance(err, KafkaError) else type(exc).__name__
    return "ok"


def consume_as(cfg: dict[str, str], topic: str, group: str) -> str:
    """Read ``topic`` from the start with ``group``; ``ok`` once a record arrives, else the
    first error's code name."""
    consumer = Consumer(
        {
            **cfg,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "logger": _quiet(),
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                return str(msg.error().name())
            return "ok"
        return "nothing read"
    finally:
        consumer.close()


def _quiet() -> Any:
    import logging

    log = logging.getLogger("tests.acls.client")
    log.propagate = False
    return log


def test_the_zookeeper_source_without_an_authorizer_lists_no_binding(brokers: Brokers) -> None:
    """Why the describe path is tested on the target: the tests' source has no authorizer,
    and DescribeAcls there answers an empty list through confluent-kafka 2.16 (measured:
    no SECURITY_DISABLED error reaches the client), which looks the same as an authorizer
    holding no binding.  Describe works on the source role (it only reads)."""
    source = KafkaAcls.connect("source", brokers.source, {})
    listing = source.describe()
    assert (listing.bindings, listing.skipped) == ([], [])


def test_the_authorizer_tells_no_authorizer_from_no_binding(brokers: Brokers) -> None:
    """The source reports an empty ``authorizer.class.name`` (none configured), the target
    the KRaft StandardAuthorizer, so an export can say "no authorizer" instead of an empty
    ACL list."""
    assert KafkaAcls.connect("source", brokers.source, {}).authorizer() == ""
    assert admin_acls(brokers).authorizer() == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )


def test_describe_create_delete_every_shape_of_binding(brokers: Brokers, prefix: str) -> None:
    """Prefixed and wildcard resources, DENY, group, transactional-id and cluster bindings
    are created, described back exactly, reported ``exists`` on a second create, and
    deleted exactly: a binding that was there before kmigrate's create survives the
    delete of what kmigrate created."""
    acls = admin_acls(brokers)
    who = f"User:{prefix}svc"
    wanted = parse_bindings(
        [
            {"resource_type": "TOPIC", "name": f"{prefix}orders", "pattern_type": "LITERAL",
             "principal": who, "operation": "WRITE", "permission": "ALLOW"},
            {"resource_type": "TOPIC", "name": f"{prefix}orders-", "pattern_type": "PREFIXED",
             "principal": who, "operation": "READ", "permission": "ALLOW"},
            {"resource_type": "TOPIC", "name": "*", "pattern_type": "LITERAL",
             "principal": who, "operation": "DESCRIBE", "permission": "ALLOW"},
            {"resource_type": "TOPIC", "name": f"{prefix}orders-secret", "pattern_type": "LITERAL",
             "principal": who, "host": "10.0.0.1", "operation": "READ", "permission": "DENY"},
            {"resource_type": "GROUP", "name": f"{prefix}g", "pattern_type": "PREFIXED",
             "principal": who, "operation": "READ", "permission": "ALLOW"},
            {"resource_type": "GROUP", "name": "*", "pattern_type": "LITERAL",
             "principal": who, "operation": "DELETE", "permission": "DENY"},
            {"resource_type": "TRANSACTIONAL_ID", "name": f"{prefix}tx-",
             "pattern_type": "PREFIXED", "principal": who, "operation": "WRITE",
             "permission": "ALLOW"},
            {"resource_type": "CLUSTER", "name": "kafka-cluster", "pattern_type": "LITERAL",
             "principal": who, "operation": "IDEMPOTENT_WRITE", "permission": "ALLOW"},
        ]
    )  # fmt: skip
    before = wanted[0]
    assert [o.status for o in acls.create([before])] == [CREATED]

    def mine() -> str:  # a broker answers DescribeAcls from its copy of the metadata log
        return repr(sorted(b for b in acls.describe().bindings if b.principal == who))

    assert eventually(mine, repr([before])) == repr([before])  # there before the create

    outcomes = acls.create(wanted)

    assert [(o.binding, o.status) for o in outcomes] == [
        (b, EXISTS if b == before else CREATED) for b in wanted
    ]
    assert eventually(mine, repr(sorted(wanted))) == repr(sorted(wanted))
    assert {o.status for o in acls.create(wanted)} == {EXISTS}

    created = [o.binding for o in outcomes if o.status == CREATED]
    assert sorted(acls.delete(created)) == sorted(created)
    assert eventually(mine, repr([before])) == repr([before])
    assert acls.delete([before]) == [before]
    assert acls.delete([before]) == []


def test_writes_are_refused_on_the_source_role(brokers: Brokers, prefix: str) -> None:
    """kmigrate never writes to the source: create and delete refuse the source role
    before any request (the message says so)."""
    source = KafkaAcls.connect("source", brokers.source, {})
    binding = parse_bindings(
        [{"resource_type": "TOPIC", "name": "x", "pattern_type": "LITERAL",
          "principal": "User:x", "operation": "READ", "permission": "ALLOW"}]
    )[0]  # fmt: skip
    with pytest.raises(ClusterError, match="never writes to the source"):
        source.create([binding])
    with pytest.raises(ClusterError, match="never writes to the source"):
        source.delete([binding])


def source_like_set(prefix: str) -> list[AclBinding]:
    """What the source allowed ``User:orders-svc`` (and a legacy principal), in the
    snapshot shape ``export`` writes."""
    svc = "User:orders-svc"
    rows = [
        ("TOPIC", f"{prefix}orders-", "PREFIXED", svc, "WRITE", "ALLOW"),
        ("TOPIC", f"{prefix}orders-b", "LITERAL", svc, "WRITE", "DENY"),
        ("TOPIC", f"{prefix}orders-a", "LITERAL", svc, "READ", "ALLOW"),
        ("GROUP", f"{prefix}g1", "LITERAL", svc, "READ", "ALLOW"),
        ("TRANSACTIONAL_ID", f"{prefix}tx-", "PREFIXED", svc, "WRITE", "ALLOW"),
        ("TOPIC", "*", "LITERAL", "User:legacy-batch", "ALL", "ALLOW"),
    ]
    return parse_bindings(
        [
            dict(zip(("resource_type", "name", "pattern_type", "principal", "operation",
                      "permission"), row, strict=True))
            for row in rows
        ]
    )  # fmt: skip


def test_a_service_principal_can_do_exactly_what_the_source_allowed(
    brokers: Brokers, prefix: str
) -> None:
    """The proof of issue 15.  Bindings of ``User:orders-svc`` on the source are translated
    for a Kafka-ACL target with ``orders-svc`` mapped to a new SCRAM user and the legacy
    principal dropped, created through the Admin API, and then exercised as that user:

    * allowed: produce to ``orders-a`` (PREFIXED WRITE ``orders-``), consume
      ``orders-a`` with group ``g1`` (READ topic and group), a transaction as
      ``tx-1`` (PREFIXED WRITE on ``tx-``);
    * denied: produce to ``orders-b`` (DENY WRITE beats the prefixed ALLOW),
      produce to ``payments`` (no binding), consume ``orders-a`` with group ``g2``
      (no group binding), consume ``orders-b`` (no READ), a transaction as
      ``other-1`` (no binding);
    * the dropped legacy principal's ``ALL`` on every topic was not created.
    Before the bindings exist the same user is refused even the allowed produce, so the
    test fails if the bindings are not what grants it.
    """
    svc = f"{prefix}svc"
    cfg = add_scram_user(brokers, svc)
    for name in ("orders-a", "orders-b", "payments"):
        create_topic(brokers.target, f"{prefix}{name}", 1)
    assert produce_as(cfg, f"{prefix}orders-a") == "TOPIC_AUTHORIZATION_FAILED"

    translation = kafka_target.translate(
        source_like_set(prefix),
        PrincipalMap({"User:orders-svc": f"User:{svc}"}, frozenset({"User:legacy-batch"})),
    )
    assert translation.counts == {"copied": 0, "converted": 5, "dropped": 1, "refused": 0}
    acls = admin_acls(brokers)
    made = kafka_target.target_bindings(translation)
    assert {o.status for o in acls.create(made)} == {CREATED}
    try:
        assert eventually(lambda: produce_as(cfg, f"{prefix}orders-a"), "ok") == "ok"
        assert consume_as(cfg, f"{prefix}orders-a", f"{prefix}g1") == "ok"
        assert (
            eventually(
                lambda: produce_in_transaction(cfg, f"{prefix}orders-a", f"{prefix}tx-1"), "ok"
            )
            == "ok"
        )

        assert (
            eventually(lambda: produce_as(cfg, f"{prefix}orders-b"), "TOPIC_AUTHORIZATION_FAILED")
            == "TOPIC_AUTHORIZATION_FAILED"
        )
        assert produce_as(cfg, f"{prefix}payments") == "TOPIC_AUTHORIZATION_FAILED"
        assert consume_as(cfg, f"{prefix}orders-a", f"{prefix}g2") == "GROUP_AUTHORIZATION_FAILED"
        assert consume_as(cfg, f"{prefix}orders-b", f"{prefix}g1") == "TOPIC_AUTHORIZATION_FAILED"
        assert (
            produce_in_transaction(cfg, f"{prefix}orders-a", f"{prefix}other-1")
            == "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
        )
        held = {
            b
            for b in acls.describe().bindings
            if b.principal in (f"User:{svc}", "User:legacy-batch")
        }
        assert held == set(made)
    finally:
        assert sorted(acls.delete(made)) == sorted(made)
    assert eventually(
        lambda: produce_as(cfg, f"{prefix}orders-a"), "TOPIC_AUTHORIZATION_FAILED"
    ) == ("TOPIC_AUTHORIZATION_FAILED")

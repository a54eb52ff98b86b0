"""A whole plan per managed target type against a real local target broker.

Each test runs ``execute`` (check-connectivity, export, provision, mirror, verify) and
``rollback`` for a plan whose target is ``msk``, ``confluent-cloud`` or ``eventhubs``,
so the records, the topics and the rollback go through that type's registry entry,
client settings, control plane and translation rules.  The target's Kafka endpoint is
the local sandbox broker (``bootstrap_servers`` override); what cannot run here is
stubbed at the SDK boundary:

* MSK: a real boto3 ``kafka`` client under botocore's ``Stubber`` answers
  ``describe_cluster_v2`` and ``get_bootstrap_brokers``;
* Event Hubs: a real azure-mgmt-eventhub client whose azure-core transport answers ARM
  REST calls shaped as documented (tests/clusters/test_clusters_eventhubs.py); its hub creation
  also creates the topic on the local broker (and its deletion deletes it), standing in
  for the service, so records can flow;
* SASL/TLS: the sandbox broker has neither, so the plans set ``security.protocol:
  PLAINTEXT`` under ``config:`` (the generated SASL settings are exercised through the
  TLS + SASL proxy in tests/clusters/test_managed_auth.py).

Records are read back with a plain confluent-kafka consumer, not kmigrate's reader.
"""

from __future__ import annotations

import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner, Result
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from kmigrate.cli import cli
from kmigrate.clusters import eventhubs, msk
from tests.conftest import Brokers, create_topic, produce
from tests.support.cloud_fakes import (
    ARN,
    NS,
    RG,
    SUB,
    ArmAdapter,
    FakeArm,
    control_plane_through,
    provisioned,
)

pytestmark = pytest.mark.broker

PHASES = """\
phases:
  - name: prepare
    steps:
      - action: check-connectivity
      - action: export-topics
      - action: provision-topics
  - name: copy
    steps:
      - action: mirror
      - action: verify
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_plan(tmp_path: Path, brokers: Brokers, prefix: str, target: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        version: 1
        name: managed-e2e
        state_dir: state
        clusters:
          source:
            type: kafka
            bootstrap_servers: {brokers.source}
          target:
        """)
        + textwrap.indent(textwrap.dedent(target), "    ")
        + f"topics:\n  include: ['{prefix}*']\n"
        + PHASES
    )
    return path


def msk_target(brokers: Brokers, facts: str) -> str:
    """The plan's ``msk`` target (the cluster_arn of cloud_fakes, plaintext auth, Kafka at
    the local target broker) declaring ``facts`` (YAML flow mapping items)."""
    return f"""\
        type: msk
        region: eu-central-1
        cluster_arn: {ARN}
        auth: plaintext
        bootstrap_servers: {brokers.target}
        facts: {{{facts}}}
        """


def source_topics(brokers: Brokers, prefix: str) -> dict[str, list[bytes]]:
    """Two source topics with keyed records; returns the values sent per topic."""
    sent = {}
    for name, partitions in ((f"{prefix}orders", 2), (f"{prefix}events", 3)):
        create_topic(brokers.source, name, partitions, {"retention.ms": "259200000"})
        values = [f"{name}-{i}".encode() for i in range(30)]
        produce(
            brokers.source,
            name,
            [
                {"key": f"k{i}".encode(), "value": v, "partition": i % partitions}
                for i, v in enumerate(values)
            ],
        )
        sent[name] = values
    return sent


def plain_read(bootstrap: str, topic: str, partition: int | None = None) -> list[bytes]:
    """Every value of ``topic`` (or of one partition) with a plain confluent-kafka
    consumer (independent of kmigrate's reader), sorted."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    parts = list(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    if partition is not None:
        parts = [partition]
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, -2) for p in parts])
        values: list[bytes] = []
        done: set[int] = set()
        for _ in range(400):
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == -191:  # _PARTITION_EOF
                    done.add(msg.partition())
                    if done >= set(parts):
                        break
                continue
            values.append(msg.value())
        return sorted(values)
    finally:
        consumer.close()


def target_topics(bootstrap: str) -> set[str]:
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def migrate_and_roll_back(plan: Path, brokers: Brokers, sent: dict[str, list[bytes]]) -> Result:
    first = run("execute", str(plan), "--phase", "1", "--yes")
    assert first.exit_code == 0, first.output
    second = run("execute", str(plan), "--phase", "2", "--yes")
    assert second.exit_code == 0, second.output
    for topic, values in sent.items():
        assert plain_read(brokers.target, topic) == sorted(values)
    back = run("rollback", str(plan), "--yes")
    assert back.exit_code == 0, back.output
    # The brokers learn of a deletion a moment after DeleteTopics returns (as of a
    # creation, Admin javadoc): a 3-node target's next Metadata may still list them.
    deadline = time.monotonic() + 30
    while set(sent) & target_topics(brokers.target) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not set(sent) & target_topics(brokers.target)
    return first


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Static fake credentials, and no AWS config files read from the machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def stubbed_msk(fake_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """kmigrate's boto3 client is a real one under botocore's Stubber."""
    client = boto3.client("kafka", region_name="eu-central-1")
    monkeypatch.setattr(msk, "kafka_client", lambda region: client)
    with Stubber(client) as stub:
        yield stub


def test_msk_plan_migrates_and_rolls_back(
    brokers: Brokers, prefix: str, tmp_path: Path, stubbed_msk: Stubber
) -> None:
    """msk: check-connectivity asks describe_cluster_v2 and get_bootstrap_brokers (stubbed,
    SDK boundary), topics are created through the Kafka Admin API after validate_only,
    RF follows the MSK rule (capped at the declared broker count), records flow, and
    rollback deletes what was created."""
    stubbed_msk.add_response("describe_cluster_v2", provisioned(brokers=1), {"ClusterArn": ARN})
    stubbed_msk.add_response(
        "get_bootstrap_brokers",
        {"BootstrapBrokerString": "b-1.shop.kafka.eu-central-1.amazonaws.com:9092"},
        {"ClusterArn": ARN},
    )
    sent = source_topics(brokers, prefix)
    plan = write_plan(
        tmp_path,
        brokers,
        prefix,
        msk_target(brokers, "cluster_type: provisioned, broker_count: 1"),
    )
    first = migrate_and_roll_back(plan, brokers, sent)
    out = " ".join(first.output.split())
    assert "b-1.shop.kafka.eu-central-1.amazonaws.com:9092" in out  # discovered, shown
    assert f"{brokers.target} (plan override)" in out
    assert "replication_factor_msk_provisioned" in out  # RF 1 <= min.insync.replicas warning
    stubbed_msk.assert_no_pending_responses()


def test_msk_declared_fact_that_disagrees_fails_check_connectivity(
    brokers: Brokers, prefix: str, tmp_path: Path, stubbed_msk: Stubber
) -> None:
    """msk: a declared broker_count that describe_cluster_v2 (stubbed) contradicts is an
    error naming both values; nothing is provisioned."""
    stubbed_msk.add_response("describe_cluster_v2", provisioned(brokers=3), {"ClusterArn": ARN})
    plan = write_plan(
        tmp_path,
        brokers,
        prefix,
        msk_target(brokers, "cluster_type: provisioned, broker_count: 6"),
    )
    result = run("execute", str(plan), "--phase", "1", "--yes")
    assert result.exit_code == 1
    assert "facts.broker_count: the plan declares 6, the cluster has 3" in " ".join(
        result.output.split()
    )


def test_confluent_cloud_plan_migrates_and_rolls_back(
    brokers: Brokers, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """confluent-cloud: settings built from the API key (SASL_SSL overridden by PLAINTEXT
    for the sandbox broker), topics created through the Admin API after validate_only
    with the Confluent Cloud rules (RF 3, which Confluent Cloud requires; the one-node
    sandbox broker accepts it), records flow, rollback deletes what was created."""
    monkeypatch.setenv("CC_KEY", "CCLOUDKEY4TEST")
    monkeypatch.setenv("CC_SECRET", "cc-secret-Zq8wV1")
    sent = source_topics(brokers, prefix)
    plan = write_plan(
        tmp_path,
        brokers,
        prefix,
        f"""\
        type: confluent-cloud
        bootstrap_servers: {brokers.target}
        api_key: ${{CC_KEY}}
        api_secret: ${{CC_SECRET}}
        config: {{security.protocol: PLAINTEXT}}
        facts: {{cluster_type: standard}}
        """,
    )
    first = migrate_and_roll_back(plan, brokers, sent)
    out = " ".join(first.output.split())
    assert "confluent-cloud-standard requires replication factor 3" in out
    assert "cc-secret-Zq8wV1" not in first.output


class LocalPartitions:
    """Stands in for azure-eventhub's ``EventHubConsumerClient`` (its
    ``get_partition_ids`` / ``get_partition_properties`` surface, SDK boundary): the
    local broker's partitions, with sequence numbers from its watermarks (offsets are
    sequence numbers there).  ``extra`` adds events the Kafka side does not show."""

    def __init__(self, bootstrap: str, hub: str, extra: int = 0) -> None:
        self.bootstrap, self.hub, self.extra = bootstrap, hub, extra

    def get_partition_ids(self) -> list[str]:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return [str(p) for p in admin.list_topics(self.hub, timeout=10).topics[self.hub].partitions]

    def get_partition_properties(self, pid: str) -> dict[str, Any]:
        # Counted by reading to the partition's end: the sandbox broker's ListOffsets
        # lags (sandbox-broker.md), so its watermarks cannot stand in here.
        count = len(plain_read(self.bootstrap, self.hub, int(pid))) + self.extra
        return {
            "beginning_sequence_number": 0,
            "last_enqueued_sequence_number": count - 1,
            "is_empty": count == 0,
        }

    def close(self) -> None:
        """Nothing to close."""


class LocalHubs(FakeArm):
    """ARM answered in memory; a created hub is also created as a topic on the local
    broker (and a deleted one deleted), standing in for the Event Hubs service."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__()
        self.bootstrap = bootstrap
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []

    def __call__(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any] | None]:
        name = path.rsplit("/", 1)[-1]
        if "/eventhubs/" in path and method == "PUT" and body is not None:
            self.created.append(body["properties"])
            create_topic(self.bootstrap, name, body["properties"]["partitionCount"])
        if "/eventhubs/" in path and method == "DELETE":
            self.deleted.append(name)
            admin = AdminClient({"bootstrap.servers": self.bootstrap})
            admin.delete_topics([name])[name].result()
        return super().__call__(method, path, body)


def serve_arm(monkeypatch: pytest.MonkeyPatch, arm: LocalHubs) -> LocalHubs:
    """kmigrate's Event Hubs control plane answered by ``arm`` (through the real
    azure-mgmt-eventhub client), for the plan's subscription, group and namespace."""
    adapter = ArmAdapter(arm)

    def plane(sub: str, rg: str, ns: str) -> eventhubs.EventHubsControlPlane:
        assert (sub, rg, ns) == (SUB, RG, NS)
        return control_plane_through(adapter, sub, rg, ns)

    monkeypatch.setattr(eventhubs, "arm_plane", plane)
    return arm


def eventhubs_plan(tmp_path: Path, brokers: Brokers, prefix: str) -> Path:
    """The plan to an ``eventhubs`` target (namespace, subscription and group from
    cloud_fakes; the connection string from ``$EH_CONN``) whose Kafka endpoint is the
    local target broker."""
    return write_plan(
        tmp_path,
        brokers,
        prefix,
        f"""\
        type: eventhubs
        namespace: {NS}
        subscription_id: ${{AZ_SUB}}
        resource_group: {RG}
        connection_string: ${{EH_CONN}}
        bootstrap_servers: {brokers.target}
        config: {{security.protocol: PLAINTEXT}}
        facts: {{tier: standard}}
        """,
    )


def test_eventhubs_plan_migrates_and_rolls_back_through_arm(
    brokers: Brokers, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eventhubs: the namespace is checked and hubs are created and deleted through ARM
    (azure-mgmt-eventhub on a stubbed transport: SDK boundary), never Kafka CreateTopics;
    each hub carries the translated retention hours, cleanup policy and CreateTime; the
    records flow through the Kafka endpoint (the local broker)."""
    arm = serve_arm(monkeypatch, LocalHubs(brokers.target))
    asked: list[tuple[str, str | None]] = []

    def data_plane(namespace: str, hub: str, **kw: Any) -> LocalPartitions:
        asked.append((hub, kw.get("connection_string")))
        return LocalPartitions(brokers.target, hub)

    monkeypatch.setattr(eventhubs, "consumer_client", data_plane)
    monkeypatch.setenv("AZ_SUB", SUB)
    monkeypatch.setenv(
        "EH_CONN",
        "Endpoint=sb://shop-prod.servicebus.windows.net/;SharedAccessKeyName=k;"
        "SharedAccessKey=eh-secret-Kd93hQ==",
    )
    sent = source_topics(brokers, prefix)
    plan = eventhubs_plan(tmp_path, brokers, prefix)
    first = migrate_and_roll_back(plan, brokers, sent)
    assert sorted(p["partitionCount"] for p in arm.created) == [2, 3]
    for props in arm.created:
        assert props["retentionDescription"]["retentionTimeInHours"] == 72
        assert props["retentionDescription"]["cleanupPolicy"] == "Delete"
        assert props["messageTimestampDescription"]["timestampType"] == "Create"
    assert sorted(arm.deleted) == sorted(sent)
    # verify cross-checked every hub through the data plane, with the connection string
    assert sorted(h for h, _ in asked) == sorted(sent)
    assert all(conn and conn.endswith("eh-secret-Kd93hQ==") for _, conn in asked)
    assert "eh-secret-Kd93hQ==" not in first.output
    assert "standard" in first.output  # the namespace tier the preflight found


def test_eventhubs_verify_fails_when_sequence_numbers_disagree(
    brokers: Brokers, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eventhubs: when the data plane (azure-eventhub surface, SDK boundary) reports more
    events in a partition than verify read over Kafka, verify fails naming the hub,
    partition and both counts."""
    serve_arm(monkeypatch, LocalHubs(brokers.target))
    monkeypatch.setattr(
        eventhubs,
        "consumer_client",
        lambda namespace, hub, **kw: LocalPartitions(brokers.target, hub, extra=1),
    )
    monkeypatch.setenv("AZ_SUB", SUB)
    monkeypatch.setenv("EH_CONN", "Endpoint=sb://shop-prod.servicebus.windows.net/;k=v")
    sent = source_topics(brokers, prefix)
    plan = eventhubs_plan(tmp_path, brokers, prefix)
    assert run("execute", str(plan), "--phase", "1", "--yes").exit_code == 0
    result = run("execute", str(plan), "--phase", "2", "--yes")
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert (
        f"{prefix}orders[0]: Event Hubs holds 16 events by sequence numbers, verify read 15 records"
        in out
    )
    assert run("rollback", str(plan), "--yes").exit_code == 0
    assert not set(sent) & target_topics(brokers.target)


def test_accepted_refusal_is_journaled_and_the_topic_created_without_the_key(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """msk serverless (facts declared; no AWS call in these steps): segment.bytes is refused
    by the MSK Serverless rule; without accept: provisioning stops and creates nothing;
    with accept: the topic is created without it and the acceptance is in the journal
    (read through `kmigrate status --output json`)."""
    import json

    topic = f"{prefix}segments"
    create_topic(brokers.source, topic, 2, {"segment.bytes": "134217728"})
    target = msk_target(brokers, "cluster_type: serverless")
    plan = write_plan(tmp_path, brokers, prefix, target)
    plan.write_text(plan.read_text().replace("      - action: check-connectivity\n", ""))
    refused = run("execute", str(plan), "--phase", "1", "--yes")
    assert refused.exit_code == 1
    out = " ".join(refused.output.split())
    assert f"{topic}: segment.bytes (MSK Serverless refuses segment.bytes" in out
    assert topic not in target_topics(brokers.target)

    plan.write_text(
        plan.read_text().replace(
            "      - action: provision-topics\n",
            "      - action: provision-topics\n"
            f"        accept: [{{topic: '{prefix}*', key: segment.bytes}}]\n",
        )
    )
    accepted = run("execute", str(plan), "--phase", "1", "--yes", "--rerun", "provision-topics")
    assert accepted.exit_code == 0, accepted.output
    assert topic in target_topics(brokers.target)
    rows = json.loads(run("status", str(plan), "--output", "json").stdout)["steps"]
    [row] = [r for r in rows if r["action"] == "provision-topics"]
    assert row["record"]["accepted"] == [
        {
            "topic": topic,
            "key": "segment.bytes",
            "reason": "MSK Serverless refuses segment.bytes "
            "(docs.aws.amazon.com/msk/latest/developerguide/serverless-config.html)",
            "rule": "msk_serverless_keys",
        }
    ]
    assert run("report", str(plan)).exit_code == 0
    evidence = json.loads((tmp_path / "state" / "reports" / "evidence.json").read_text())
    [section] = evidence["provision"]
    assert [row[:2] for row in section["accepted"]] == [[topic, "segment.bytes"]]
    html = (tmp_path / "state" / "reports" / "evidence.html").read_text()
    assert "refusal accepted (key not set)" in html
    assert run("rollback", str(plan), "--yes").exit_code == 0
    assert topic not in target_topics(brokers.target)

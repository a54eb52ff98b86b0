"""Kafka behaviours the adapter relies on, each proven on Apache Kafka
(``pytest --broker apache-kafka``) with plain confluent-kafka clients beside it.

Tansu deviates on each (``../shared/docs/sandbox-broker.md``): there the test
is a strict xfail naming the fact, so it still runs and would notice if the
deviation went away.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Producer

from kmigrate.adapters.kafka import KafkaCluster
from tests.conftest import Brokers, create_topic

pytestmark = pytest.mark.broker


def run(*args: str) -> Result:
    from kmigrate.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tansu_deviates(brokers: Brokers, request: pytest.FixtureRequest, fact: str) -> None:
    """Apply a strict xfail on Tansu, naming the sandbox-broker.md fact."""
    if not brokers.real:
        request.applymarker(
            pytest.mark.xfail(reason=f"Tansu deviates: sandbox-broker.md {fact}", strict=True)
        )


def produce_batches(bootstrap: str, topic: str, batches: int, per_batch: int) -> None:
    """``batches`` produce batches of ``per_batch`` records to partition 0, each with
    CreateTime ``1_700_000_000_000 + its index * 1000`` ms."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    n = 0
    for _ in range(batches):
        for _ in range(per_batch):
            producer.produce(topic, value=b"v", partition=0, timestamp=1_700_000_000_000 + n * 1000)
            n += 1
        assert producer.flush(30) == 0


def test_validate_only_creates_nothing(
    brokers: Brokers, prefix: str, request: pytest.FixtureRequest
) -> None:
    """CreateTopics with validate_only (KIP-108) checks and creates nothing, so
    provision's first pass changes nothing on the target."""
    tansu_deviates(brokers, request, "fact 12: validate_only CreateTopics creates the topic")
    target = KafkaCluster("target", brokers.target)
    topic = f"{prefix}checked"

    outcome = target.create_topics([(topic, 3, brokers.target_rf, {})], validate_only=True)

    assert [o.status for o in outcome] == ["created"]  # it would be created
    assert topic not in target.topics()


def test_offsets_for_times_finds_the_first_record_at_or_after_a_timestamp(
    brokers: Brokers, prefix: str, request: pytest.FixtureRequest
) -> None:
    """ListOffsets by timestamp (KIP-79): the dual-write check's window starts there."""
    tansu_deviates(brokers, request, "fact 12: offsets-for-times returns 0")
    topic = f"{prefix}times"
    create_topic(brokers.source, topic, 1)
    produce_batches(brokers.source, topic, 1, 20)
    source = KafkaCluster("source", brokers.source)

    found = source.offsets_for_times([(topic, 0)], 1_700_000_000_000 + 7_500)

    assert found == {(topic, 0): 8}
    assert source.offsets_for_times([(topic, 0)], 1_800_000_000_000) == {(topic, 0): None}


def test_high_watermark_counts_every_record_so_the_mirror_estimate_is_right(
    brokers: Brokers, prefix: str, tmp_path, request: pytest.FixtureRequest
) -> None:
    """ListOffsets' high watermark is the last offset + 1 after many batches, so
    the dry run's "would copy about N records" and the progress total are exact."""
    tansu_deviates(brokers, request, "facts 1 and 11: ListOffsets lags the records held")
    topic = f"{prefix}ends"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    produce_batches(brokers.source, topic, 10, 100)
    source = KafkaCluster("source", brokers.source)

    assert source.watermark_offsets([(topic, 0)]) == {(topic, 0): (0, 1000)}
    dry = run(
        "mirror",
        "--source",
        brokers.source,
        "--target",
        brokers.target,
        "--topic",
        topic,
        "--state-dir",
        str(tmp_path / "state"),
        "--dry-run",
    )
    assert dry.exit_code == 0, dry.output
    assert "would copy about 1,000 records from 1 partitions" in dry.output


def test_provision_keeps_the_source_timestamp_bounds_a_kafka_4_target_would_refuse(
    brokers: Brokers, prefix: str, tmp_path
) -> None:
    """Kafka 4.0 brokers refuse records stamped over an hour ahead by default
    (log.message.timestamp.after.max.ms, KIP-937); a 3.9 source accepts them.
    provision-topics reads the target brokers' default and sets the source's value
    on the topics it creates, so the mirror can copy every record.  Tansu reports no
    broker configs: nothing to compare there."""
    if not brokers.real:
        pytest.skip("Tansu reports no broker configs (DescribeConfigs on a broker)")
    from confluent_kafka.admin import AdminClient, ConfigResource

    topic = f"{prefix}future"
    create_topic(brokers.source, topic, 1)
    snapshot = tmp_path / "topics.yaml"
    exported = run("export", "--source", brokers.source, "--topic", topic, "-o", str(snapshot))
    assert exported.exit_code == 0, exported.output

    provisioned = run("provision", str(snapshot), "--target", brokers.target)

    assert provisioned.exit_code == 0, provisioned.output
    assert "timestamp_bounds_kept" in provisioned.output
    admin = AdminClient({"bootstrap.servers": brokers.target})
    configs = next(iter(admin.describe_configs([ConfigResource("topic", topic)]).values())).result()
    assert configs["message.timestamp.after.max.ms"].value == str(2**63 - 1)

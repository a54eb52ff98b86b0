"""The shipped example plans for managed targets, checked with ``kmigrate plan --offline
--snapshot``: no network and no credentials (the credential variables are unset), the
whole translation table from the example snapshot and the plan's declared facts.

Also: the JSON contract of issue 5, refusals blocking ``plan`` (exit 1) unless accepted,
and a missing cloud extra as a usage error naming the pip command (exit 2).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.cli import cli

PLANS = Path(__file__).resolve().parents[2] / "plans"
REDPANDA = PLANS / "snapshots" / "redpanda-shop.yaml"
COMPOSE = PLANS / "snapshots" / "compose-shop.yaml"
SECRETS = (
    "AZURE_SUBSCRIPTION_ID",
    "EVENTHUBS_CONNECTION_STRING",
    "CONFLUENT_API_KEY",
    "CONFLUENT_API_SECRET",
    "AWS_ACCESS_KEY_ID",
)
TOPIC_KEYS = {"name", "action", "partitions", "replication_factor", "decisions"}
DECISION_KEYS = {"key", "source_value", "target_value", "decision", "reason", "rule"}


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline means without credentials: none of the plans' variables is set."""
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def offline(plan: Path, snapshot: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = run("plan", str(plan), "--offline", "--snapshot", str(snapshot), "--output", "json")
    return result.exit_code, json.loads(result.stdout)


def decision(data: dict, topic: str, key: str) -> dict:  # type: ignore[type-arg]
    [t] = [t for t in data["topics"] if t["name"] == topic]
    [d] = [d for d in t["decisions"] if d["key"] == key]
    return d  # type: ignore[no-any-return]


def by_name(data: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {t["name"]: t for t in data["topics"]}


@pytest.mark.parametrize(
    ("plan", "snapshot"),
    [
        ("redpanda-to-msk.yaml", REDPANDA),
        ("redpanda-to-msk-serverless.yaml", REDPANDA),
        ("compose-to-eventhubs.yaml", COMPOSE),
        ("compose-to-confluent-cloud.yaml", COMPOSE),
    ],
)
def test_example_plan_passes_offline_with_the_json_contract(plan: str, snapshot: Path) -> None:
    code, data = offline(PLANS / plan, snapshot)
    assert code == 0, data
    assert len(data["topics"]) == 7
    for topic in data["topics"]:
        assert set(topic) >= TOPIC_KEYS
        assert topic["action"] == "create"
        for d in topic["decisions"]:
            assert set(d) >= DECISION_KEYS
            assert d["decision"] in ("copied", "converted", "dropped", "refused")


def test_redpanda_to_msk_drops_vendor_keys_converts_compression_and_sets_rf_3() -> None:
    _, data = offline(PLANS / "redpanda-to-msk.yaml", REDPANDA)
    assert decision(data, "event-created", "redpanda.remote.read")["decision"] == "dropped"
    d = decision(data, "event-created", "compression.type")
    assert (d["decision"], d["source_value"], d["target_value"], d["rule"]) == (
        "converted",
        "none",
        "uncompressed",
        "convert_compression_none",
    )
    assert {t["replication_factor"] for t in data["topics"]} == {3}


def test_msk_serverless_accepted_refusal_is_marked_and_not_set() -> None:
    _, data = offline(PLANS / "redpanda-to-msk-serverless.yaml", REDPANDA)
    d = decision(data, "purchase-created", "segment.bytes")
    assert (d["decision"], d["accepted"], d["rule"]) == ("refused", True, "msk_serverless_keys")
    assert "segment.bytes" not in by_name(data)["purchase-created"]["configs"]


def test_an_unaccepted_refusal_makes_plan_exit_1(tmp_path: Path) -> None:
    plan = tmp_path / "serverless.yaml"
    text = (PLANS / "redpanda-to-msk-serverless.yaml").read_text()
    plan.write_text(text.replace("- {topic: purchase-created, key: segment.bytes}", "[]"))
    plan.write_text(plan.read_text().replace("accept:\n          []", "accept: []"))
    code, data = offline(plan, REDPANDA)
    assert code == 1
    assert by_name(data)["purchase-created"]["action"] == "refuse"


def test_compose_to_eventhubs_converts_to_hub_properties() -> None:
    _, data = offline(PLANS / "compose-to-eventhubs.yaml", COMPOSE)
    hours = decision(data, "event-created", "retention.ms")
    assert (hours["target_key"], hours["target_value"]) == ("retentionTimeInHours", "72")
    assert decision(data, "event-created", "retention.bytes")["decision"] == "dropped"
    assert decision(data, "purchase-created", "cleanup.policy")["target_value"] == "Compact"
    stamp = decision(data, "trainer-allocated", "message.timestamp.type")
    assert (stamp["target_key"], stamp["target_value"]) == ("timestampType", "Create")
    assert {t["replication_factor"] for t in data["topics"]} == {None}


def test_compose_to_confluent_cloud_keeps_only_editable_keys_with_rf_3() -> None:
    _, data = offline(PLANS / "compose-to-confluent-cloud.yaml", COMPOSE)
    d = decision(data, "purchase-confirmed", "compression.type")
    assert (d["decision"], d["rule"]) == ("dropped", "keep_fixed_keys")
    assert decision(data, "dead-letter-queue", "retention.ms")["decision"] == "copied"
    assert {t["replication_factor"] for t in data["topics"]} == {3}


def test_snapshot_without_offline_is_a_usage_error() -> None:
    result = run("plan", str(PLANS / "redpanda-to-msk.yaml"), "--snapshot", str(REDPANDA))
    assert result.exit_code == 2
    assert "--snapshot is for --offline" in result.output


def test_missing_aws_extra_is_exit_2_naming_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """boto3 blocked (as if kmigrate[aws] were not installed): opening the MSK target to
    discover its bootstrap servers is a usage error naming the extra."""
    # Both blocked, whatever earlier tests imported; the package named is the first
    # one the MSK module imports on this path (boto3 for discovery).
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", None)
    result = run("plan", str(PLANS / "redpanda-to-msk.yaml"))
    assert result.exit_code == 2, result.output
    assert re.search(
        r"an MSK target needs the Python package '(boto3|aws_msk_iam_sasl_signer)', which "
        r"is not installed: pip install 'kmigrate\[aws\]'",
        " ".join(result.output.split()),
    ), result.output


def test_missing_azure_extra_is_exit_2_naming_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """azure-mgmt-eventhub blocked: the first ARM call (listing the namespace's hubs for
    the translation) is a usage error naming the extra."""
    for name in [m for m in sys.modules if m == "azure" or m.startswith("azure.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "azure.mgmt.eventhub", None)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv(
        "EVENTHUBS_CONNECTION_STRING",
        "Endpoint=sb://shop-prod.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s",
    )
    plan = tmp_path / "eventhubs.yaml"
    plan.write_text(
        (PLANS / "compose-to-eventhubs.yaml")
        .read_text()
        .replace("state_dir: .kmigrate/compose-to-eventhubs", "state_dir: state")
        .replace(
            "      - action: provision-topics",
            "      - action: provision-topics\n        snapshot: topics.yaml",
        )
    )
    (tmp_path / "state").mkdir()
    shutil.copy(COMPOSE, tmp_path / "state" / "topics.yaml")
    result = run("plan", str(plan))
    assert result.exit_code == 2, result.output
    assert (
        "an Event Hubs target needs the Python package 'azure', which is not installed: "
        "pip install 'kmigrate[azure]'"
    ) in " ".join(result.output.split())


def test_docs_rules_lists_every_rule_with_its_source() -> None:
    """docs/rules.md (the rule list the README points to) names every rule and its source."""
    from kmigrate.clusters.registry import rule_catalogue

    page = (PLANS.parent / "docs" / "rules.md").read_text()
    for rule in rule_catalogue():
        assert f"| `{rule['rule']}` |" in page
        assert rule["source"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    cluster_arn: arn:aws:kafka:eu-central-1:123456789012:cluster/shop/abc\n",
            "",
            "15: clusters.target.cluster_arn: missing required key 'cluster_arn' "
            "(a msk cluster needs it)",
        ),
        (
            "    auth: iam\n",
            "    auth: sasl\n",
            "23: clusters.target.auth: expected one of iam, scram, tls, plaintext; found 'sasl'",
        ),
        (
            "    facts: {cluster_type: provisioned, broker_count: 3, broker_type: kafka.m5.large}",
            "    facts: {broker_count: 3}",
            "26: clusters.target.facts: a msk target needs facts.cluster_type "
            "(one of: provisioned, serverless)",
        ),
        (
            "    auth: iam\n",
            "    auth: iam\n    api_key: k\n",
            "24: clusters.target.api_key: a msk cluster does not take 'api_key' (it takes "
            "auth, bootstrap_servers, cluster_arn, region)",
        ),
    ],
)
def test_bad_msk_target_keys_are_exit_2_with_file_line_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    plan = tmp_path / "msk.yaml"
    text = (PLANS / "redpanda-to-msk.yaml").read_text()
    assert old in text
    plan.write_text(text.replace(old, new))
    result = run("plan", str(plan), "--offline")
    assert result.exit_code == 2
    assert f"{plan}:{message}" in " ".join(result.output.split())


def test_a_literal_connection_string_is_refused_without_showing_it(tmp_path: Path) -> None:
    plan = tmp_path / "eh.yaml"
    text = (PLANS / "compose-to-eventhubs.yaml").read_text()
    plan.write_text(
        text.replace("${EVENTHUBS_CONNECTION_STRING}", "Endpoint=sb://x/;SharedAccessKey=s3cr3t")
    )
    result = run("plan", str(plan), "--offline")
    assert result.exit_code == 2
    assert "clusters.target.connection_string: expected a ${ENV_VAR} or ${file:path} " in (
        " ".join(result.output.split())
    )
    assert "s3cr3t" not in result.output

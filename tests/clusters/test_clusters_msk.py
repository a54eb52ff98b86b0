"""MSK discovery, bootstrap and auth settings, tested at the SDK boundary.

AWS cannot run here: boto3's ``kafka`` client is driven through botocore's
``Stubber`` (which validates each request and response against the real service
model), and the IAM token comes from the real aws-msk-iam-sasl-signer-python with
static fake credentials (signing is local; nothing is sent).
"""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from kmigrate.clusters import msk
from kmigrate.errors import ClusterError, UsageError
from tests.support.cloud_fakes import ARN, fake_aws_env, provisioned

REGION = "eu-central-1"


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Static fake credentials, and no AWS config files read from the machine."""
    fake_aws_env(monkeypatch, tmp_path)


@pytest.fixture
def stubbed(fake_aws: None) -> Iterator[tuple[Any, Stubber]]:
    """A real boto3 ``kafka`` client under botocore's Stubber."""
    client = boto3.client("kafka", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def serverless() -> dict[str, Any]:
    """A DescribeClusterV2 response for a Serverless cluster."""
    return {
        "ClusterInfo": {
            "ClusterType": "SERVERLESS",
            "ClusterArn": ARN,
            "ClusterName": "shop",
            "State": "ACTIVE",
            "Serverless": {
                "VpcConfigs": [{"SubnetIds": ["subnet-0a"]}],
                "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
            },
        }
    }


BOOTSTRAP = {
    "BootstrapBrokerString": "b-1.shop.kafka.eu-central-1.amazonaws.com:9092",
    "BootstrapBrokerStringTls": "b-1.shop.kafka.eu-central-1.amazonaws.com:9094",
    "BootstrapBrokerStringSaslScram": "b-1.shop.kafka.eu-central-1.amazonaws.com:9096",
    "BootstrapBrokerStringSaslIam": "b-1.shop.kafka.eu-central-1.amazonaws.com:9098",
}


def test_describe_provisioned(stubbed: tuple[Any, Stubber]) -> None:
    """Tested at the SDK boundary: type, broker count, size and Kafka version are read."""
    client, stub = stubbed
    stub.add_response("describe_cluster_v2", provisioned(), {"ClusterArn": ARN})
    c = msk.describe(ARN, REGION, client)
    assert (c.cluster_type, c.broker_count, c.broker_type, c.kafka_version) == (
        "provisioned",
        3,
        "kafka.m5.large",
        "3.6.0",
    )
    assert c.facts() == {
        "cluster_type": "provisioned",
        "broker_count": 3,
        "broker_type": "kafka.m5.large",
    }


def test_describe_serverless(stubbed: tuple[Any, Stubber]) -> None:
    """Tested at the SDK boundary: a Serverless cluster has no brokers to count."""
    client, stub = stubbed
    stub.add_response("describe_cluster_v2", serverless(), {"ClusterArn": ARN})
    c = msk.describe(ARN, REGION, client)
    assert (c.cluster_type, c.broker_count, c.kafka_version) == ("serverless", None, None)


def test_describe_refuses_a_cluster_not_active(stubbed: tuple[Any, Stubber]) -> None:
    """Tested at the SDK boundary: State must be ACTIVE."""
    client, stub = stubbed
    stub.add_response("describe_cluster_v2", provisioned("UPDATING"), {"ClusterArn": ARN})
    with pytest.raises(ClusterError, match="is UPDATING, not ACTIVE"):
        msk.describe(ARN, REGION, client)


def test_describe_translates_service_errors(stubbed: tuple[Any, Stubber]) -> None:
    """Tested at the SDK boundary: a botocore ClientError becomes a ClusterError."""
    client, stub = stubbed
    stub.add_client_error(
        "describe_cluster_v2",
        service_error_code="NotFoundException",
        service_message="The specified cluster was not found.",
        http_status_code=404,
        expected_params={"ClusterArn": ARN},
    )
    with pytest.raises(ClusterError, match="NotFoundException: The specified cluster"):
        msk.describe(ARN, REGION, client)


@pytest.mark.parametrize(
    ("auth", "port"), [("iam", 9098), ("scram", 9096), ("tls", 9094), ("plaintext", 9092)]
)
def test_bootstrap_for_each_auth(stubbed: tuple[Any, Stubber], auth: str, port: int) -> None:
    """Tested at the SDK boundary: each auth picks its bootstrap string and port."""
    client, stub = stubbed
    stub.add_response("get_bootstrap_brokers", BOOTSTRAP, {"ClusterArn": ARN})
    assert msk.bootstrap_for(ARN, REGION, auth, client).endswith(f":{port}")


def test_bootstrap_for_auth_not_enabled(stubbed: tuple[Any, Stubber]) -> None:
    """Tested at the SDK boundary: an auth the cluster has not enabled is named, with those
    it has."""
    client, stub = stubbed
    only_iam = {"BootstrapBrokerStringSaslIam": BOOTSTRAP["BootstrapBrokerStringSaslIam"]}
    stub.add_response("get_bootstrap_brokers", only_iam, {"ClusterArn": ARN})
    with pytest.raises(ClusterError, match=r"no scram endpoint \(port 9096\); enabled: iam"):
        msk.bootstrap_for(ARN, REGION, "scram", client)


def test_declared_facts_checked_against_discovered(stubbed: tuple[Any, Stubber]) -> None:
    """Tested at the SDK boundary: a declared fact that disagrees names both values."""
    client, stub = stubbed
    stub.add_response("describe_cluster_v2", provisioned(brokers=6), {"ClusterArn": ARN})
    c = msk.describe(ARN, REGION, client)
    msk.check_facts({"cluster_type": "PROVISIONED", "broker_count": 6}, c)
    with pytest.raises(
        ClusterError,
        match="facts.broker_count: the plan declares 3, the cluster has 6; "
        "facts.cluster_type: the plan declares 'serverless', the cluster has 'provisioned'",
    ):
        msk.check_facts({"cluster_type": "serverless", "broker_count": 3}, c)


def test_iam_oauth_cb_with_the_real_signer(fake_aws: None) -> None:
    """Tested at the SDK boundary: the real signer with static fake credentials; the
    callback's expiry is in seconds (not the signer's ms), in the future, under an hour."""
    settings = msk.client_settings("iam", REGION)
    assert settings["security.protocol"] == "SASL_SSL"
    assert settings["sasl.mechanism"] == "OAUTHBEARER"
    cb = settings["oauth_cb"]
    assert callable(cb)
    before = time.time()
    token, expiry = cb(None)
    assert before < expiry < before + 3600
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    assert url.startswith(f"https://kafka.{REGION}.amazonaws.com/")
    assert "Action=kafka-cluster%3AConnect" in url
    assert "wJalrXUtnFEMI" not in url  # the secret key signs; it is never in the token


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("scram", {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"}),
        ("tls", {"security.protocol": "SSL"}),
        ("plaintext", {"security.protocol": "PLAINTEXT"}),
    ],
)
def test_client_settings(auth: str, expected: dict[str, str]) -> None:
    """Each auth gives its librdkafka settings."""
    assert msk.client_settings(auth, REGION) == expected


def test_unknown_auth() -> None:
    """An unknown auth is a usage error naming the choices."""
    with pytest.raises(UsageError, match="expected one of iam, scram, tls, plaintext"):
        msk.client_settings("kerberos", REGION)


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without boto3 an MSK target is a usage error (exit 2) naming the extra."""
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(UsageError, match=r"pip install 'kmigrate\[aws\]'") as err:
        msk.kafka_client(REGION)
    assert err.value.exit_code == 2

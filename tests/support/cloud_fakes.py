"""Azure and AWS at their SDK boundaries: an Event Hubs namespace answering ARM REST
calls in memory (the real azure-mgmt-eventhub client sends them through a ``requests``
adapter), and an MSK DescribeClusterV2 response shaped as boto3's service model."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport

from kmigrate.clusters import eventhubs

SUB, RG, NS = "00000000-0000-0000-0000-000000000001", "shop-rg", "shop-prod"


NS_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.EventHub/namespaces/{NS}"


Handler = Callable[[str, str, dict[str, Any] | None], tuple[int, dict[str, Any] | None]]


class ArmAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` adapter standing in for management.azure.com: records each request
    (method, path, api-version, JSON body) and answers from ``handler``."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.calls: list[tuple[str, str, str, dict[str, Any] | None]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlparse(request.url or "")
        raw = request.body
        body = json.loads(raw) if raw else None
        api = parse_qs(url.query).get("api-version", [""])[0]
        self.calls.append((request.method or "", url.path, api, body))
        status, payload = self.handler(request.method or "", url.path, body)
        content = json.dumps(payload).encode() if payload is not None else b""
        resp = requests.Response()
        resp.status_code = status
        resp._content = content
        resp.raw = io.BytesIO(content)
        resp.headers["Content-Type"] = "application/json; charset=utf-8"
        resp.url = request.url or ""
        resp.request = request
        return resp

    def close(self) -> None:
        """Nothing to close."""


class FakeCredential:
    """An azure-core TokenCredential handing out a fixed test token."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("test-token", int(time.time()) + 3600)


def namespace_json(tier: str = "Standard", kafka: bool = True) -> dict[str, Any]:
    """GET namespace, shaped as the ARM REST API documents it."""
    return {
        "id": NS_PATH,
        "name": NS,
        "type": "Microsoft.EventHub/Namespaces",
        "location": "West Europe",
        "sku": {"name": tier, "tier": tier, "capacity": 1},
        "properties": {
            "provisioningState": "Succeeded",
            "status": "Active",
            "serviceBusEndpoint": f"https://{NS}.servicebus.windows.net:443/",
            "kafkaEnabled": kafka,
            "isAutoInflateEnabled": False,
            "maximumThroughputUnits": 0,
        },
    }


def hub_json(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A hub resource as ARM returns it (read-only fields added to what was sent)."""
    return {
        "id": f"{NS_PATH}/eventhubs/{name}",
        "name": name,
        "type": "Microsoft.EventHub/namespaces/eventhubs",
        "location": "West Europe",
        "properties": {
            **properties,
            "partitionIds": [str(i) for i in range(properties.get("partitionCount", 1))],
            "status": "Active",
            "createdAt": "2026-11-24T10:00:00Z",
            "updatedAt": "2026-11-24T10:00:00Z",
        },
    }


class FakeArm:
    """Namespace and hubs held in memory, answering ARM REST calls."""

    def __init__(self, tier: str = "Standard", kafka: bool = True) -> None:
        self.namespace = namespace_json(tier, kafka)
        self.hubs: dict[str, dict[str, Any]] = {
            "existing": hub_json(
                "existing",
                {
                    "partitionCount": 2,
                    "messageRetentionInDays": 1,
                    "retentionDescription": {"cleanupPolicy": "Delete", "retentionTimeInHours": 24},
                },
            )
        }

    def __call__(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any] | None]:
        if path == NS_PATH and method == "GET":
            return 200, self.namespace
        if path == f"{NS_PATH}/eventhubs" and method == "GET":
            return 200, {"value": list(self.hubs.values())}
        prefix = f"{NS_PATH}/eventhubs/"
        if path.startswith(prefix):
            name = path[len(prefix) :]
            if method == "PUT":
                assert body is not None
                self.hubs[name] = hub_json(name, body["properties"])
                return 200, self.hubs[name]
            if method == "DELETE":
                return (200, None) if self.hubs.pop(name, None) else (204, None)
        return 404, {"error": {"code": "NotFound", "message": f"no route {method} {path}"}}


def control_plane_through(
    adapter: ArmAdapter, sub: str = SUB, rg: str = RG, ns: str = NS
) -> eventhubs.EventHubsControlPlane:
    """kmigrate's Event Hubs control plane over a real EventHubManagementClient whose
    transport is ``adapter`` (no retries: a test sees each answer once)."""
    session = requests.Session()
    session.mount("https://", adapter)
    return eventhubs.EventHubsControlPlane(
        sub,
        rg,
        ns,
        credential=FakeCredential(),
        transport=RequestsTransport(session=session, session_owner=False),
        retry_total=0,
    )


ARN = "arn:aws:kafka:eu-central-1:123456789012:cluster/shop/0b1c2d3e-1111-2222-3333-444455556666-2"


def provisioned(state: str = "ACTIVE", brokers: int = 3) -> dict[str, Any]:
    """A DescribeClusterV2 response for a Provisioned cluster, shaped as the service model."""
    return {
        "ClusterInfo": {
            "ClusterType": "PROVISIONED",
            "ClusterArn": ARN,
            "ClusterName": "shop",
            "State": state,
            "CurrentVersion": "K3AEGXETSR30VB",
            "Provisioned": {
                "BrokerNodeGroupInfo": {
                    "ClientSubnets": ["subnet-0a", "subnet-0b", "subnet-0c"],
                    "InstanceType": "kafka.m5.large",
                },
                "CurrentBrokerSoftwareInfo": {"KafkaVersion": "3.6.0"},
                "NumberOfBrokerNodes": brokers,
            },
        }
    }


def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Static fake AWS credentials, and no AWS config file, profile or instance
    metadata read from the machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@contextmanager
def stubbed_aws_client(
    service: str, region: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Any, Any]]:
    """A real boto3 client of ``service`` under botocore's Stubber, with
    :func:`fake_aws_env`; checks at the end that every queued answer was used."""
    from botocore.stub import Stubber

    fake_aws_env(monkeypatch, tmp_path)
    client = boto3.client(service, region_name=region)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()

"""Event Hubs: client settings, Entra callback, ARM control plane, partition cross-check.

Azure cannot run here, so everything is tested at the SDK boundary: the real
azure-mgmt-eventhub client builds and sends real REST requests through azure-core's
``RequestsTransport``, whose ``requests`` session has a test adapter answering with
responses shaped as the ARM REST API documents them (Microsoft.EventHub
namespaces / eventhubs, API 2026-01-01).  The data-plane check gets an object with
azure-eventhub's ``get_partition_ids`` / ``get_partition_properties`` surface.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from kmigrate.clusters import eventhubs
from kmigrate.clusters.registry import PROFILES
from kmigrate.errors import ClusterError, UsageError
from kmigrate.targets.model import SourceTopic
from kmigrate.targets.translate import translate_topic
from tests.support.cloud_fakes import (
    NS,
    NS_PATH,
    RG,
    SUB,
    ArmAdapter,
    FakeArm,
    FakeCredential,
    Handler,
    control_plane_through,
)

CONN = (
    "Endpoint=sb://shop-prod.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=c2VjcmV0LWtleS1ub3QtcmVhbA=="
)


def control_plane(arm: Handler) -> tuple[eventhubs.EventHubsControlPlane, ArmAdapter]:
    """A real EventHubManagementClient whose transport is the test adapter."""
    adapter = ArmAdapter(arm)
    return control_plane_through(adapter), adapter


def test_namespace_check_standard() -> None:
    """Tested at the SDK boundary: tier and Kafka are read from the namespace resource."""
    cp, adapter = control_plane(FakeArm())
    info = cp.check({"tier": "standard"})
    assert (info.tier, info.kafka_enabled, info.capacity) == ("standard", True, 1)
    assert adapter.calls[0][:3] == ("GET", NS_PATH, "2026-01-01")


@pytest.mark.parametrize(
    ("arm", "facts", "message"),
    [
        (FakeArm("Basic"), {}, "is Basic, which has no Kafka endpoint"),
        (FakeArm(kafka=False), {}, "has Kafka disabled"),
        (
            FakeArm("Premium"),
            {"tier": "standard"},
            "facts.tier: the plan declares 'standard', the namespace is 'premium'",
        ),
    ],
)
def test_namespace_check_refuses(arm: FakeArm, facts: dict[str, str], message: str) -> None:
    """Tested at the SDK boundary: Basic, Kafka disabled, or a wrong declared tier."""
    cp, _ = control_plane(arm)
    with pytest.raises(ClusterError, match=message):
        cp.check(facts)


def test_hubs_listed() -> None:
    """Tested at the SDK boundary: hubs come back with partitions, retention, cleanup policy."""
    cp, _ = control_plane(FakeArm())
    hubs = cp.hubs()
    assert hubs["existing"] == eventhubs.HubInfo("existing", 2, 24, "Delete", None)


def test_create_hub_from_translation_and_delete() -> None:
    """Tested at the SDK boundary: the PUT body carries partition count, retention hours,
    cleanup policy, tombstone hours, compaction lag minutes and the Create timestamp type;
    delete removes the hub."""
    arm = FakeArm("Premium")
    cp, adapter = control_plane(arm)
    t = translate_topic(
        "trainer-allocated",
        SourceTopic(
            3,
            1,
            {
                "cleanup.policy": "compact",
                "retention.ms": "1209600000",
                "delete.retention.ms": "3600000",
                "min.compaction.lag.ms": "60000",
            },
        ),
        "kafka",
        PROFILES["eventhubs-premium"],
    )
    hub = cp.create_hub(t)
    method, path, api, body = adapter.calls[-1]
    assert (method, path, api) == ("PUT", f"{NS_PATH}/eventhubs/trainer-allocated", "2026-01-01")
    assert body == {
        "properties": {
            "partitionCount": 3,
            "retentionDescription": {
                "cleanupPolicy": "Compact",
                "retentionTimeInHours": 336,
                "tombstoneRetentionTimeInHours": 1,
                "minCompactionLagTimeInMinutes": 1,
            },
            "messageTimestampDescription": {"timestampType": "Create"},
        }
    }
    assert hub == eventhubs.HubInfo("trainer-allocated", 3, 336, "Compact", "Create")
    cp.delete_hub("trainer-allocated")
    assert adapter.calls[-1][:2] == ("DELETE", f"{NS_PATH}/eventhubs/trainer-allocated")
    assert "trainer-allocated" not in arm.hubs


def test_create_hub_refuses_a_refused_translation() -> None:
    """A refused translation is never sent to ARM."""
    cp, adapter = control_plane(FakeArm())
    t = translate_topic("big", SourceTopic(64, 1, {}), "kafka", PROFILES["eventhubs-standard"])
    with pytest.raises(UsageError, match="says refuse, not create"):
        cp.create_hub(t)
    assert adapter.calls == []


def test_arm_error_becomes_cluster_error() -> None:
    """Tested at the SDK boundary: an ARM 403 becomes a ClusterError naming the operation."""

    def forbidden(method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        return 403, {
            "error": {
                "code": "AuthorizationFailed",
                "message": "The client 'x' does not have authorization to perform action "
                "'Microsoft.EventHub/namespaces/read'.",
            }
        }

    cp, _ = control_plane(forbidden)
    with pytest.raises(ClusterError, match="namespace read on shop-prod failed: .*authorization"):
        cp.namespace_info()


def test_connection_string_settings() -> None:
    """SASL_SSL PLAIN with username $ConnectionString, on NAMESPACE.servicebus.windows.net:9093."""
    s = eventhubs.client_settings(NS, "connection-string", connection_string=CONN)
    assert s["bootstrap.servers"] == "shop-prod.servicebus.windows.net:9093"
    assert (s["security.protocol"], s["sasl.mechanism"], s["sasl.username"]) == (
        "SASL_SSL",
        "PLAIN",
        "$ConnectionString",
    )
    assert s["sasl.password"] == CONN
    assert s["connections.max.idle.ms"] == 180000


def test_bad_connection_string_not_shown() -> None:
    """A malformed connection string is refused without echoing it."""
    with pytest.raises(UsageError) as err:
        eventhubs.client_settings(NS, "connection-string", connection_string="s3cr3t-value")
    assert "s3cr3t-value" not in str(err.value)


def test_entra_oauth_cb() -> None:
    """Tested at the callback boundary: the token is asked for the namespace's scope and the
    expiry is seconds since the epoch."""
    cred = FakeCredential()
    s = eventhubs.client_settings(NS, "entra", credential=cred)
    assert (s["security.protocol"], s["sasl.mechanism"]) == ("SASL_SSL", "OAUTHBEARER")
    cb = s["oauth_cb"]
    assert callable(cb)
    token, expiry = cb(None)
    assert token == "test-token"
    assert time.time() < expiry < time.time() + 3601
    assert cred.scopes == ["https://shop-prod.servicebus.windows.net/.default"]


class FakeConsumerClient:
    """The azure-eventhub EventHubConsumerClient surface verify uses (values as its docs show)."""

    def get_partition_ids(self) -> list[str]:
        return ["0", "1"]

    def get_partition_properties(self, pid: str) -> dict[str, Any]:
        if pid == "0":
            return {
                "eventhub_name": "orders",
                "id": "0",
                "beginning_sequence_number": 0,
                "last_enqueued_sequence_number": 41,
                "last_enqueued_offset": "8589938000",
                "last_enqueued_time_utc": None,
                "is_empty": False,
            }
        return {
            "eventhub_name": "orders",
            "id": "1",
            "beginning_sequence_number": -1,
            "last_enqueued_sequence_number": -1,
            "last_enqueued_offset": "-1",
            "last_enqueued_time_utc": None,
            "is_empty": True,
        }


def test_partition_properties() -> None:
    """Partition ids and event counts by sequence number, for verify's cross-check."""
    props = eventhubs.partition_properties(FakeConsumerClient())
    assert sorted(props) == ["0", "1"]
    assert (props["0"].count, props["1"].count) == (42, 0)


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without azure-mgmt-eventhub an Event Hubs control plane is a usage error naming the
    extra."""
    monkeypatch.setitem(sys.modules, "azure.mgmt.eventhub", None)
    with pytest.raises(UsageError, match=r"pip install 'kmigrate\[azure\]'"):
        eventhubs.EventHubsControlPlane(SUB, RG, NS, credential=FakeCredential())

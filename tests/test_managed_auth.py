"""The registry's clusters, opened as a plan opens them, against a real TLS + SASL handshake.

``kmigrate.clusters.registry.open_cluster`` builds each type's client settings from the
plan keys (confluent-cloud: SASL_SSL PLAIN with the API key; eventhubs: SASL_SSL PLAIN as
``$ConnectionString``; msk with ``auth: scram``: SASL_SSL SCRAM-SHA-512).  The target's
``bootstrap_servers`` override points at tests/support/auth_proxy.py, which ends TLS and
answers SASL itself in front of a sandbox broker; ``config:`` adds only the test CA.  The
client side (librdkafka) is real; the server side of TLS and SASL is the test's own.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kmigrate.clusters import registry
from kmigrate.clusters.kafka import connect
from kmigrate.clusters.port import Cluster, ControlPlane, PartitionEnd, Record
from kmigrate.errors import ClusterError
from tests.test_auth_proxy import (
    CC_KEY,
    CC_SECRET,
    EH_CONN,
    MSK_PASSWORD,
    MSK_USER,
    Secured,
    secured,  # noqa: F401  (the module-scoped proxy fixture)
)

pytestmark = pytest.mark.broker


def values(kind: str, bootstrap: str, secret: str | None = None) -> dict[str, Any]:
    """Plan keys per type, references already resolved (as context.spec_values gives)."""
    if kind == "confluent-cloud":
        return {
            "bootstrap_servers": bootstrap,
            "api_key": CC_KEY,
            "api_secret": secret or CC_SECRET,
            "facts": {"cluster_type": "standard"},
        }
    if kind == "eventhubs":
        return {
            "namespace": "shop-prod",
            "subscription_id": "sub",
            "resource_group": "rg",
            "connection_string": secret or EH_CONN,
            "bootstrap_servers": bootstrap,
            "facts": {"tier": "standard"},
        }
    return {
        "region": "eu-central-1",
        "cluster_arn": "arn:aws:kafka:eu-central-1:123456789012:cluster/shop/abc",
        "auth": "scram",
        "bootstrap_servers": bootstrap,
        "facts": {"cluster_type": "provisioned", "broker_count": 1},
    }


def open_target(kind: str, s: Secured, secret: str | None = None) -> tuple[Cluster, ControlPlane]:
    config: dict[str, Any] = {"ssl.ca.location": str(s.certs.ca)}
    if kind == "msk":
        config |= {"sasl.username": MSK_USER, "sasl.password": secret or MSK_PASSWORD}
    return registry.open_cluster("target", kind, values(kind, s.bootstrap, secret), config)


def plane_settings(plane: Any) -> dict[str, Any]:
    """The settings the type's preflight connects with (its Kafka step; the cloud API
    step before it is tested in tests/test_managed_e2e.py)."""
    return dict(plane.settings if hasattr(plane, "settings") else plane.kafka.settings)


EXPECTED_LOGIN = {
    "confluent-cloud": ("PLAIN", CC_KEY),
    "eventhubs": ("PLAIN", "$ConnectionString"),
    "msk": ("SCRAM-SHA-512", MSK_USER),
}


@pytest.mark.parametrize("kind", ["confluent-cloud", "eventhubs", "msk"])
def test_registry_settings_connect_produce_and_consume(secured: Secured, kind: str) -> None:  # noqa: F811
    """The type's generated settings pass the proxy's TLS + SASL handshake; records written
    through the data plane come back (server side: the test's own proxy)."""
    cluster, plane = open_target(kind, secured)
    assert connect(cluster, plane_settings(plane)).broker_count == 1
    topic = f"reg-{uuid.uuid4().hex[:8]}"
    [outcome] = cluster.create_topics([(topic, 1, 1, {})])
    assert outcome.status == "created", outcome
    errors: list[str] = []
    writer = cluster.writer(errors.append)
    for i in range(3):
        writer.write(topic, Record(topic, 0, -1, b"k", f"v{i}".encode(), [], 1_700_000_000_000))
    assert writer.flush(30) == 0 and errors == []
    got = [
        r
        for r in cluster.read([(topic, 0, -2)], idle_timeout_s=20)
        if not isinstance(r, PartitionEnd)
    ]
    assert [r.value for r in got] == [b"v0", b"v1", b"v2"]
    assert EXPECTED_LOGIN[kind] in secured.proxy.authenticated


@pytest.mark.parametrize(
    ("kind", "wrong"),
    [
        ("confluent-cloud", "wrong-secret-A1"),
        ("eventhubs", EH_CONN.replace("Kd93hQ", "WRONG9")),
        ("msk", "wrong-secret-C3"),
    ],
)
def test_registry_wrong_secret_is_a_clear_authentication_error(
    secured: Secured,  # noqa: F811
    kind: str,
    wrong: str,
) -> None:
    """The preflight's connection says "authentication failed" and never shows the secret
    (the server side refusing it is the test's own proxy)."""
    cluster, plane = open_target(kind, secured, wrong)
    with pytest.raises(ClusterError) as err:
        connect(cluster, plane_settings(plane))
    message = str(err.value)
    assert message.startswith(f"target ({secured.bootstrap}): authentication failed: "), message
    assert wrong not in message
    assert "WRONG9" not in message

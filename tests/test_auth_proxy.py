"""The client settings each managed target generates, against a real TLS + SASL handshake.

A dedicated sandbox broker advertises the port of ``tests/support/auth_proxy.py``,
which ends TLS and answers SASL PLAIN / SCRAM itself before forwarding bytes.  The
client side (librdkafka's TLS, SASL PLAIN and SCRAM-SHA-512, through kmigrate's Kafka
adapter) is real; the server side of TLS and SASL is this test's own, not the cloud
service's.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from azure.core.credentials import AccessToken
from support.auth_proxy import AuthFailed, AuthProxy, Certificates, make_certificates

from kmigrate.adapters import sandbox
from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.adapters.probe import probe
from kmigrate.clusters import confluent_cloud, eventhubs, msk
from kmigrate.clusters.port import PartitionEnd, Record
from kmigrate.errors import ClusterError

pytestmark = pytest.mark.broker

CC_KEY, CC_SECRET = "CCLOUDKEY4TEST", "cc-secret-Zq8wV1"
EH_CONN = (
    "Endpoint=sb://shop-prod.servicebus.windows.net/;SharedAccessKeyName=send-listen;"
    "SharedAccessKey=eh-secret-Kd93hQ=="
)
MSK_USER, MSK_PASSWORD = "kmigrate", "msk-secret-Tr4pP0"
ENTRA_TOKEN = "entra-test-token"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def check_bearer(token: str) -> str:
    """The test's own OAUTHBEARER check: the Entra test token, or an MSK IAM token (a
    base64url SigV4-presigned ``kafka-cluster:Connect`` URL, as the signer makes it)."""
    if token == ENTRA_TOKEN:
        return "entra-app"
    url = urlparse(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    query = parse_qs(url.query)
    if (
        url.netloc != "kafka.eu-central-1.amazonaws.com"
        or query.get("Action") != ["kafka-cluster:Connect"]
        or "X-Amz-Signature" not in query
    ):
        raise AuthFailed("not an MSK IAM token")
    return query["X-Amz-Credential"][0].split("/")[0]


class FakeCredential:
    """An azure-core TokenCredential handing out the Entra test token."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        assert scopes == ("https://shop-prod.servicebus.windows.net/.default",)
        return AccessToken(ENTRA_TOKEN, int(time.time()) + 3600)


@dataclass
class Secured:
    """The proxy's bootstrap, its CA file, and the proxy (for what it saw)."""

    bootstrap: str
    certs: Certificates
    proxy: AuthProxy


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """A broker reachable only through the TLS + SASL proxy (it advertises the proxy)."""
    d = tmp_path_factory.mktemp("auth")
    certs = make_certificates(d / "certs")
    broker_port = sandbox.free_port()
    users = {CC_KEY: CC_SECRET, "$ConnectionString": EH_CONN, MSK_USER: MSK_PASSWORD}
    proxy = AuthProxy(("127.0.0.1", broker_port), users, certs, bearer_check=check_bearer)
    proxy.start()
    broker = None
    try:
        broker = sandbox.start_broker(
            "auth", broker_port, d / "broker.log", advertised_port=proxy.port
        )
        yield Secured(f"127.0.0.1:{proxy.port}", certs, proxy)
    finally:
        proxy.close()
        if broker is not None:
            sandbox.stop_pid(broker.pid)


def _client_config(settings: dict[str, object], certs: Certificates) -> dict[str, Any]:
    conf: dict[str, Any] = {
        k: v if callable(v) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in settings.items()
    }
    conf.pop("bootstrap.servers", None)  # the test's proxy stands in for the service's host
    conf["ssl.ca.location"] = str(certs.ca)
    return conf


def _round_trip(secured: Secured, settings: dict[str, object]) -> list[Record]:
    """Create a topic, produce three records and read them back, all through the proxy."""
    cluster = KafkaCluster("target", secured.bootstrap, _client_config(settings, secured.certs))
    topic = f"auth-{uuid.uuid4().hex[:8]}"
    [outcome] = cluster.create_topics([(topic, 2, 1, {})])
    assert outcome.status == "created", outcome
    errors: list[str] = []
    writer = cluster.writer(errors.append)
    sent = [
        Record(
            topic,
            i % 2,
            -1,
            f"k{i}".encode(),
            f"v{i}".encode(),
            [("h", b"1")],
            1_700_000_000_000 + i,
        )
        for i in range(3)
    ]
    for rec in sent:
        writer.write(topic, rec)
    assert writer.flush(30) == 0 and errors == []
    got = [
        r
        for r in cluster.read([(topic, p, -2) for p in range(2)], idle_timeout_s=20)
        if not isinstance(r, PartitionEnd)
    ]
    return sorted(got, key=lambda r: (r.partition, r.offset))


def _assert_same(sent_values: list[bytes], got: list[Record]) -> None:
    assert sorted(r.value or b"" for r in got) == sorted(sent_values)
    assert all(r.headers == [("h", b"1")] for r in got)


def test_confluent_cloud_settings_connect(secured: Secured) -> None:
    """confluent-cloud: SASL_SSL PLAIN with the API key produces and consumes (the server
    side of TLS and SASL is the test's own proxy)."""
    settings = confluent_cloud.client_settings(secured.bootstrap, CC_KEY, CC_SECRET)
    got = _round_trip(secured, settings)
    _assert_same([b"v0", b"v1", b"v2"], got)
    assert ("PLAIN", CC_KEY) in secured.proxy.authenticated


def test_eventhubs_connection_string_settings_connect(secured: Secured) -> None:
    """eventhubs, connection string: SASL_SSL PLAIN as ``$ConnectionString`` produces and
    consumes (the server side is the test's own proxy, not Event Hubs)."""
    settings = eventhubs.client_settings(
        "shop-prod", "connection-string", connection_string=EH_CONN
    )
    got = _round_trip(secured, settings)
    _assert_same([b"v0", b"v1", b"v2"], got)
    assert ("PLAIN", "$ConnectionString") in secured.proxy.authenticated


def test_msk_scram_settings_connect(secured: Secured) -> None:
    """msk, auth scram: SASL_SSL SCRAM-SHA-512 produces and consumes (the server side of the
    SCRAM exchange is the test's own proxy, per RFC 5802/7677)."""
    settings = {
        **msk.client_settings("scram", "eu-central-1"),
        "sasl.username": MSK_USER,
        "sasl.password": MSK_PASSWORD,
    }
    got = _round_trip(secured, settings)
    _assert_same([b"v0", b"v1", b"v2"], got)
    assert ("SCRAM-SHA-512", MSK_USER) in secured.proxy.authenticated


def test_msk_iam_settings_connect(
    secured: Secured, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """msk, auth iam: SASL_SSL OAUTHBEARER with the real signer's token (static fake
    credentials) produces and consumes; librdkafka accepts the oauth_cb's expiry.  The
    server side, which checks the token's shape instead of AWS, is the test's own."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    got = _round_trip(secured, msk.client_settings("iam", "eu-central-1"))
    _assert_same([b"v0", b"v1", b"v2"], got)
    assert ("OAUTHBEARER", AWS_KEY_ID) in secured.proxy.authenticated


def test_eventhubs_entra_settings_connect(secured: Secured) -> None:
    """eventhubs, auth entra: SASL_SSL OAUTHBEARER with a token from the credential
    produces and consumes (server side: the test's own proxy)."""
    settings = eventhubs.client_settings("shop-prod", "entra", credential=FakeCredential())
    got = _round_trip(secured, settings)
    _assert_same([b"v0", b"v1", b"v2"], got)
    assert ("OAUTHBEARER", "entra-app") in secured.proxy.authenticated


@pytest.mark.parametrize(
    ("name", "settings", "wrong"),
    [
        (
            "confluent-cloud",
            confluent_cloud.client_settings("x:9092", CC_KEY, "wrong-secret-A1"),
            "wrong-secret-A1",
        ),
        (
            "eventhubs",
            eventhubs.connection_string_settings(EH_CONN.replace("Kd93hQ", "WRONG9")),
            "WRONG9",
        ),
        (
            "msk-scram",
            {
                **msk.client_settings("scram", "eu-central-1"),
                "sasl.username": MSK_USER,
                "sasl.password": "wrong-secret-C3",
            },
            "wrong-secret-C3",
        ),
    ],
)
def test_wrong_secret_is_a_clear_authentication_error(
    secured: Secured, name: str, settings: dict[str, object], wrong: str
) -> None:
    """A wrong secret fails with an authentication error that does not show the secret
    (the server side refusing it is the test's own proxy)."""
    before = secured.proxy.failures
    conf = _client_config(settings, secured.certs)
    with pytest.raises(ClusterError) as err:
        probe("target", secured.bootstrap, conf, timeout_s=10)
    message = str(err.value)
    assert message.startswith(f"target ({secured.bootstrap}): authentication failed: "), message
    assert "Invalid username or password" in message
    assert wrong not in message
    assert CC_SECRET not in message and EH_CONN not in message and MSK_PASSWORD not in message
    assert secured.proxy.failures > before


def test_wrong_ca_fails_certificate_verification(secured: Secured, tmp_path: Path) -> None:
    """A CA that did not sign the proxy's certificate fails TLS verification."""
    other = make_certificates(tmp_path / "other")
    conf = _client_config(
        confluent_cloud.client_settings(secured.bootstrap, CC_KEY, CC_SECRET), other
    )
    with pytest.raises(ClusterError, match="TLS failed: .*certificate verify failed"):
        probe("target", secured.bootstrap, conf, timeout_s=10)


def test_probe_succeeds_through_the_proxy(secured: Secured) -> None:
    """The probe reads Metadata through TLS + SASL (server side: the test's own proxy)."""
    conf = _client_config(
        confluent_cloud.client_settings(secured.bootstrap, CC_KEY, CC_SECRET), secured.certs
    )
    info = probe("target", secured.bootstrap, conf, timeout_s=10)
    assert info.broker_count == 1

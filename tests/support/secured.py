"""A broker reachable only through the tests' TLS + SASL proxy (:mod:`support.auth_proxy`),
with the credentials each managed target's settings present to it.  Test modules import
the module-scoped ``secured`` fixture from here."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import pytest
from azure.core.credentials import AccessToken

from kmigrate.adapters import sandbox
from tests.support.auth_proxy import AuthFailed, AuthProxy, Certificates, make_certificates

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

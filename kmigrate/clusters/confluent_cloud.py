"""Confluent Cloud: client settings (SASL_SSL PLAIN with an API key) and the cluster
type's limits.  Provisioning goes through the Kafka Admin API (the Kafka adapter).

Sources: docs.confluent.io/cloud/current/client-apps/config-client.html (SASL_SSL,
PLAIN, username = API key, password = API secret);
docs.confluent.io/cloud/current/clusters/cluster-types.html (limits).
"""

from __future__ import annotations

from collections.abc import Mapping

from kmigrate.errors import UsageError
from kmigrate.targets.profiles import Fact, profile_for


def client_settings(bootstrap_servers: str, api_key: str, api_secret: str) -> dict[str, object]:
    """librdkafka settings for a Confluent Cloud cluster.

    ``api_key`` / ``api_secret`` are the resolved values of the plan's ``${VAR}``
    references; they go into the client only, never into output.

    Raises:
        UsageError: an empty bootstrap, key or secret (the message names which).
    """
    for name, value in (
        ("bootstrap_servers", bootstrap_servers),
        ("api_key", api_key),
        ("api_secret", api_secret),
    ):
        if not value:
            raise UsageError(f"a confluent-cloud target needs {name}")
    return {
        "bootstrap.servers": bootstrap_servers,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": api_key,
        "sasl.password": api_secret,
    }


def limits(cluster_type: str) -> Mapping[str, Fact[int]]:
    """The declared cluster type's limits (``basic|standard|enterprise|dedicated``).

    Raises:
        UsageError: unknown cluster type.
    """
    return profile_for("confluent-cloud", {"cluster_type": cluster_type}).limits

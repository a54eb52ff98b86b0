"""AWS MSK: discovery (``describe_cluster_v2``), bootstrap per auth, client settings.

boto3 and aws-msk-iam-sasl-signer-python (the ``aws`` extra) are imported only
here, lazily.  Topic provisioning on MSK goes through the Kafka Admin API (the
existing Kafka adapter), not through this module.

Sources:

* ``describe_cluster_v2`` / ``get_bootstrap_brokers``: the botocore ``kafka`` service
  model (docs.aws.amazon.com/msk/1.0/apireference/clusters-clusterarn-bootstrap-brokers.html).
* Ports per auth: docs.aws.amazon.com/msk/latest/developerguide/port-info.html
  (plaintext 9092, TLS 9094, SASL/SCRAM 9096, IAM 9098).
* IAM from Python: github.com/aws/aws-msk-iam-sasl-signer-python (``generate_auth_token``
  returns ``(token, expiry in ms)``); confluent-kafka ``oauth_cb`` must return
  ``(token, expiry in seconds since the epoch)`` (confluent-kafka-python docs, "oauth_cb").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kmigrate.clusters._optional import require
from kmigrate.errors import ClusterError, UsageError
from kmigrate.targets.profiles import TargetProfile, profile_for

if TYPE_CHECKING:
    from kmigrate.clusters.port import Cluster, CrossCheck, Found

AUTHS = ("iam", "scram", "tls", "plaintext")

#: auth -> (get_bootstrap_brokers field, port it uses).
BOOTSTRAP_FIELDS: Mapping[str, tuple[str, int]] = {
    "iam": ("BootstrapBrokerStringSaslIam", 9098),
    "scram": ("BootstrapBrokerStringSaslScram", 9096),
    "tls": ("BootstrapBrokerStringTls", 9094),
    "plaintext": ("BootstrapBrokerString", 9092),
}
#: The same over public access (ports 9198/9196/9194).
PUBLIC_BOOTSTRAP_FIELDS: Mapping[str, tuple[str, int]] = {
    "iam": ("BootstrapBrokerStringPublicSaslIam", 9198),
    "scram": ("BootstrapBrokerStringPublicSaslScram", 9196),
    "tls": ("BootstrapBrokerStringPublicTls", 9194),
}

_EXTRA_MSG = "an MSK target"


@dataclass(frozen=True)
class MskCluster:
    """What ``describe_cluster_v2`` says about a cluster.

    ``cluster_type`` is ``provisioned`` or ``serverless``; ``broker_count`` and
    ``broker_type`` (``kafka.m5.large``...) are None for Serverless; ``kafka_version``
    is None for Serverless.
    """

    arn: str
    name: str
    cluster_type: str
    state: str
    kafka_version: str | None
    broker_count: int | None
    broker_type: str | None

    def facts(self) -> dict[str, object]:
        """The discovered facts, keyed as a plan declares them."""
        out: dict[str, object] = {"cluster_type": self.cluster_type}
        if self.broker_count is not None:
            out["broker_count"] = self.broker_count
        if self.broker_type is not None:
            out["broker_type"] = self.broker_type
        return out


def kafka_client(region: str) -> Any:
    """A boto3 ``kafka`` client for ``region`` (credentials from the usual AWS chain).

    Raises:
        UsageError: boto3 is not installed (``pip install 'kmigrate[aws]'``).
    """
    boto3 = require("boto3", "aws", _EXTRA_MSG)
    return boto3.client("kafka", region_name=region)


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    botocore_exc = require("botocore.exceptions", "aws", _EXTRA_MSG)
    try:
        return fn(**kwargs)
    except botocore_exc.ClientError as exc:
        err = exc.response.get("Error", {})
        raise ClusterError(
            f"MSK {what} failed: {err.get('Code', 'error')}: {err.get('Message', '')}".rstrip()
        ) from None
    except botocore_exc.BotoCoreError as exc:
        raise ClusterError(f"MSK {what} failed: {exc}") from None


def describe(cluster_arn: str, region: str, client: Any = None) -> MskCluster:
    """Describe an MSK cluster; it must be ACTIVE.

    Args:
        cluster_arn: ``arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID``.
        region: AWS region (``eu-central-1``).
        client: a boto3 ``kafka`` client (tests pass one under botocore's Stubber).

    Raises:
        ClusterError: the call failed, or the cluster is not ACTIVE.
        UsageError: boto3 is not installed.
    """
    client = client or kafka_client(region)
    info = _call("DescribeClusterV2", client.describe_cluster_v2, ClusterArn=cluster_arn)[
        "ClusterInfo"
    ]
    ctype = str(info.get("ClusterType", "")).lower()
    state = str(info.get("State", ""))
    provisioned = info.get("Provisioned") or {}
    cluster = MskCluster(
        arn=cluster_arn,
        name=str(info.get("ClusterName", "")),
        cluster_type=ctype,
        state=state,
        kafka_version=(provisioned.get("CurrentBrokerSoftwareInfo") or {}).get("KafkaVersion"),
        broker_count=provisioned.get("NumberOfBrokerNodes"),
        broker_type=(provisioned.get("BrokerNodeGroupInfo") or {}).get("InstanceType"),
    )
    if state != "ACTIVE":
        raise ClusterError(
            f"MSK cluster {cluster.name or cluster_arn} is {state}, not ACTIVE; "
            "wait until it is ACTIVE (aws kafka describe-cluster-v2)"
        )
    if ctype not in ("provisioned", "serverless"):
        raise ClusterError(f"MSK cluster {cluster_arn} has an unknown type {ctype!r}")
    return cluster


def bootstrap_for(
    cluster_arn: str, region: str, auth: str, client: Any = None, *, public: bool = False
) -> str:
    """The bootstrap servers string for ``auth`` (iam 9098, scram 9096, tls 9094, plaintext
    9092; public access 9198/9196/9194).

    Raises:
        UsageError: unknown ``auth``.
        ClusterError: the call failed, or the cluster has no endpoint for that auth
            (it is not enabled on the cluster).
    """
    fields = PUBLIC_BOOTSTRAP_FIELDS if public else BOOTSTRAP_FIELDS
    if auth not in fields:
        raise UsageError(f"MSK auth: expected one of {', '.join(fields)}; found {auth!r}")
    field, port = fields[auth]
    client = client or kafka_client(region)
    out = _call("GetBootstrapBrokers", client.get_bootstrap_brokers, ClusterArn=cluster_arn)
    servers = out.get(field)
    if not servers:
        enabled = sorted(a for a, (f, _p) in fields.items() if out.get(f))
        raise ClusterError(
            f"MSK cluster {cluster_arn} has no {auth} endpoint (port {port}); "
            f"enabled: {', '.join(enabled) or 'none'}"
        )
    return str(servers)


def check_facts(declared: Mapping[str, object], cluster: MskCluster) -> None:
    """Compare the plan's declared ``facts`` with the discovered ones.

    Raises:
        ClusterError: a declared fact disagrees; the message names both values.
    """
    found = cluster.facts()
    wrong = [
        f"facts.{key}: the plan declares {value!r}, the cluster has {found[key]!r}"
        for key, value in sorted(declared.items())
        if key in found and str(value).lower() != str(found[key]).lower()
    ]
    if wrong:
        raise ClusterError(f"MSK cluster {cluster.name or cluster.arn}: " + "; ".join(wrong))


def iam_oauth_cb(
    region: str, generate: Callable[[str], tuple[str, int]] | None = None
) -> Callable[[str | None], tuple[str, float]]:
    """A confluent-kafka ``oauth_cb`` that signs an MSK IAM token for ``region``.

    The signer returns its expiry in milliseconds since the epoch; librdkafka
    wants seconds, so it is divided by 1000 here (the signer README's example passes
    milliseconds through, which is wrong).

    Args:
        region: AWS region of the cluster.
        generate: the token function (default: the real signer's
            ``MSKAuthTokenProvider.generate_auth_token``).

    Raises:
        UsageError: the signer is not installed (``pip install 'kmigrate[aws]'``).
    """
    if generate is None:
        signer = require("aws_msk_iam_sasl_signer.MSKAuthTokenProvider", "aws", _EXTRA_MSG)
        generate = signer.generate_auth_token

    def oauth_cb(_config: str | None) -> tuple[str, float]:
        token, expiry_ms = generate(region)
        return token, expiry_ms / 1000.0

    return oauth_cb


def client_settings(auth: str, region: str) -> dict[str, object]:
    """librdkafka settings for ``auth`` (the user never types them).

    * ``iam``: SASL_SSL, OAUTHBEARER, an ``oauth_cb`` from :func:`iam_oauth_cb`;
    * ``scram``: SASL_SSL, SCRAM-SHA-512 (``sasl.username`` / ``sasl.password`` come
      from the plan's ``config:`` as ``${VAR}`` references);
    * ``tls``: SSL; ``plaintext``: PLAINTEXT.

    Raises:
        UsageError: unknown ``auth``, or the IAM signer is not installed.
    """
    if auth == "iam":
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": iam_oauth_cb(region),
        }
    if auth == "scram":
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"}
    if auth == "tls":
        return {"security.protocol": "SSL"}
    if auth == "plaintext":
        return {"security.protocol": "PLAINTEXT"}
    raise UsageError(f"MSK auth: expected one of {', '.join(AUTHS)}; found {auth!r}")


# --- the registry's entry: data plane + control plane -----------------------------------


class MskPlane:
    """The MSK control plane: discovery through the AWS API, topics through the Kafka
    Admin API (``validate_only`` first, as :class:`~kmigrate.clusters.kafka.KafkaPlane`).

    Attributes:
        cluster_arn, region, auth: from the plan.
        bootstrap_override: the plan's ``bootstrap_servers`` (PrivateLink, tests), or None.
    """

    cluster_type = "msk"

    def __init__(
        self,
        cluster_arn: str,
        region: str,
        auth: str,
        facts: Mapping[str, object],
        bootstrap_override: str | None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        from kmigrate.clusters.kafka import KafkaPlane

        self.cluster_arn = cluster_arn
        self.region = region
        self.auth = auth
        self.facts: Mapping[str, object] = dict(facts)
        self.bootstrap_override = bootstrap_override
        self.kafka = KafkaPlane("msk", facts, settings)

    def profile(self) -> TargetProfile:
        """``msk-provisioned`` or ``msk-serverless`` from ``facts.cluster_type``."""
        return profile_for("msk", self.facts)

    def preflight(self, cluster: Cluster) -> Found:
        """``describe_cluster_v2`` (ACTIVE, type, brokers, Kafka version; declared facts
        checked), ``get_bootstrap_brokers`` for the chosen auth, then a Kafka connection.

        Raises:
            ClusterError: as :func:`describe`, :func:`bootstrap_for`, :func:`check_facts`,
                or the Kafka connection failed.
        """
        client = kafka_client(self.region)
        info = describe(self.cluster_arn, self.region, client)
        check_facts(self.facts, info)
        discovered = bootstrap_for(self.cluster_arn, self.region, self.auth, client)
        rows = [
            ("cluster", f"{info.name} ({info.state})"),
            ("cluster type", info.cluster_type),
            ("brokers", str(info.broker_count or "-")),
            ("broker type", str(info.broker_type or "-")),
            ("Kafka version", str(info.kafka_version or "-")),
            (f"bootstrap ({self.auth})", discovered),
        ]
        if self.bootstrap_override:
            rows.append(("bootstrap used", f"{self.bootstrap_override} (plan override)"))
        from kmigrate.clusters.port import Found

        kafka = self.kafka.preflight(cluster)
        rows += [r for r in kafka.rows if r[0] in ("cluster id", "topics")]
        return Found(rows, info.facts())

    def existing(self, cluster: Cluster) -> dict[str, int]:
        """``{topic: partitions}`` from Metadata."""
        return self.kafka.existing(cluster)

    def provision(self, cluster: Cluster, translations: list[Any]) -> list[Any]:
        """Through the Kafka Admin API, validating first."""
        return self.kafka.provision(cluster, translations)

    def remove(self, cluster: Cluster, name: str) -> str:
        """DeleteTopics through the Kafka Admin API."""
        return self.kafka.remove(cluster, name)

    def cross_check(self, cluster: Cluster, counts: dict[tuple[str, int], int]) -> CrossCheck:
        """Nothing beyond ``verify`` (the Kafka API is this type's data plane)."""
        return self.kafka.cross_check(cluster, counts)


def open_cluster(
    role: str, values: Mapping[str, Any], config: Mapping[str, Any]
) -> tuple[Cluster, MskPlane]:
    """An ``msk`` target: settings for ``auth`` (default ``iam``) plus the plan's
    ``config:``; bootstrap servers from the plan's override, else discovered with
    ``get_bootstrap_brokers`` (an AWS call).

    Raises:
        UsageError: the aws extra is missing, or an unknown auth.
        ClusterError: discovery failed.
    """
    from kmigrate.clusters.kafka import data_plane
    from kmigrate.clusters.registry import librdkafka_settings

    region = str(values["region"])
    arn = str(values["cluster_arn"])
    auth = str(values.get("auth") or "iam")
    override = values.get("bootstrap_servers")
    settings = {**client_settings(auth, region), **config}
    bootstrap = str(override) if override else bootstrap_for(arn, region, auth)
    resolved = librdkafka_settings(settings)
    plane = MskPlane(arn, region, auth, values.get("facts") or {}, override, resolved)
    return data_plane(role, bootstrap, resolved), plane

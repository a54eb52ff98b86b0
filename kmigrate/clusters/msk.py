"""AWS MSK: discovery (``describe_cluster_v2``), bootstrap per auth, client settings.

Also the type's profiles (``msk-provisioned``, ``msk-serverless``) and the translation
rules only MSK needs.  boto3 and aws-msk-iam-sasl-signer-python (the ``aws`` extra) are
imported only here, lazily.  Topic provisioning on MSK goes through the Kafka Admin API (the
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

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from kmigrate.clusters._optional import require
from kmigrate.clusters.kafka import KafkaPlane, data_plane, librdkafka_settings
from kmigrate.clusters.spec import ClusterType
from kmigrate.errors import ClusterError, UsageError
from kmigrate.targets.model import (
    DROPPED,
    NO_DECISION,
    REFUSE,
    REFUSED,
    Decision,
    KeyContext,
    Note,
    TopicTranslation,
    decide,
    opt_int,
    to_int,
)
from kmigrate.targets.profiles import MIB, SRC_KAFKA, Fact, TargetProfile, frozen
from kmigrate.topic_configs import KAFKA_DEFAULTS

if TYPE_CHECKING:
    from kmigrate.clusters.port import Cluster, Found

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


class MskPlane(KafkaPlane):
    """The MSK control plane: discovery through the AWS API, topics through the Kafka
    Admin API (``validate_only`` first, as :class:`~kmigrate.clusters.kafka.KafkaPlane`).

    Attributes:
        cluster_arn, region, auth: from the plan.
        bootstrap_override: the plan's ``bootstrap_servers`` (PrivateLink, tests), or None.
    """

    def __init__(
        self,
        cluster_arn: str,
        region: str,
        auth: str,
        facts: Mapping[str, object],
        bootstrap_override: str | None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(TYPE, facts, settings)
        self.cluster_arn = cluster_arn
        self.region = region
        self.auth = auth
        self.bootstrap_override = bootstrap_override

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

        kafka = super().preflight(cluster)
        rows += [r for r in kafka.rows if r[0] in ("cluster id", "topics")]
        return Found(rows, info.facts())


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
    region = str(values["region"])
    arn = str(values["cluster_arn"])
    auth = str(values.get("auth") or "iam")
    override = values.get("bootstrap_servers")
    settings = {**client_settings(auth, region), **config}
    bootstrap = str(override) if override else bootstrap_for(arn, region, auth)
    resolved = librdkafka_settings(settings)
    plane = MskPlane(arn, region, auth, values.get("facts") or {}, override, resolved)
    return data_plane(role, bootstrap, resolved), plane


# --- the type: its profiles and the rules only MSK needs ----------------------------------


def msk_serverless_keys(
    key: str, value: str, ctx: KeyContext
) -> tuple[Decision | None, list[Note]]:
    """MSK Serverless sets only seven topic configs (cleanup.policy, compression.type,
    max.message.bytes, message.timestamp.difference.max.ms, message.timestamp.type,
    retention.bytes, retention.ms); ``segment.bytes`` is refused, ``max.message.bytes``
    above 8 MiB is refused, any other key is dropped.

    Source: docs.aws.amazon.com/msk/latest/developerguide/serverless-config.html.
    """
    src = ctx.profile.settable_source
    if key == "segment.bytes":
        reason = f"MSK Serverless refuses segment.bytes ({src})"
        return decide(msk_serverless_keys, key, value, None, REFUSED, reason), []
    limit = ctx.profile.limit("max_message_bytes")
    if key == "max.message.bytes" and limit is not None and to_int(value) > limit.value:
        reason = (
            f"MSK Serverless allows max.message.bytes up to {limit.value} bytes ({limit.source})"
        )
        return decide(msk_serverless_keys, key, value, None, REFUSED, reason), []
    if ctx.profile.settable is not None and key not in ctx.profile.settable:
        reason = f"MSK Serverless sets only {len(ctx.profile.settable)} topic configs ({src})"
        return decide(msk_serverless_keys, key, value, None, DROPPED, reason), []
    return NO_DECISION


def replication_factor_msk_provisioned(
    source_rf: int,
    profile: TargetProfile,
    facts: Mapping[str, object],
    configs: Mapping[str, str],
    wanted: int | None = None,
) -> tuple[int | None, str, list[Note]]:
    """MSK Provisioned: RF = min(the plan's or the source's RF (3 when unknown), brokers);
    a warning when RF <= min.insync.replicas (MSK's default is 2 on a 3-AZ cluster):
    at RF == min.insync.replicas one broker down stops ``acks=all`` producers, below it
    they cannot write at all.

    Source: docs.aws.amazon.com/msk/latest/developerguide/msk-default-configuration.html
    (default.replication.factor 3, min.insync.replicas 2) and bestpractices.html.
    """
    default = profile.limit("replication_factor_default")
    base = wanted or source_rf or (default.value if default else 3)
    origin = "the plan's" if wanted else "the source's" if source_rf else "MSK's default"
    brokers = opt_int(facts.get("broker_count"))
    rf = base if brokers is None else min(base, brokers)
    reason = f"{origin} replication factor {base}"
    if rf < base:
        reason += f", capped at the target's {brokers} brokers"
    min_isr = int(
        configs.get("min.insync.replicas", profile.defaults.get("min.insync.replicas", "1"))
    )
    notes = []
    if rf <= min_isr:
        effect = (
            "acks=all producers cannot write"
            if rf < min_isr
            else "one broker down stops acks=all producers"
        )
        notes.append(
            Note(
                f"replication factor {rf} <= min.insync.replicas {min_isr}: {effect} "
                f"({SRC_MSK_DEFAULTS})",
                replication_factor_msk_provisioned.__name__,
            )
        )
    return rf, reason, notes


def msk_partition_guidance(
    topics: list[TopicTranslation],
    profile: TargetProfile,
    facts: Mapping[str, object],
    existing_count: int = 0,
) -> list[Note]:
    """MSK Provisioned: a warning when partitions x RF / brokers exceeds AWS's guidance
    for the broker size (kafka.t3.small 300; m5/m7g large-xlarge 1000; 2xlarge 2000;
    4xlarge and up 4000 partition replicas per broker).  Needs ``broker_count`` and
    ``broker_type`` facts; ``existing_count`` (topics already there) is not needed.

    Source: docs.aws.amazon.com/msk/latest/developerguide/bestpractices.html.
    """
    brokers = opt_int(facts.get("broker_count"))
    guidance = MSK_PARTITIONS_PER_BROKER.get(str(facts.get("broker_type", "")))
    if not brokers or guidance is None:
        return []
    replicas = sum(t.partitions * (t.replication_factor or 1) for t in topics if t.action != REFUSE)
    replicas += opt_int(facts.get("existing_partition_replicas")) or 0
    per_broker = math.ceil(replicas / brokers)
    if per_broker <= guidance.value:
        return []
    return [
        Note(
            f"{per_broker} partition replicas per broker is above AWS's guidance of "
            f"{guidance.value} for {facts.get('broker_type')} ({SRC_MSK_GUIDANCE})",
            msk_partition_guidance.__name__,
        )
    ]


SRC_MSK_DEFAULTS = "docs.aws.amazon.com/msk/latest/developerguide/msk-default-configuration.html"
SRC_MSK_GUIDANCE = (
    "docs.aws.amazon.com/msk/latest/developerguide/bestpractices.html "
    "(right-size your cluster: number of partitions per broker)"
)
SRC_MSK_SERVERLESS = "docs.aws.amazon.com/msk/latest/developerguide/serverless-config.html"
SRC_MSK_SERVERLESS_QUOTA = (
    "docs.aws.amazon.com/msk/latest/developerguide/limits.html (serverless quota)"
)


#: MSK Provisioned partition guidance: broker instance size -> partitions per broker
#: (leaders and followers).  Source: :data:`SRC_MSK_GUIDANCE`.
MSK_PARTITIONS_PER_BROKER: Mapping[str, Fact[int]] = MappingProxyType(
    {
        "kafka.t3.small": Fact(300, SRC_MSK_GUIDANCE),
        "kafka.m5.large": Fact(1000, SRC_MSK_GUIDANCE),
        "kafka.m5.xlarge": Fact(1000, SRC_MSK_GUIDANCE),
        "kafka.m7g.large": Fact(1000, SRC_MSK_GUIDANCE),
        "kafka.m7g.xlarge": Fact(1000, SRC_MSK_GUIDANCE),
        "kafka.m5.2xlarge": Fact(2000, SRC_MSK_GUIDANCE),
        "kafka.m7g.2xlarge": Fact(2000, SRC_MSK_GUIDANCE),
        "kafka.m5.4xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m7g.4xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m5.8xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m7g.8xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m5.12xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m7g.12xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m5.16xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m7g.16xlarge": Fact(4000, SRC_MSK_GUIDANCE),
        "kafka.m5.24xlarge": Fact(4000, SRC_MSK_GUIDANCE),
    }
)


#: MSK Serverless: the only topic configs a client may set.  Source: :data:`SRC_MSK_SERVERLESS`.
MSK_SERVERLESS_KEYS = frozenset(
    {
        "cleanup.policy",
        "compression.type",
        "max.message.bytes",
        "message.timestamp.difference.max.ms",
        "message.timestamp.type",
        "retention.bytes",
        "retention.ms",
    }
)


_MSK_PROVISIONED = TargetProfile(
    name="msk-provisioned",
    family="msk",
    defaults=frozen({**KAFKA_DEFAULTS, "min.insync.replicas": "2"}),
    defaults_source=f"{SRC_KAFKA}; MSK overrides: {SRC_MSK_DEFAULTS} (3-AZ cluster)",
    limits=MappingProxyType({"replication_factor_default": Fact(3, SRC_MSK_DEFAULTS)}),
    kafka_endpoint=Fact(True, SRC_MSK_DEFAULTS),
    replication_rule=replication_factor_msk_provisioned,
    selection_rules=(msk_partition_guidance,),
    broker_counted=True,
)


_MSK_SERVERLESS = TargetProfile(
    name="msk-serverless",
    family="msk",
    defaults=frozen({**KAFKA_DEFAULTS, "retention.bytes": str(250 * 1024 * MIB)}),
    defaults_source=f"{SRC_KAFKA}; {SRC_MSK_SERVERLESS_QUOTA} (retention.bytes 250 GiB)",
    settable=MSK_SERVERLESS_KEYS,
    settable_source=SRC_MSK_SERVERLESS,
    limits=MappingProxyType(
        {
            "max_message_bytes": Fact(8 * MIB, SRC_MSK_SERVERLESS),
            "partitions_per_cluster": Fact(120, SRC_MSK_SERVERLESS_QUOTA),
            "replication_factor": Fact(3, SRC_MSK_SERVERLESS),
        }
    ),
    kafka_endpoint=Fact(True, SRC_MSK_SERVERLESS),
    key_rules=(msk_serverless_keys,),
    broker_counted=True,
)


def _scram_needs_credentials(spec: Any) -> list[tuple[str, str]]:
    """``auth: scram`` takes its user and password from ``config:`` (references)."""
    if (spec.auth or "iam") != "scram":
        return []
    missing = [k for k in ("sasl.username", "sasl.password") if k not in spec.config]
    if not missing:
        return []
    return [("config", f"auth: scram needs {' and '.join(missing)} under config (references)")]


def _named_by(spec: Any, bootstrap: str | None) -> str:
    """The cluster ARN, and the plan's bootstrap servers when it overrides discovery."""
    return str(spec.cluster_arn) + (f" via {bootstrap}" if bootstrap else "")


#: The ``msk`` type: ``region``, ``cluster_arn``, ``auth`` (default ``iam``), optional
#: ``bootstrap_servers`` (overrides discovery); a target only.
TYPE = ClusterType(
    "msk",
    ("region", "cluster_arn"),
    ("auth", "bootstrap_servers"),
    choices={"auth": AUTHS},
    extra="aws",
    profiles={"provisioned": _MSK_PROVISIONED, "serverless": _MSK_SERVERLESS},
    facts_key="cluster_type",
    checks=_scram_needs_credentials,
    named_by=_named_by,
)

"""MirrorMaker 2's connector configs rendered for where they run: the Connect REST
API's JSON bodies, a Strimzi ``KafkaMirrorMaker2`` resource, and MSK Connect
``create_connector`` requests (the configs come from :mod:`.config`)."""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, replace
from typing import Any

import yaml

from kmigrate.engines.mirrormaker2.config import (
    Mm2Options,
    NotRenderable,
    checkpoint_connector,
    client_security,
    common_config,
    connect_reference,
    connectors,
    source_connector,
)
from kmigrate.engines.mirrormaker2.spec import Mm2Plan
from kmigrate.errors import UsageError
from kmigrate.redact import REFERENCE


def render_connect_rest(plan: Mm2Plan, opts: Mm2Options) -> str:
    """A JSON list of ``{"name", "config"}``: each item is the body of
    ``POST /connectors`` (Kafka docs, "Kafka Connect REST Interface").  Secrets are
    ``${env:VAR}`` / ``${directory:DIR:FILE}`` references: the workers need
    ``config.providers`` for ``env`` and ``directory`` (KIP-297) and the variables."""
    items = []
    for config in connectors(plan, opts):
        config = dict(config)
        items.append({"name": config.pop("name"), "config": config})
    return json.dumps(items, indent=2) + "\n"


def _secret_ref(value: str, secret: str) -> tuple[str, str]:
    """(Kubernetes Secret name, key) for a kmigrate reference: the key is the variable
    name or the file's base name."""
    match = REFERENCE.fullmatch(value)
    if not match:
        raise UsageError(f"expected a ${{ENV_VAR}} or ${{file:path}} reference; found {value!r}")
    return secret, match.group("var") or posixpath.basename(match.group("file"))


def _strimzi_cluster(plan: Mm2Plan, role: str, alias: str, secret: str, needed: list[str]) -> dict:
    sec = client_security(getattr(plan.clusters, role), role)
    cluster: dict[str, Any] = {"alias": alias, "bootstrapServers": sec.bootstrap, "config": {}}
    if sec.iam:
        raise NotRenderable(
            ("clusters", role, "auth"),
            "MSK IAM authentication is not rendered for Strimzi "
            "(Strimzi's KafkaMirrorMaker2 has no IAM authentication type)",
        )
    if sec.mechanism:
        name, key = _secret_ref(sec.password, secret)
        needed.append(f"{name}/{key}")
        if REFERENCE.search(sec.username):
            raise NotRenderable(
                ("clusters", role, "config", "sasl.username"),
                "Strimzi takes a literal user name; found a reference",
            )
        cluster["authentication"] = {
            "type": sec.mechanism.lower(),
            "username": sec.username,
            "passwordSecret": {"secretName": name, "password": key},
        }
    if sec.protocol in ("SSL", "SASL_SSL"):
        tls: dict[str, Any] = {}
        if sec.ca_location:
            cert = posixpath.basename(sec.ca_location)
            tls["trustedCertificates"] = [{"secretName": f"{secret}-ca", "certificate": cert}]
            needed.append(f"{secret}-ca/{cert}")
        cluster["tls"] = tls
    cluster["config"].update(sec.extra)
    if role == "target":
        cluster["config"].update(
            {
                "config.storage.replication.factor": -1,
                "offset.storage.replication.factor": -1,
                "status.storage.replication.factor": -1,
            }
        )
    return cluster


def render_strimzi(plan: Mm2Plan, opts: Mm2Options, *, replicas: int = 2) -> str:
    """A Strimzi ``KafkaMirrorMaker2`` resource (``kafka.strimzi.io/v1beta2``; Strimzi
    docs, "KafkaMirrorMaker2 schema reference"), as YAML with a header comment listing
    the Secrets it reads.

    Strimzi's operator writes the client security settings from ``authentication``
    and ``tls`` (it refuses ``ssl.``, ``sasl.`` and ``security.`` keys in a
    cluster's ``config``): a password reference ``${VAR}`` becomes the key ``VAR`` of
    the Secret ``PLANNAME-ALIAS``, a CA file the key of ``PLANNAME-ALIAS-ca``.
    ``connectCluster`` is the target alias (MM2 on Connect writes through the
    Connect cluster's Kafka); replication factors -1 take the broker's default (KIP-605).
    """
    needed: list[str] = []
    opts = replace(opts, producer_override=False)
    base = re.sub(r"[^a-z0-9-]", "-", plan.name.lower()).strip("-") or "kmigrate"
    clusters = [
        _strimzi_cluster(plan, "source", opts.source_alias, f"{base}-{opts.source_alias}", needed),
        _strimzi_cluster(plan, "target", opts.target_alias, f"{base}-{opts.target_alias}", needed),
    ]
    if opts.exactly_once:
        clusters[1]["config"]["exactly.once.source.support"] = "enabled"
    skip = {"name", "connector.class", "tasks.max", "topics", "topics.exclude"}
    skip |= {k for k in common_config(plan, opts, connect_reference) if ".cluster." in k}
    skip |= {"source.cluster.alias", "target.cluster.alias"}
    source = source_connector(plan, opts)
    mirror: dict[str, Any] = {
        "sourceCluster": opts.source_alias,
        "targetCluster": opts.target_alias,
        "topicsPattern": "|".join(source["topics"].split(",")),
        "topicsExcludePattern": "|".join(source["topics.exclude"].split(",")),
        "sourceConnector": {
            "tasksMax": opts.tasks_max,
            "config": {k: v for k, v in source.items() if k not in skip},
        },
    }
    if opts.checkpoints:
        check = checkpoint_connector(plan, opts)
        mirror["groupsPattern"] = "|".join(check["groups"].split(","))
        mirror["groupsExcludePattern"] = "|".join(check["groups.exclude"].split(","))
        mirror["checkpointConnector"] = {
            "tasksMax": 1,
            "config": {
                k: v
                for k, v in check.items()
                if k not in skip and k not in ("groups", "groups.exclude")
            },
        }
    resource = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaMirrorMaker2",
        "metadata": {"name": base},
        "spec": {
            "replicas": replicas,
            "connectCluster": opts.target_alias,
            "clusters": clusters,
            "mirrors": [mirror],
        },
    }
    header = [
        f"# KafkaMirrorMaker2 for plan {plan.name!r}, written by kmigrate mm2-config.",
        "# Secrets it reads (create them in the resource's namespace; values never here):",
        *(f"#   {item}" for item in needed or ["(none)"]),
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(resource, sort_keys=False)


@dataclass(frozen=True)
class MskConnectOptions:
    """What an MSK Connect connector needs besides the configs (MSK Connect API,
    ``CreateConnector``; docs.aws.amazon.com/MSKC/latest/mskc/API_CreateConnector.html).

    ``plugin_arn``: a custom plugin holding ``connect-mirror`` (MSK Connect has no
    built-in MM2 plugin).  ``secret_id``: the AWS Secrets Manager secret whose keys
    hold the plan's secrets (the variable names); the worker configuration
    ``worker_configuration_arn`` must define the ``secretsmanager`` config provider
    (MSK docs, "Tutorial: Externalizing sensitive information using config providers").
    """

    role_arn: str
    plugin_arn: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...] = ()
    plugin_revision: int = 1
    kafka_connect_version: str = "3.7.x"
    workers: int = 2
    mcu_count: int = 1
    secret_id: str = "kmigrate"
    worker_configuration_arn: str = ""
    worker_configuration_revision: int = 1


def msk_connect_base(plan: Mm2Plan, msk: MskConnectOptions) -> dict[str, Any]:
    """The part of every ``create_connector`` request that is MSK Connect's, not the
    connector's: version, capacity, the target as ``kafkaCluster`` (its bootstrap
    servers and VPC), authentication and encryption to it, the custom plugin, the
    service execution role and the worker configuration.  MSK Connect's workers talk
    to the target with IAM or no authentication only
    (``kafkaClusterClientAuthentication``: NONE or IAM in the service model).

    Raises:
        NotRenderable: the target is not reachable that way (SASL/SCRAM or PLAIN).
    """
    target = client_security(plan.clusters.target, "target")
    if target.mechanism and not target.iam:
        raise NotRenderable(
            ("clusters", "target"),
            "MSK Connect's workers reach the Kafka cluster with IAM or no authentication "
            f"only; the plan's target uses SASL {target.mechanism}",
        )
    base: dict[str, Any] = {
        "kafkaConnectVersion": msk.kafka_connect_version,
        "capacity": {
            "provisionedCapacity": {"mcuCount": msk.mcu_count, "workerCount": msk.workers}
        },
        "kafkaCluster": {
            "apacheKafkaCluster": {
                "bootstrapServers": target.bootstrap,
                "vpc": {"subnets": list(msk.subnets), "securityGroups": list(msk.security_groups)},
            }
        },
        "kafkaClusterClientAuthentication": {"authenticationType": "IAM" if target.iam else "NONE"},
        "kafkaClusterEncryptionInTransit": {
            "encryptionType": "TLS" if target.protocol in ("SSL", "SASL_SSL") else "PLAINTEXT"
        },
        "plugins": [
            {"customPlugin": {"customPluginArn": msk.plugin_arn, "revision": msk.plugin_revision}}
        ],
        "serviceExecutionRoleArn": msk.role_arn,
    }
    if msk.worker_configuration_arn:
        base["workerConfiguration"] = {
            "workerConfigurationArn": msk.worker_configuration_arn,
            "revision": msk.worker_configuration_revision,
        }
    return base


def msk_connect_request(plan: Mm2Plan, opts: Mm2Options, msk: MskConnectOptions) -> list[dict]:
    """One boto3 ``kafkaconnect.create_connector`` request (keyword arguments) per
    connector: :func:`msk_connect_base` with the connector's name, description and
    config, where a secret is ``${secretsmanager:SECRET_ID:KEY}``.

    Raises:
        NotRenderable: the target is not reachable from MSK Connect (SASL/SCRAM or PLAIN).
    """
    base = msk_connect_base(plan, msk)

    def ref(value: str) -> str:
        def one(match: re.Match[str]) -> str:
            key = match.group("var") or posixpath.basename(match.group("file"))
            return f"${{secretsmanager:{msk.secret_id}:{key}}}"

        return REFERENCE.sub(one, value)

    requests = []
    for config in connectors(plan, replace(opts, producer_override=False), ref):
        config = dict(config)
        name = config.pop("name")
        requests.append(
            {
                "connectorName": name,
                "connectorDescription": f"kmigrate plan {plan.name}: MirrorMaker 2 ({name})",
                **base,
                "connectorConfiguration": config,
            }
        )
    return requests


def render_msk_connect(plan: Mm2Plan, opts: Mm2Options, msk: MskConnectOptions) -> str:
    """:func:`msk_connect_request` as JSON (a list of requests)."""
    return json.dumps(msk_connect_request(plan, opts, msk), indent=2) + "\n"

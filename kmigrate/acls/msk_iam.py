"""MSK with IAM access control: Kafka ACL bindings become IAM policy documents.

An MSK cluster with IAM authentication ignores Kafka ACLs; what a client may do
is decided by the IAM policies attached to its role or user, in
``kafka-cluster:*`` actions on cluster, topic, group and transactional-id ARNs.
This module writes one policy document per target principal (an IAM role, user
or group ARN) for the operator's IaC; it creates nothing in AWS.

Source of every fact here: the AWS MSK IAM access-control page,
https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html,
and its "Semantics of IAM authorization policy actions and resources" tables
(https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html): each
action is described there as "equivalent to Apache Kafka's OPERATION RESOURCE
ACL" (:data:`ACTIONS`); resource ARNs are
``arn:aws:kafka:REGION:ACCOUNT:topic/CLUSTER_NAME/CLUSTER_UUID/TOPIC`` (and
``group/``, ``transactional-id/``; the cluster's own ARN for cluster actions),
and ``*`` may stand anywhere after ``:topic/`` etc.  Every action needs
``kafka-cluster:Connect`` on the cluster ("Required actions" column).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kmigrate.acls.decisions import (
    CONVERTED,
    REFUSED,
    AclDecision,
    AclTranslation,
    decide,
    rule,
    translate_each,
)
from kmigrate.acls.model import (
    WILDCARD,
    AclBinding,
    AclInputError,
    Operation,
    PatternType,
    Permission,
    ResourceType,
)
from kmigrate.acls.principals import PrincipalMap

MSK_IAM_PAGE = "https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html"
ACTIONS_PAGE = "https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html"
IAM_EVALUATION_PAGE = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"
)
IAM_QUOTAS_PAGE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
KAFKA_IMPLIES = (
    "apache/kafka metadata/src/main/java/org/apache/kafka/metadata/authorizer/"
    "StandardAuthorizerData.java (IMPLIES_DESCRIBE, IMPLIES_DESCRIBE_CONFIGS)"
)
KIP_679 = (
    "https://cwiki.apache.org/confluence/display/KAFKA/"
    "KIP-679%3A+Producer+will+enable+the+strongest+delivery+guarantee+by+default"
)
#: The IAM policy language version every document uses.
POLICY_VERSION = "2012-10-17"
#: A customer managed policy holds at most 6,144 characters, whitespace not counted
#: (IAM quotas page); a larger document gets a warning.
MANAGED_POLICY_MAX_CHARS = 6144
CONNECT = "kafka-cluster:Connect"

_T, _G, _C, _X = (
    ResourceType.TOPIC,
    ResourceType.GROUP,
    ResourceType.CLUSTER,
    ResourceType.TRANSACTIONAL_ID,
)
_O = Operation

#: (Kafka resource type, operation) -> (IAM resource kind, ``kafka-cluster`` action), from
#: the "Authorization policy actions" table of kafka-actions.html.  CLUSTER CREATE is
#: CreateTopic on every topic ("equivalent to Apache Kafka's CREATE CLUSTER/TOPIC ACL").
ACTIONS: dict[tuple[ResourceType, Operation], tuple[str, str]] = {
    (_C, _O.DESCRIBE): ("cluster", "DescribeCluster"),
    (_C, _O.ALTER): ("cluster", "AlterCluster"),
    (_C, _O.DESCRIBE_CONFIGS): ("cluster", "DescribeClusterDynamicConfiguration"),
    (_C, _O.ALTER_CONFIGS): ("cluster", "AlterClusterDynamicConfiguration"),
    (_C, _O.IDEMPOTENT_WRITE): ("cluster", "WriteDataIdempotently"),
    (_C, _O.CREATE): ("topic", "CreateTopic"),
    (_T, _O.CREATE): ("topic", "CreateTopic"),
    (_T, _O.DESCRIBE): ("topic", "DescribeTopic"),
    (_T, _O.ALTER): ("topic", "AlterTopic"),
    (_T, _O.DELETE): ("topic", "DeleteTopic"),
    (_T, _O.DESCRIBE_CONFIGS): ("topic", "DescribeTopicDynamicConfiguration"),
    (_T, _O.ALTER_CONFIGS): ("topic", "AlterTopicDynamicConfiguration"),
    (_T, _O.READ): ("topic", "ReadData"),
    (_T, _O.WRITE): ("topic", "WriteData"),
    (_G, _O.DESCRIBE): ("group", "DescribeGroup"),
    (_G, _O.READ): ("group", "AlterGroup"),
    (_G, _O.DELETE): ("group", "DeleteGroup"),
    (_X, _O.DESCRIBE): ("transactional-id", "DescribeTransactionalId"),
    (_X, _O.WRITE): ("transactional-id", "AlterTransactionalId"),
}

#: Operations an ALLOW binding implies in Kafka's authorizer (``KAFKA_IMPLIES``): READ,
#: WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS.  IAM
#: implies nothing, so the implied action is granted explicitly.
IMPLIED: dict[Operation, Operation] = {
    _O.READ: _O.DESCRIBE,
    _O.WRITE: _O.DESCRIBE,
    _O.DELETE: _O.DESCRIBE,
    _O.ALTER: _O.DESCRIBE,
    _O.ALTER_CONFIGS: _O.DESCRIBE_CONFIGS,
}

MSK_IAM_ACTIONS = rule(
    "msk_iam_actions",
    "An ALLOW binding becomes an Allow statement with the `kafka-cluster` action AWS names "
    "as its equivalent (READ TOPIC -> ReadData, READ GROUP -> AlterGroup, WRITE "
    "TRANSACTIONAL_ID -> AlterTransactionalId, CREATE CLUSTER -> CreateTopic on every "
    "topic, ...), plus the actions Kafka implies (READ/WRITE/DELETE/ALTER -> DESCRIBE, "
    "ALTER_CONFIGS -> DESCRIBE_CONFIGS; WRITE on a topic -> WriteDataIdempotently on the "
    "cluster, as Kafka lets WRITE on any topic produce idempotently, the default of Kafka "
    "3.x clients), ALL as every action of the resource, and `kafka-cluster:Connect` on the "
    "cluster.",
    f"{ACTIONS_PAGE} (the {MSK_IAM_PAGE} tables) ; {KAFKA_IMPLIES} ; {KIP_679}",
)
MSK_IAM_DENY = rule(
    "msk_iam_deny",
    "A DENY binding becomes a Deny statement with the same actions (none implied): in IAM, "
    "as in Kafka, an explicit deny wins over any allow.",
    f"{IAM_EVALUATION_PAGE} ; {ACTIONS_PAGE}",
)
MSK_IAM_RESOURCE = rule(
    "msk_iam_resource",
    "The resource becomes an ARN built from the cluster ARN "
    "(arn:aws:kafka:REGION:ACCOUNT:topic/CLUSTER_NAME/CLUSTER_UUID/NAME); a PREFIXED name "
    "gets a trailing `*`, the LITERAL `*` stays `*`; a name that itself holds `*` or `?` "
    "is refused (IAM would read it as a wildcard).",
    f"{ACTIONS_PAGE} (Authorization policy resources)",
)
MSK_IAM_NO_EQUIVALENT = rule(
    "msk_iam_no_equivalent",
    "An operation with no `kafka-cluster` action is refused by name: CLUSTER_ACTION (the "
    "brokers' own requests) and any operation the resource type does not have.",
    ACTIONS_PAGE,
)
MSK_IAM_HOST = rule(
    "msk_iam_host",
    "A binding limited to a host other than `*` is refused: MSK's IAM actions have no host, "
    "so the statement would apply from everywhere.",
    f"{ACTIONS_PAGE} (actions and resources carry no client host)",
)
MSK_IAM_PRINCIPAL = rule(
    "msk_iam_principal",
    "The mapped principal must be an IAM role, user or group ARN "
    "(arn:aws:iam::ACCOUNT:role/NAME): the policy is written for it.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html",
)

_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user|group)/\S+$")
_CLUSTER_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):kafka:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"cluster/(?P<name>[^/]+)/(?P<uuid>[^/]+)$"
)


@dataclass(frozen=True)
class MskCluster:
    """An MSK cluster's ARN parts: ``arn:PARTITION:kafka:REGION:ACCOUNT:cluster/NAME/UUID``."""

    arn: str
    partition: str
    region: str
    account: str
    name: str
    uuid: str

    @classmethod
    def parse(cls, arn: str, key: str = "clusters.target.cluster_arn") -> MskCluster:
        """Split a cluster ARN (the one preflight discovered or the plan declares).

        Raises:
            AclInputError: not an MSK cluster ARN (``key`` named).
        """
        m = _CLUSTER_ARN.match(arn or "")
        if not m:
            raise AclInputError(
                key,
                "expected an MSK cluster ARN arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID, "
                f"found {arn!r}",
            )
        return cls(arn, **m.groupdict())

    def resource_arn(self, kind: str, pattern: str) -> str:
        """The ARN of a ``topic``, ``group`` or ``transactional-id`` resource (``pattern``
        may end in ``*``), or the cluster's own ARN for ``cluster``."""
        if kind == "cluster":
            return self.arn
        return (
            f"arn:{self.partition}:kafka:{self.region}:{self.account}:"
            f"{kind}/{self.name}/{self.uuid}/{pattern}"
        )


def _operations(binding: AclBinding) -> list[tuple[ResourceType, Operation]]:
    """The (resource type, operation) pairs a binding grants or denies, expanded: ALL as
    every operation of its resource type, and for ALLOW the operations Kafka implies
    (:data:`IMPLIED`; WRITE on a topic also IDEMPOTENT_WRITE on the cluster, KIP-679)."""
    rt = binding.resource_type
    if binding.operation is Operation.ALL:
        ops = [op for (t, op) in ACTIONS if t is rt]
    else:
        ops = [binding.operation]
        implied = IMPLIED.get(binding.operation)
        if binding.permission is Permission.ALLOW and implied and (rt, implied) in ACTIONS:
            ops.append(implied)
    pairs = [(rt, op) for op in ops]
    if binding.permission is Permission.ALLOW and rt is _T and _O.WRITE in ops:
        pairs.append((_C, _O.IDEMPOTENT_WRITE))
    return pairs


def _pattern(binding: AclBinding) -> str | None:
    """The ARN's last part for the binding's resource, or None when its name holds a wildcard."""
    if binding.resource_type is ResourceType.CLUSTER or binding.is_wildcard:
        return WILDCARD
    if "*" in binding.name or "?" in binding.name:
        return None
    return binding.name + ("*" if binding.pattern_type is PatternType.PREFIXED else "")


def translate(
    bindings: Iterable[AclBinding], principals: PrincipalMap, cluster: MskCluster
) -> AclTranslation:
    """Decide every binding for an MSK cluster with IAM access control.

    A converted decision's ``target`` is ``{"effect": "Allow"|"Deny", "statements":
    [{"actions": [...], "resource": ARN}]}``; :func:`policies` gathers them per principal.
    """

    def one(binding: AclBinding, mapped: str) -> AclDecision:
        if not _PRINCIPAL_ARN.match(mapped):
            return decide(
                binding,
                REFUSED,
                MSK_IAM_PRINCIPAL,
                f"{binding.principal} is mapped to {mapped!r}, not an IAM role, user or group ARN",
                mapped,
            )
        if binding.host != WILDCARD:
            return decide(
                binding,
                REFUSED,
                MSK_IAM_HOST,
                f"host {binding.host}: an IAM policy cannot limit a client's address this way",
                mapped,
            )
        pairs = _operations(binding)
        if not pairs or any(p not in ACTIONS for p in pairs):
            return decide(
                binding,
                REFUSED,
                MSK_IAM_NO_EQUIVALENT,
                f"{binding.operation} on {binding.resource_type} has no kafka-cluster action",
                mapped,
            )
        pattern = _pattern(binding)
        if pattern is None:
            return decide(
                binding,
                REFUSED,
                MSK_IAM_RESOURCE,
                f"the name {binding.name!r} holds '*' or '?', which an IAM ARN reads as a wildcard",
                mapped,
            )
        by_resource: dict[str, set[str]] = defaultdict(set)
        for pair in pairs:
            kind, action = ACTIONS[pair]
            by_resource[cluster.resource_arn(kind, pattern)].add(f"kafka-cluster:{action}")
        statements = [
            {"actions": sorted(actions), "resource": arn}
            for arn, actions in sorted(by_resource.items())
        ]
        deny = binding.permission is Permission.DENY
        names = ", ".join(a for s in statements for a in s["actions"])
        if binding.operation is Operation.ALL and binding.resource_type is ResourceType.CLUSTER:
            names += " (CLUSTER_ACTION, the brokers' own requests, has no action: not included)"
        return decide(
            binding,
            CONVERTED,
            MSK_IAM_DENY if deny else MSK_IAM_ACTIONS,
            f"{'Deny' if deny else 'Allow'} {names} for {mapped}",
            mapped,
            {"effect": "Deny" if deny else "Allow", "statements": statements},
        )

    return translate_each("msk-iam", bindings, principals, one)


@dataclass
class IamPolicies:
    """One IAM policy document per target principal ARN, and warnings about them."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"policies": {principal_arn: document}, "warnings": [...]}``."""
        return {"policies": self.documents, "warnings": self.warnings}


def policies(translation: AclTranslation, cluster: MskCluster) -> IamPolicies:
    """Gather the converted decisions into one policy document per principal.

    Each document: ``Connect`` on the cluster (when it allows anything), then one
    statement per (effect, action set) with its resources sorted; Allow before Deny.
    A document above :data:`MANAGED_POLICY_MAX_CHARS` characters (whitespace not
    counted) gets a warning: split it or attach it inline (IAM quotas page).
    """
    grouped: dict[str, dict[tuple[str, tuple[str, ...]], set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for d in translation.decisions:
        if d.decision != CONVERTED or d.target is None or d.target_principal is None:
            continue
        for st in d.target["statements"]:
            grouped[d.target_principal][(d.target["effect"], tuple(st["actions"]))].add(
                st["resource"]
            )
    out = IamPolicies()
    for principal in sorted(grouped):
        statements: list[dict[str, Any]] = []
        keys = sorted(grouped[principal], key=lambda k: (k[0] != "Allow", k))
        if any(effect == "Allow" for effect, _ in keys):
            statements.append(
                {
                    "Sid": "Connect",
                    "Effect": "Allow",
                    "Action": [CONNECT],
                    "Resource": [cluster.arn],
                }
            )
        for n, (effect, actions) in enumerate(keys, 1):
            statements.append(
                {
                    "Sid": f"{effect}{n}",
                    "Effect": effect,
                    "Action": list(actions),
                    "Resource": sorted(grouped[principal][(effect, actions)]),
                }
            )
        doc = {"Version": POLICY_VERSION, "Statement": statements}
        out.documents[principal] = doc
        size = len(re.sub(r"\s", "", json.dumps(doc)))
        if size > MANAGED_POLICY_MAX_CHARS:
            out.warnings.append(
                f"the policy for {principal} has {size} characters, above the "
                f"{MANAGED_POLICY_MAX_CHARS} of a managed policy ({IAM_QUOTAS_PAGE}): split it"
            )
    return out

"""ACL translation without a cluster: the binding type, the plan's principal map, and what
each target makes of a binding (Kafka-ACL targets, MSK with IAM, Event Hubs), checked
against tables written here from the vendors' documentation (sources at each table)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmigrate.acls import eventhubs, kafka_target, msk_iam
from kmigrate.acls.decisions import RULES
from kmigrate.acls.model import (
    AclBinding,
    AclInputError,
    Operation,
    parse_binding,
    parse_bindings,
)
from kmigrate.acls.outputs import read_role_assignments, write_iam_policies, write_role_assignments
from kmigrate.acls.principals import PrincipalMap
from kmigrate.acls.targets import translate_for

CLUSTER_ARN = (
    "arn:aws:kafka:eu-west-1:123456789012:cluster/shop/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab-2"
)
ARN_TAIL = "eu-west-1:123456789012"
CLUSTER_PART = "shop/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab-2"
ROLE = "arn:aws:iam::123456789012:role/orders"
SP = "ServicePrincipal:7f1c2a3b-1111-2222-3333-444455556666"
NS = eventhubs.Namespace("sub-1", "rg-shop", "shop-ns")


def b(
    rtype: str,
    name: str,
    op: str,
    perm: str = "ALLOW",
    pattern: str = "LITERAL",
    principal: str = "User:orders-svc",
    host: str = "*",
) -> AclBinding:
    return parse_binding(
        {
            "resource_type": rtype,
            "name": name,
            "pattern_type": pattern,
            "principal": principal,
            "host": host,
            "operation": op,
            "permission": perm,
        }
    )


def mapped(to: str) -> PrincipalMap:
    return PrincipalMap({"User:orders-svc": to})


# --- the binding type and the principal map ----------------------------------------------


def test_a_binding_round_trips_through_its_snapshot_shape() -> None:
    """``to_dict`` is the snapshot shape and ``parse_binding`` reads it back equal; enum
    values are read case-insensitively and ``host`` defaults to ``*``."""
    one = b("topic", "orders-", "write", "deny", "prefixed")
    assert one.to_dict() == {
        "resource_type": "TOPIC",
        "name": "orders-",
        "pattern_type": "PREFIXED",
        "principal": "User:orders-svc",
        "host": "*",
        "operation": "WRITE",
        "permission": "DENY",
    }
    assert parse_binding(one.to_dict()) == one


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        ({"resource_type": "USER"}, "acls[3].resource_type", "credentials"),
        ({"resource_type": "DELEGATION_TOKEN"}, "acls[3].resource_type", "credentials"),
        ({"operation": "FLY"}, "acls[3].operation", "expected one of ALL, READ"),
        ({"principal": "orders-svc"}, "acls[3].principal", "'Type:name'"),
        ({"pattern_type": "MATCH"}, "acls[3].pattern_type", "LITERAL, PREFIXED"),
        ({"colour": "red"}, "acls[3].colour", "unknown key"),
        ({"resource_type": "CLUSTER", "name": "c1"}, "acls[3].name", "kafka-cluster"),
    ],
)
def test_a_bad_binding_is_named_by_its_key(change: dict[str, str], key: str, says: str) -> None:
    """Each malformed binding names the list index and the key, and what was expected."""
    good = b("TOPIC", "t", "READ").to_dict()
    items = [good, good, good, {**good, **change}]
    with pytest.raises(AclInputError) as err:
        parse_bindings(items)
    assert err.value.key == key
    assert says in err.value.message


def test_the_principal_map_maps_drops_and_names_the_unmapped() -> None:
    """A mapped principal gives its target, a dropped one None; ``unmapped`` names each
    principal that is neither, once, sorted."""
    pm = PrincipalMap.from_plan(
        {"principals": {"User:orders-svc": "User:sa-123abc"}, "drop": ["User:legacy"]}
    )
    assert pm.target_for("User:orders-svc") == "User:sa-123abc"
    assert pm.target_for("User:legacy") is None
    assert pm.unmapped(["User:b", "User:orders-svc", "User:a", "User:b", "User:legacy"]) == [
        "User:a",
        "User:b",
    ]


@pytest.mark.parametrize(
    ("data", "key", "says"),
    [
        ({"principals": {"orders": "User:x"}}, "acls.principals.orders", "'Type:name'"),
        ({"principals": {"User:a": ""}}, "acls.principals.User:a", "target principal"),
        ({"drop": "User:a"}, "acls.drop", "list"),
        ({"drop": ["User:a", "nobody"]}, "acls.drop[1]", "'Type:name'"),
        (
            {"principals": {"User:a": "User:b"}, "drop": ["User:a"]},
            "acls.drop",
            "User:a is both mapped and dropped",
        ),
        ({"principal": {}}, "acls.principal", "unknown key"),
    ],
)
def test_a_bad_principal_map_is_named_by_its_key(data: object, key: str, says: str) -> None:
    """Each malformed ``acls`` block names its key path and the problem."""
    with pytest.raises(AclInputError) as err:
        PrincipalMap.from_plan(data)
    assert err.value.key == key
    assert says in err.value.message


def test_an_unmapped_principal_is_refused_by_name_and_a_dropped_one_dropped() -> None:
    """On every target, a binding of an unmapped principal is refused naming it (rule
    ``principal_unmapped``), and one of a dropped principal is dropped."""
    bindings = [
        b("TOPIC", "orders", "READ", principal="User:stranger"),
        b("TOPIC", "orders", "READ", principal="User:legacy"),
    ]
    pm = PrincipalMap({}, frozenset({"User:legacy"}))
    for t in (
        kafka_target.translate(bindings, pm),
        msk_iam.translate(bindings, pm, msk_iam.MskCluster.parse(CLUSTER_ARN)),
        eventhubs.translate(bindings, pm, NS),
    ):
        first, second = t.decisions
        assert (first.decision, first.rule) == ("refused", "principal_unmapped")
        assert "User:stranger" in first.reason
        assert (second.decision, second.rule) == ("dropped", "principal_dropped")
        assert t.unmapped_principals == ["User:stranger"]
        assert not t.ok


# --- Kafka-ACL targets ---------------------------------------------------------------------


def test_kafka_targets_keep_each_binding_and_map_its_principal() -> None:
    """Prefixed, wildcard and DENY bindings are kept as they are; a principal mapped to
    itself is ``copied``, to another ``converted``; the source URL follows the target."""
    bindings = [
        b("TOPIC", "orders-", "WRITE", pattern="PREFIXED"),
        b("TOPIC", "*", "READ", "DENY", host="10.0.0.1"),
        b("TRANSACTIONAL_ID", "tx-", "WRITE", pattern="PREFIXED", principal="User:self"),
    ]
    pm = PrincipalMap({"User:orders-svc": "User:sa-123abc", "User:self": "User:self"})
    t = kafka_target.translate(bindings, pm, flavour="confluent-cloud")
    assert [d.decision for d in t.decisions] == ["converted", "converted", "copied"]
    assert {d.source for d in t.decisions} == {kafka_target.SOURCES["confluent-cloud"]}
    assert kafka_target.target_bindings(t) == [
        bindings[0].with_principal("User:sa-123abc"),
        bindings[1].with_principal("User:sa-123abc"),
        bindings[2],
    ]
    assert t.decisions[1].target == {**bindings[1].to_dict(), "principal": "User:sa-123abc"}


def test_a_kafka_target_refuses_a_mapped_principal_that_is_not_a_kafka_principal() -> None:
    """Mapping to an IAM ARN on a Kafka-ACL target is refused (rule ``kafka_principal_form``)."""
    t = kafka_target.translate([b("TOPIC", "t", "READ")], mapped("sa-123abc"))
    assert (t.decisions[0].decision, t.decisions[0].rule) == ("refused", "kafka_principal_form")


# --- MSK with IAM ---------------------------------------------------------------------------

#: From docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html ("Semantics of IAM
#: authorization policy actions and resources", linked from iam-access-control.html): each
#: action's description says "equivalent to Apache Kafka's OPERATION RESOURCE ACL", and its
#: "Required resources" column gives the ARN kind.  (resource type, operation, action, ARN kind)
AWS_ACTIONS = [
    ("CLUSTER", "DESCRIBE", "DescribeCluster", "cluster"),
    ("CLUSTER", "ALTER", "AlterCluster", "cluster"),
    ("CLUSTER", "DESCRIBE_CONFIGS", "DescribeClusterDynamicConfiguration", "cluster"),
    ("CLUSTER", "ALTER_CONFIGS", "AlterClusterDynamicConfiguration", "cluster"),
    ("CLUSTER", "IDEMPOTENT_WRITE", "WriteDataIdempotently", "cluster"),
    ("CLUSTER", "CREATE", "CreateTopic", "topic"),
    ("TOPIC", "CREATE", "CreateTopic", "topic"),
    ("TOPIC", "DESCRIBE", "DescribeTopic", "topic"),
    ("TOPIC", "ALTER", "AlterTopic", "topic"),
    ("TOPIC", "DELETE", "DeleteTopic", "topic"),
    ("TOPIC", "DESCRIBE_CONFIGS", "DescribeTopicDynamicConfiguration", "topic"),
    ("TOPIC", "ALTER_CONFIGS", "AlterTopicDynamicConfiguration", "topic"),
    ("TOPIC", "READ", "ReadData", "topic"),
    ("TOPIC", "WRITE", "WriteData", "topic"),
    ("GROUP", "DESCRIBE", "DescribeGroup", "group"),
    ("GROUP", "READ", "AlterGroup", "group"),
    ("GROUP", "DELETE", "DeleteGroup", "group"),
    ("TRANSACTIONAL_ID", "DESCRIBE", "DescribeTransactionalId", "transactional-id"),
    ("TRANSACTIONAL_ID", "WRITE", "AlterTransactionalId", "transactional-id"),
]
#: Kafka's StandardAuthorizerData: READ, WRITE, DELETE, ALTER imply DESCRIBE; ALTER_CONFIGS
#: implies DESCRIBE_CONFIGS (for ALLOW bindings only).
IMPLIED = {"READ": "DESCRIBE", "WRITE": "DESCRIBE", "DELETE": "DESCRIBE", "ALTER": "DESCRIBE"}
IMPLIED_CONFIGS = {"ALTER_CONFIGS": "DESCRIBE_CONFIGS"}
#: KIP-679: in Kafka, WRITE on any topic lets a producer be idempotent (the default of
#: Kafka 3.x clients); on MSK with IAM that takes WriteDataIdempotently on the cluster.
IDEMPOTENT = "kafka-cluster:WriteDataIdempotently"


def _arn(kind: str, name: str) -> str:
    if kind == "cluster":
        return CLUSTER_ARN
    return f"arn:aws:kafka:{ARN_TAIL}:{kind}/{CLUSTER_PART}/{name}"


def _doc_action(rtype: str, op: str) -> tuple[str, str]:
    row = [r for r in AWS_ACTIONS if r[0] == rtype and r[1] == op]
    return f"kafka-cluster:{row[0][2]}", row[0][3]


@pytest.mark.parametrize(("rtype", "op", "action", "kind"), AWS_ACTIONS)
def test_each_kafka_operation_becomes_the_action_aws_names_as_its_equivalent(
    rtype: str, op: str, action: str, kind: str
) -> None:
    """An ALLOW binding on a named resource becomes the AWS table's action on the ARN built
    from the cluster ARN, plus the action of the operation Kafka implies."""
    name = "kafka-cluster" if rtype == "CLUSTER" else "orders"
    t = msk_iam.translate([b(rtype, name, op)], mapped(ROLE), msk_iam.MskCluster.parse(CLUSTER_ARN))
    d = t.decisions[0]
    assert (d.decision, d.rule) == ("converted", "msk_iam_actions")
    want: dict[str, set[str]] = {}
    resource = "*" if rtype == "CLUSTER" else "orders"
    want.setdefault(_arn(kind, resource), set()).add(f"kafka-cluster:{action}")
    implied = (IMPLIED | IMPLIED_CONFIGS).get(op)
    if implied and any(r[0] == rtype and r[1] == implied for r in AWS_ACTIONS):
        i_action, i_kind = _doc_action(rtype, implied)
        want.setdefault(_arn(i_kind, resource), set()).add(i_action)
    if (rtype, op) == ("TOPIC", "WRITE"):
        want.setdefault(CLUSTER_ARN, set()).add(IDEMPOTENT)
    assert d.target is not None
    assert d.target["effect"] == "Allow"
    assert {s["resource"]: set(s["actions"]) for s in d.target["statements"]} == want


def test_deny_becomes_a_deny_statement_without_implied_actions() -> None:
    """DENY WRITE on a topic is a Deny of WriteData alone (Kafka implies nothing for DENY)."""
    t = msk_iam.translate(
        [b("TOPIC", "orders", "WRITE", "DENY")], mapped(ROLE), msk_iam.MskCluster.parse(CLUSTER_ARN)
    )
    d = t.decisions[0]
    assert (d.decision, d.rule) == ("converted", "msk_iam_deny")
    assert d.target == {
        "effect": "Deny",
        "statements": [
            {"actions": ["kafka-cluster:WriteData"], "resource": _arn("topic", "orders")}
        ],
    }


def test_prefixed_and_wildcard_names_become_arn_wildcards_and_a_star_in_a_name_is_refused() -> None:
    """PREFIXED ``orders-`` -> ``orders-*``; LITERAL ``*`` -> ``*``; a group literally named
    ``a*b`` is refused: IAM would read its ``*`` as a wildcard (AWS: ``*`` may stand
    anywhere after ``:group/``)."""
    cluster = msk_iam.MskCluster.parse(CLUSTER_ARN)
    t = msk_iam.translate(
        [
            b("TOPIC", "orders-", "DESCRIBE", pattern="PREFIXED"),
            b("GROUP", "*", "DESCRIBE"),
            b("GROUP", "a*b", "DESCRIBE"),
        ],
        mapped(ROLE),
        cluster,
    )
    first, second, third = t.decisions
    assert first.target and first.target["statements"][0]["resource"] == _arn("topic", "orders-*")
    assert second.target and second.target["statements"][0]["resource"] == _arn("group", "*")
    assert (third.decision, third.rule) == ("refused", "msk_iam_resource")
    assert "'a*b'" in third.reason


@pytest.mark.parametrize(
    ("binding", "to", "rule", "says"),
    [
        (
            b("CLUSTER", "kafka-cluster", "CLUSTER_ACTION"),
            ROLE,
            "msk_iam_no_equivalent",
            "CLUSTER_ACTION",
        ),
        (b("GROUP", "g", "WRITE"), ROLE, "msk_iam_no_equivalent", "WRITE on GROUP"),
        (b("TOPIC", "t", "READ", host="10.1.2.3"), ROLE, "msk_iam_host", "10.1.2.3"),
        (b("TOPIC", "t", "READ"), "User:orders", "msk_iam_principal", "User:orders"),
    ],
)
def test_what_iam_cannot_say_is_refused_by_name(
    binding: AclBinding, to: str, rule: str, says: str
) -> None:
    """Operations with no ``kafka-cluster`` action, host limits and a principal that is not
    an IAM ARN are refused, each naming what it refuses."""
    t = msk_iam.translate([binding], mapped(to), msk_iam.MskCluster.parse(CLUSTER_ARN))
    d = t.decisions[0]
    assert (d.decision, d.rule) == ("refused", rule)
    assert says in d.reason


def test_one_policy_per_principal_with_connect_then_allow_then_deny(tmp_path: Path) -> None:
    """Two principals get a document each; each that allows anything starts with Connect on
    the cluster; the same action set on two topics is one statement with both ARNs; Deny
    comes last; the file is 0600 JSON."""
    bindings = [
        b("TOPIC", "orders", "WRITE"),
        b("TOPIC", "refunds", "WRITE"),
        b("TOPIC", "orders-secret", "READ", "DENY"),
        b("GROUP", "billing-", "READ", pattern="PREFIXED", principal="User:billing"),
    ]
    billing = "arn:aws:iam::123456789012:role/billing"
    pm = PrincipalMap({"User:orders-svc": ROLE, "User:billing": billing})
    cluster = msk_iam.MskCluster.parse(CLUSTER_ARN)
    path = tmp_path / "out" / "iam.json"
    assert write_iam_policies(path, msk_iam.translate(bindings, pm, cluster), cluster) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["kind"] == "msk-iam-policies"
    assert sorted(data["policies"]) == [billing, ROLE]
    orders = data["policies"][ROLE]
    assert orders["Version"] == "2012-10-17"
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in orders["Statement"]] == [
        ("Allow", ["kafka-cluster:Connect"], [CLUSTER_ARN]),
        (
            "Allow",
            ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
            [_arn("topic", "orders"), _arn("topic", "refunds")],
        ),
        ("Allow", [IDEMPOTENT], [CLUSTER_ARN]),
        ("Deny", ["kafka-cluster:ReadData"], [_arn("topic", "orders-secret")]),
    ]
    assert data["policies"][billing]["Statement"][1]["Resource"] == [_arn("group", "billing-*")]


def test_a_policy_above_the_managed_policy_size_is_warned_about() -> None:
    """1,000 topic bindings of one principal make a document above IAM's 6,144 characters
    for a managed policy (IAM quotas page): a warning names the principal and the size."""
    bindings = [b("TOPIC", f"topic-{i:04d}", "READ") for i in range(1000)]
    cluster = msk_iam.MskCluster.parse(CLUSTER_ARN)
    result = msk_iam.policies(msk_iam.translate(bindings, mapped(ROLE), cluster), cluster)
    assert len(result.warnings) == 1
    assert ROLE in result.warnings[0] and "6144" in result.warnings[0]


def test_a_malformed_cluster_arn_is_named() -> None:
    """The cluster ARN must be arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID."""
    with pytest.raises(AclInputError) as err:
        msk_iam.MskCluster.parse("arn:aws:kafka:eu-west-1:123456789012:topic/shop/x/y")
    assert err.value.key == "clusters.target.cluster_arn"


# --- Event Hubs -----------------------------------------------------------------------------

#: From learn.microsoft.com/azure/role-based-access-control/built-in-roles (Analytics):
#: the built-in Event Hubs data roles' ids.
AZURE_ROLE_IDS = {
    "Azure Event Hubs Data Sender": "2b629674-e913-4c01-ae53-ef4638d8f975",
    "Azure Event Hubs Data Receiver": "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
    "Azure Event Hubs Data Owner": "f526a384-b230-433a-b45c-95f59c4a2dec",
}
NS_SCOPE = (
    "/subscriptions/sub-1/resourceGroups/rg-shop/providers/Microsoft.EventHub/namespaces/shop-ns"
)


@pytest.mark.parametrize(
    ("binding", "role", "scope"),
    [
        (
            b("TOPIC", "orders", "WRITE"),
            "Azure Event Hubs Data Sender",
            f"{NS_SCOPE}/eventhubs/orders",
        ),
        (
            b("TOPIC", "orders", "READ"),
            "Azure Event Hubs Data Receiver",
            f"{NS_SCOPE}/eventhubs/orders",
        ),
        (
            b("TOPIC", "orders", "ALL"),
            "Azure Event Hubs Data Owner",
            f"{NS_SCOPE}/eventhubs/orders",
        ),
        (b("TOPIC", "*", "READ"), "Azure Event Hubs Data Receiver", NS_SCOPE),
    ],
)
def test_topic_bindings_become_built_in_roles_at_hub_or_namespace_scope(
    binding: AclBinding, role: str, scope: str
) -> None:
    """WRITE -> Data Sender, READ -> Data Receiver, ALL -> Data Owner, on the hub; the
    wildcard topic on the namespace; the role definition id is Azure's built-in id in the
    namespace's subscription, the principal's object id and type as mapped."""
    t = eventhubs.translate([binding], mapped(SP), NS)
    d = t.decisions[0]
    assert (d.decision, d.rule) == ("converted", "eventhubs_topic_role")
    (a,) = eventhubs.role_assignments(t)
    assert (a.scope, a.role, a.principal_id, a.principal_type) == (
        scope,
        role,
        "7f1c2a3b-1111-2222-3333-444455556666",
        "ServicePrincipal",
    )
    assert a.role_definition_id == (
        f"/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/{AZURE_ROLE_IDS[role]}"
    )


@pytest.mark.parametrize(
    ("binding", "rule", "says"),
    [
        (b("TOPIC", "orders-", "READ", pattern="PREFIXED"), "eventhubs_prefixed", "'orders-'"),
        (b("TOPIC", "orders", "READ", "DENY"), "eventhubs_deny", "deny"),
        (b("TOPIC", "orders", "READ", host="10.0.0.9"), "eventhubs_host", "10.0.0.9"),
        (b("TOPIC", "orders", "CREATE"), "eventhubs_no_equivalent", "CREATE on TOPIC"),
        (
            b("TOPIC", "orders", "ALTER_CONFIGS"),
            "eventhubs_no_equivalent",
            "ALTER_CONFIGS on TOPIC",
        ),
        (b("GROUP", "g", "DELETE"), "eventhubs_no_equivalent", "DELETE on GROUP"),
        (b("CLUSTER", "kafka-cluster", "ALTER"), "eventhubs_no_equivalent", "ALTER on CLUSTER"),
        (b("TRANSACTIONAL_ID", "tx", "WRITE"), "eventhubs_no_equivalent", "TRANSACTIONAL_ID"),
    ],
)
def test_acls_with_no_rbac_equivalent_are_refused_with_the_reason(
    binding: AclBinding, rule: str, says: str
) -> None:
    """Prefixed topics, DENY, host limits, topic management, group deletion, cluster
    operations and transactional ids have no Azure role: refused, naming what and why."""
    d = eventhubs.translate([binding], mapped(SP), NS).decisions[0]
    assert (d.decision, d.rule) == ("refused", rule)
    assert says in d.reason


def test_what_the_data_roles_cover_is_dropped_and_a_bad_object_id_refused() -> None:
    """Topic DESCRIBE, group READ and cluster IDEMPOTENT_WRITE are covered by the data
    roles (dropped); a principal that is not ``Type:OBJECT_ID`` is refused."""
    t = eventhubs.translate(
        [
            b("TOPIC", "orders", "DESCRIBE"),
            b("GROUP", "billing", "READ"),
            b("CLUSTER", "kafka-cluster", "IDEMPOTENT_WRITE"),
        ],
        mapped(SP),
        NS,
    )
    assert [(d.decision, d.rule) for d in t.decisions] == [("dropped", "eventhubs_covered")] * 3
    bad = eventhubs.translate([b("TOPIC", "o", "READ")], mapped("User:alice"), NS).decisions[0]
    assert (bad.decision, bad.rule) == ("refused", "eventhubs_principal")


def test_role_assignments_are_made_once_with_a_stable_name(tmp_path: Path) -> None:
    """Two bindings that need the same role on the same hub give one assignment; its name
    is the same GUID in every run (so a re-run PUTs the same assignment); the file reads
    back equal."""
    bindings = [b("TOPIC", "orders", "READ"), b("TOPIC", "orders", "READ", principal="User:twin")]
    pm = PrincipalMap({"User:orders-svc": SP, "User:twin": SP})
    path = tmp_path / "rbac.json"
    made = write_role_assignments(path, eventhubs.translate(bindings, pm, NS), NS)
    again = eventhubs.role_assignments(eventhubs.translate(bindings, pm, NS))
    assert len(made) == 1 and made == again
    assert read_role_assignments(path) == made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_that_is_not_a_role_assignments_file_is_named(tmp_path: Path) -> None:
    """Reading another kind of file is refused naming the file and key."""
    path = tmp_path / "iam.json"
    path.write_text('{"kind": "msk-iam-policies"}')
    with pytest.raises(AclInputError) as err:
        read_role_assignments(path)
    assert err.value.key == f"{path}: kind"


# --- the rules' page ------------------------------------------------------------------------


def test_docs_acls_md_lists_every_rule_with_its_source() -> None:
    """docs/acls.md has one table row per registered rule: its name, and its source as the
    code states it."""
    text = (Path(__file__).parent.parent / "docs" / "acls.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in text.splitlines()
        if line.startswith("| `")
    }
    assert set(rows) == set(RULES)
    for name, r in RULES.items():
        for source in r.source.split(" ; "):
            assert source.split(" (")[0] in rows[name], name


# --- which translation a target takes -------------------------------------------------------


@pytest.mark.parametrize(
    ("target_type", "auth", "want"),
    [
        ("kafka", None, "kafka:kafka"),
        ("redpanda", None, "kafka:kafka"),
        ("confluent-cloud", None, "kafka:confluent-cloud"),
        ("msk", "scram", "kafka:msk"),
        ("msk", "tls", "kafka:msk"),
        ("msk", None, "msk-iam"),
        ("msk", "iam", "msk-iam"),
        ("eventhubs", None, "eventhubs"),
    ],
)
def test_the_target_type_and_auth_pick_the_translation(
    target_type: str, auth: str | None, want: str
) -> None:
    """MSK with SCRAM or mTLS keeps Kafka ACLs; MSK with IAM (the default) takes IAM
    policies; Event Hubs role assignments; every other type Kafka ACLs."""
    t = translate_for(
        target_type,
        [b("TOPIC", "orders", "READ")],
        PrincipalMap({"User:orders-svc": "User:x"}),
        auth=auth,
        cluster_arn=CLUSTER_ARN,
        namespace=NS,
    )
    assert t.target == want


@pytest.mark.parametrize(
    ("target_type", "auth", "key"),
    [
        ("msk", "plaintext", "clusters.target.auth"),
        ("msk", "iam", "clusters.target.cluster_arn"),
        ("eventhubs", None, "clusters.target.namespace"),
        ("pulsar", None, "clusters.target.type"),
    ],
)
def test_a_target_the_acls_cannot_be_translated_for_names_the_plan_key(
    target_type: str, auth: str | None, key: str
) -> None:
    """MSK plaintext (no identity), MSK IAM without its cluster ARN, Event Hubs without its
    namespace and an unknown type are refused naming the key to fix."""
    with pytest.raises(AclInputError) as err:
        translate_for(target_type, [], PrincipalMap(), auth=auth)
    assert err.value.key == key


# --- properties over any binding ------------------------------------------------------------

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=20)
bindings = st.builds(
    lambda rtype, name, pattern, principal, host, op, perm: b(
        rtype,
        "kafka-cluster" if rtype == "CLUSTER" else name,
        op,
        perm,
        "LITERAL" if rtype == "CLUSTER" else pattern,
        f"User:{principal}",
        host,
    ),
    st.sampled_from(["TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID"]),
    st.one_of(_names, st.just("*")),
    st.sampled_from(["LITERAL", "PREFIXED"]),
    st.sampled_from(["orders-svc", "billing", "legacy", "*"]),
    st.sampled_from(["*", "10.0.0.1"]),
    st.sampled_from([op.value for op in Operation]),
    st.sampled_from(["ALLOW", "DENY"]),
)


@given(st.lists(bindings, max_size=30))
def test_every_binding_gets_exactly_one_decision_on_every_target(
    items: list[AclBinding],
) -> None:
    """On each target, each distinct binding gets one decision of the four kinds, with a
    registered rule whose source it carries; a binding of the dropped principal is always
    dropped, one of the unmapped principal always refused; a Kafka-ACL target's bindings
    to create are exactly the kept ones with the principal mapped."""
    pm = PrincipalMap(
        {"User:orders-svc": ROLE, "User:billing": ROLE, "User:*": ROLE}, frozenset({"User:legacy"})
    )
    kafka_pm = PrincipalMap(
        {"User:orders-svc": "User:sa-1", "User:billing": "User:billing", "User:*": "User:*"},
        frozenset({"User:legacy"}),
    )
    eh_pm = PrincipalMap({k: SP for k in pm.mapping}, pm.drop)
    cluster = msk_iam.MskCluster.parse(CLUSTER_ARN)
    for t in (
        kafka_target.translate(items, kafka_pm),
        msk_iam.translate(items, pm, cluster),
        eventhubs.translate(items, eh_pm, NS),
    ):
        assert [d.binding for d in t.decisions] == list(dict.fromkeys(items))
        for d in t.decisions:
            assert d.decision in ("copied", "converted", "dropped", "refused")
            assert d.rule in RULES
            if d.binding.principal == "User:legacy":
                assert d.decision == "dropped"
            if d.rule not in ("kafka_acl_copied",):
                assert d.source == RULES[d.rule].source
    kept = kafka_target.translate(items, kafka_pm)
    assert kafka_target.target_bindings(kept) == [
        d.binding.with_principal(kafka_pm.mapping[d.binding.principal])
        for d in kept.decisions
        if d.decision != "dropped"
    ]


@given(bindings)
def test_any_binding_round_trips_through_its_snapshot_shape(one: AclBinding) -> None:
    """``parse_binding(binding.to_dict())`` gives the same binding back."""
    assert parse_binding(one.to_dict()) == one


def test_the_acl_domain_and_the_arm_client_import_no_vendor_sdk() -> None:
    """Layers: ``kmigrate.acls`` is pure (no confluent_kafka, boto3 or azure), and the ARM
    client imports azure lazily, only when it is used."""
    code = (
        "import sys\n"
        "import kmigrate.acls.targets, kmigrate.acls.outputs, kmigrate.clusters.eventhubs_rbac\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('confluent_kafka', 'boto3', 'botocore', 'azure')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Issue 15, the ``provision-acls`` step without a broker: the MSK IAM and Event Hubs file
outputs through the step (from a snapshot holding bindings), the ARM apply at the SDK
boundary (azure-mgmt-authorization's real client over the tests' ARM stand-in,
tests/support/cloud_fakes.py), an unmapped principal refused by name before anything is
made, the journaled record, and ``kmigrate plan`` showing each binding's decision (text
and JSON).

Facts checked and their sources: the MSK IAM actions per Kafka operation are the AWS
"IAM access control" page's table
(docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html: WRITE on a topic
is ``kafka-cluster:WriteData`` with ``DescribeTopic``, ``Connect`` on the cluster); the
Event Hubs role for WRITE on a topic is Azure Event Hubs Data Sender
(learn.microsoft.com/azure/role-based-access-control/built-in-roles, id 2b629674-...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.pipeline.transport import RequestsTransport
from click.testing import CliRunner

from kmigrate.acls.eventhubs import ROLE_IDS
from kmigrate.clusters import eventhubs_rbac
from kmigrate.errors import StepFailed
from kmigrate.plan.schema import AclsSpec, ClusterSpec, ProvisionAclsStep
from kmigrate.runtime.dry_run import DryRunEffects
from kmigrate.snapshot import Snapshot, SnapshotSource, TopicSnapshot, write
from kmigrate.steps import RECORDS, build_step, read_record
from kmigrate.steps.base import StepContext
from kmigrate.steps.provision_acls import AclsRecord
from kmigrate.ui import UI
from tests.support.cloud_fakes import ArmAdapter, FakeCredential

ARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/shop/0b1c2d3e-1111-2222-3333-444455556666-2"
ROLE = "arn:aws:iam::123456789012:role/orders"
OID = "7f1c2a3b-1111-2222-3333-444455556666"
SUB = "00000000-0000-0000-0000-000000000001"


class NoCluster:
    """A cluster that fails the test on any use: the file outputs touch no cluster."""

    bootstrap_servers = "unused:1"

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the step used the cluster ({name})")


def binding(principal: str, op: str, name: str = "orders", rtype: str = "TOPIC") -> dict[str, str]:
    return {"resource_type": rtype, "name": name, "pattern_type": "LITERAL",
            "principal": principal, "host": "*", "operation": op,
            "permission": "ALLOW"}  # fmt: skip


def state_with_snapshot(tmp_path: Path, acls: list[dict[str, str]] | None) -> Path:
    state = tmp_path / "state"
    snap = Snapshot(
        source=SnapshotSource(type="kafka", bootstrap_servers="127.0.0.1:9092"),
        topics={"orders": TopicSnapshot(partitions=1, replication_factor=1)},
        acls=acls,
    )
    write(snap, state / "snapshots" / "topics.yaml")
    return state


def context(state: Path, target: ClusterSpec, acls: AclsSpec | None, **kw: Any) -> StepContext:
    return StepContext(
        NoCluster(),  # type: ignore[arg-type]
        NoCluster(),  # type: ignore[arg-type]
        UI(json_mode=True),
        target_type=target.type,
        state_dir=state,
        acls=acls,
        target_spec=target,
        **kw,
    )


def step() -> Any:
    return build_step(ProvisionAclsStep(action="provision-acls", snapshot="snapshots/topics.yaml"))


def test_msk_iam_writes_the_policy_file_and_rollback_removes_it(tmp_path: Path) -> None:
    """MSK with IAM: the step writes one policy document per mapped principal (WRITE on
    ``orders`` -> ``kafka-cluster:WriteData`` on the topic ARN, with ``Connect`` on the
    cluster ARN, per the AWS table), journals the file and its SHA-256, and rollback
    removes exactly that file; the record round-trips through RECORDS."""
    state = state_with_snapshot(tmp_path, [binding("User:orders-svc", "WRITE")])
    target = ClusterSpec(type="msk", cluster_arn=ARN, auth="iam", region="eu-west-1")
    ctx = context(state, target, AclsSpec(principals={"User:orders-svc": ROLE}))

    record = step().run(ctx, {})

    out = Path(record["output"])
    doc = json.loads(out.read_text())
    assert doc["kind"] == "msk-iam-policies" and list(doc["policies"]) == [ROLE]
    statements = doc["policies"][ROLE]["Statement"]
    actions = {a for s in statements for a in s["Action"]}
    assert {"kafka-cluster:Connect", "kafka-cluster:WriteData"} <= actions
    topic_arn = ARN.replace(":cluster/", ":topic/") + "/orders"
    assert any(topic_arn in s["Resource"] for s in statements)
    assert out.stat().st_mode & 0o777 == 0o600
    typed = read_record("provision-acls", record)
    assert isinstance(typed, AclsRecord) and RECORDS["provision-acls"] is AclsRecord
    assert typed.kind == "msk-iam" and typed.summary() == f"wrote msk-iam -> {out}"

    assert step().rollback(ctx, record) == [f"removed {out}"]
    assert not out.exists()


def test_rollback_keeps_an_output_the_operator_changed(tmp_path: Path) -> None:
    """Rollback removes only the file as provision-acls wrote it (same SHA-256)."""
    state = state_with_snapshot(tmp_path, [binding("User:orders-svc", "WRITE")])
    target = ClusterSpec(type="msk", cluster_arn=ARN, auth="iam", region="eu-west-1")
    ctx = context(state, target, AclsSpec(principals={"User:orders-svc": ROLE}))
    record = step().run(ctx, {})
    out = Path(record["output"])
    out.write_text("{}")

    assert step().rollback(ctx, record) == [f"kept {out}: it changed since provision-acls wrote it"]
    assert out.exists()


def eventhubs_target() -> ClusterSpec:
    return ClusterSpec(
        type="eventhubs",
        namespace="shop-ns",
        subscription_id=SUB,
        resource_group="shop-rg",
    )


def test_eventhubs_writes_the_role_assignments_file(tmp_path: Path) -> None:
    """Event Hubs without ``apply``: WRITE on ``orders`` becomes Data Sender at the hub's
    scope for the mapped object id, written to the output file; ARM is not called (the
    clusters are NoCluster and no client is built)."""
    state = state_with_snapshot(tmp_path, [binding("User:orders-svc", "WRITE")])
    acls = AclsSpec(principals={"User:orders-svc": f"ServicePrincipal:{OID}"})
    record = step().run(context(state, eventhubs_target(), acls), {})

    doc = json.loads(Path(record["output"]).read_text())
    (a,) = doc["role_assignments"]
    assert a["role"] == "Azure Event Hubs Data Sender"
    assert a["role_definition_id"].endswith(ROLE_IDS["Azure Event Hubs Data Sender"])
    assert a["scope"].endswith("/namespaces/shop-ns/eventhubs/orders")
    assert (a["principal_id"], a["principal_type"]) == (OID, "ServicePrincipal")
    assert record["assignments"] == []


def test_eventhubs_apply_creates_through_arm_and_rollback_deletes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``apply: true`` the step creates the assignment through azure-mgmt-authorization
    (GET 404, then PUT at ``SCOPE/providers/Microsoft.Authorization/roleAssignments/NAME``
    with the role definition id, object id and ``ServicePrincipal``), journals it, and
    rollback DELETEs exactly it, then removes the file."""
    calls: list[tuple[str, str]] = []

    def arm(method: str, p: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
        calls.append((method, p))
        if method == "GET":
            return 404, {"error": {"code": "RoleAssignmentNotFound", "message": "not found"}}
        if method == "DELETE":
            return 200, None
        assert body is not None
        assert body["properties"]["principalType"] == "ServicePrincipal"
        assert body["properties"]["principalId"] == OID
        return 201, {"id": p, "name": p.rsplit("/", 1)[1], "properties": body["properties"]}

    session = requests.Session()
    session.mount("https://", ArmAdapter(arm))
    real = eventhubs_rbac.RoleAssignments

    def through_fake(subscription_id: str) -> eventhubs_rbac.RoleAssignments:
        assert subscription_id == SUB
        return real(
            subscription_id,
            credential=FakeCredential(),
            transport=RequestsTransport(session=session, session_owner=False),
            retry_total=0,
        )

    monkeypatch.setattr(eventhubs_rbac, "RoleAssignments", through_fake)
    state = state_with_snapshot(tmp_path, [binding("User:orders-svc", "WRITE")])
    acls = AclsSpec(principals={"User:orders-svc": f"ServicePrincipal:{OID}"}, apply=True)
    ctx = context(state, eventhubs_target(), acls)

    record = step().run(ctx, {})

    (made,) = record["assignments"]
    path = f"{made['scope']}/providers/Microsoft.Authorization/roleAssignments/{made['name']}"
    assert calls == [("GET", path), ("PUT", path)]
    lines = step().rollback(ctx, record)
    assert calls[-1] == ("DELETE", path)
    assert lines == ["deleted 1 role assignments kmigrate created", f"removed {record['output']}"]


def test_an_unmapped_principal_is_refused_by_name_before_anything_is_made(
    tmp_path: Path,
) -> None:
    """A Kafka-ACL target: ``User:reports`` is neither mapped nor dropped, so the step fails
    (exit 1) naming it, and touches no cluster (NoCluster fails on any use); one left at
    init's ``<TARGET PRINCIPAL ...>`` placeholder is refused the same way."""
    state = state_with_snapshot(
        tmp_path,
        [binding("User:orders-svc", "WRITE"), binding("User:reports", "READ"),
         binding("User:audit", "READ")],
    )  # fmt: skip
    acls = AclsSpec(
        principals={"User:orders-svc": "User:orders", "User:audit": "<TARGET PRINCIPAL for x>"}
    )
    with pytest.raises(StepFailed) as failed:
        step().run(context(state, ClusterSpec(type="kafka"), acls), {})
    assert "unmapped principal(s) User:audit, User:reports" in str(failed.value)
    assert failed.value.exit_code == 1


PLAN = """\
version: 1
name: acl-plan
clusters:
  source: {type: kafka, bootstrap_servers: "127.0.0.1:9092"}
  target: {type: kafka, bootstrap_servers: "127.0.0.1:9093"}
topics: {include: ["*"]}
acls:
  principals: {"User:orders-svc": "User:sa-123", "User:app": "User:app"}
  drop: ["User:legacy"]
phases:
  - name: acls
    steps:
      - action: provision-acls
"""


def run_plan(tmp_path: Path, plan_text: str, *extra: str) -> Any:
    from kmigrate.cli import cli

    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text)
    snap = state_with_snapshot(
        tmp_path,
        [binding("User:orders-svc", "WRITE"), binding("User:app", "READ"),
         binding("User:legacy", "ALL", "*"), binding("User:other", "READ")],
    ) / "snapshots" / "topics.yaml"  # fmt: skip
    args = ["plan", str(plan), "--offline", "--snapshot", str(snap), *extra]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_plan_shows_every_binding_decision_in_text_and_json(tmp_path: Path) -> None:
    """``kmigrate plan --offline --snapshot``: converted (mapped to another principal),
    copied (mapped to itself), dropped (``acls.drop``) and refused (unmapped, named), each
    with its rule and source; the JSON carries the same under ``acls``; exit 1, as
    provision-acls would refuse."""
    text = run_plan(tmp_path, PLAN)
    assert text.exit_code == 1, text.output
    for needle in ("converted", "copied", "dropped", "refused", "kafka_acl_copied",
                   "principal_dropped", "principal_unmapped", "User:other",
                   "https://kafka.apache.org/documentation/#security_authz"):  # fmt: skip
        assert needle in text.output, needle

    out = run_plan(tmp_path, PLAN, "--output", "json")
    acls = json.loads(out.stdout)["acls"]
    assert acls["counts"] == {"copied": 1, "converted": 1, "dropped": 1, "refused": 1}
    assert acls["unmapped_principals"] == ["User:other"]
    by_principal = {d["binding"]["principal"]: d for d in acls["decisions"]}
    assert by_principal["User:orders-svc"]["target_principal"] == "User:sa-123"
    assert by_principal["User:orders-svc"]["rule"] == "kafka_acl_copied"
    assert by_principal["User:legacy"]["source"].startswith("docs/acls.md")

    mapped = PLAN.replace('drop: ["User:legacy"]', 'drop: ["User:legacy", "User:other"]')
    assert run_plan(tmp_path, mapped).exit_code == 0


def test_a_dry_run_writes_nothing_and_its_rollback_undoes_nothing(tmp_path: Path) -> None:
    """``--dry-run`` (the dry run's effects): MSK with IAM says it would write the file and
    writes none; a dry run's rollback of a real run's record only says it would remove
    the file, which stays; an Event Hubs ``apply`` dry run builds no ARM client
    (NoCluster and no monkeypatch: a real client would need the azure credentials)."""
    state = state_with_snapshot(tmp_path, [binding("User:orders-svc", "WRITE")])
    target = ClusterSpec(type="msk", cluster_arn=ARN, auth="iam", region="eu-west-1")
    mapped = AclsSpec(principals={"User:orders-svc": ROLE})
    ctx = context(state, target, mapped, effects=DryRunEffects())

    record = step().run(ctx, {})

    assert not Path(record["output"]).exists()
    real = step().run(context(state, target, mapped), {})
    assert Path(real["output"]).exists()
    assert step().rollback(ctx, real) == [f"would remove {real['output']}"]
    assert Path(real["output"]).exists()
    Path(real["output"]).unlink()
    acls = AclsSpec(principals={"User:orders-svc": f"ServicePrincipal:{OID}"}, apply=True)
    eh = step().run(context(state, eventhubs_target(), acls, effects=DryRunEffects()), {})
    assert eh["assignments"] == [] and not Path(eh["output"]).exists()


def test_a_snapshot_without_acls_provisions_nothing(tmp_path: Path) -> None:
    """A snapshot with no ``acls`` key (no authorizer on the source): the step passes
    without touching the target (NoCluster) and records that nothing was provisioned."""
    state = state_with_snapshot(tmp_path, None)
    record = step().run(context(state, ClusterSpec(type="kafka"), None), {})
    typed = read_record("provision-acls", record)
    assert isinstance(typed, AclsRecord) and typed.summary() == "no ACL binding to provision"


MSK_PLAN = """\
version: 1
name: acl-plan
clusters:
  source: {type: kafka, bootstrap_servers: "127.0.0.1:9092"}
  target: {type: msk, region: eu-west-1, cluster_arn: "${MSK_ARN}", auth: iam,
           facts: {cluster_type: provisioned}}
topics: {include: ["*"]}
acls:
  principals: {"User:orders-svc": "arn:aws:iam::123456789012:role/orders",
               "User:app": "arn:aws:iam::123456789012:role/app"}
  drop: ["User:legacy", "User:other"]
phases:
  - name: acls
    steps:
      - action: provision-acls
"""


def test_plan_resolves_the_cluster_arn_reference_init_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MSK with IAM, the cluster ARN written as ``${MSK_ARN}`` (as init writes it): with the
    variable set, ``plan --offline`` decides every binding into IAM statements on that
    cluster (exit 0); unset, it names the variable and skips the decisions (exit 0:
    ``plan --offline`` needs no identity), rather than refusing a malformed ARN.  Failed
    before the ACL keys of the target were resolved (the ARN was parsed as written)."""
    monkeypatch.setenv("MSK_ARN", ARN)
    ok = run_plan(tmp_path, MSK_PLAN, "--output", "json")
    assert ok.exit_code == 0, ok.output
    acls = json.loads(ok.stdout)["acls"]
    assert acls["target"] == "msk-iam"
    assert acls["counts"] == {"copied": 0, "converted": 2, "dropped": 2, "refused": 0}

    monkeypatch.delenv("MSK_ARN")
    unset = run_plan(tmp_path, MSK_PLAN)
    assert unset.exit_code == 0 and "ACL decisions skipped" in unset.output
    assert "MSK_ARN" in unset.output

"""Issue 15, the ``provision-acls`` step on the real ACL-enabled Apache Kafka target
(KRaft 4.1, StandardAuthorizer, SASL_SSL with SCRAM-SHA-512): execute creates the mapped
bindings, the service principal can then do what they allow and is denied the rest (real
produce and consume as that principal), and rollback deletes exactly what the step
created: a binding that existed before survives.  An unmapped principal is refused by
name with nothing created.  ``export`` writes the bindings of a cluster with an
authorizer into the snapshot, and says "no authorizer" for the ZooKeeper source.

Runs only with ``--broker apache-kafka`` (Tansu has no authorizer: sandbox-broker.md
fact 8).  The step's admin calls run as the super user ``admin``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kmigrate.acls.model import AclBinding, parse_binding
from kmigrate.adapters import apache_kafka
from kmigrate.clusters import registry
from kmigrate.errors import StepFailed
from kmigrate.plan.schema import AclsSpec, ClusterSpec, ProvisionAclsStep
from kmigrate.snapshot import Snapshot, SnapshotSource, write
from kmigrate.steps import build_step
from kmigrate.steps.base import StepContext
from kmigrate.ui import UI
from tests.acls.test_acls_apache_kafka import (
    add_scram_user,
    admin_acls,
    consume_as,
    eventually,
    produce_as,
    produce_in_transaction,
    source_like_set,
)
from tests.conftest import Brokers, create_topic

pytestmark = pytest.mark.broker
DENIED = "TOPIC_AUTHORIZATION_FAILED"


@pytest.fixture(autouse=True)
def _real_kafka(brokers: Brokers) -> None:
    if not brokers.real:
        pytest.skip("Tansu has no authorizer (sandbox-broker.md fact 8)")


def step_context(brokers: Brokers, tmp_path: Path, bindings: list[AclBinding], acls: AclsSpec):
    """A plan-less context: the target opened as ``admin`` through the cluster registry,
    and a snapshot holding ``bindings`` under the state dir."""
    cfg = brokers.clusters[1].config_for(apache_kafka.ADMIN_USER)
    bootstrap = cfg.pop("bootstrap.servers")
    target, plane = registry.open_cluster("target", "kafka", {"bootstrap_servers": bootstrap}, cfg)
    state = tmp_path / "state"
    write(
        Snapshot(
            source=SnapshotSource(type="kafka", bootstrap_servers=brokers.source),
            acls=[b.to_dict() for b in bindings],
        ),
        state / "snapshots" / "acls.yaml",
    )
    return StepContext(
        target,  # never used: the step reads the snapshot, not the source
        target,
        UI(json_mode=True),
        target_plane=plane,
        state_dir=state,
        acls=acls,
        target_spec=ClusterSpec(type="kafka", bootstrap_servers=bootstrap),
    )


def acl_step():  # type: ignore[no-untyped-def]
    return build_step(ProvisionAclsStep(action="provision-acls", snapshot="snapshots/acls.yaml"))


def test_execute_creates_the_mapped_bindings_and_rollback_removes_only_those(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The source-like set of ``User:orders-svc`` (prefixed, literal, DENY, group,
    transactional-id; the legacy principal dropped) is provisioned for a new SCRAM user.
    One of its bindings (READ on ``orders-a``) is on the target before the step: the
    record lists it as existing, not created.  Then, as that user: produce to
    ``orders-a``, consume it with ``g1`` and a transaction as ``tx-1`` succeed; produce
    to ``orders-b`` (DENY) and ``payments`` (no binding), and consume with ``g2`` are
    denied.  Rollback deletes exactly the created bindings: the one that existed before
    survives, so the user can still consume but no longer produce."""
    svc = f"{prefix}svc"
    cfg = add_scram_user(brokers, svc)
    for name in ("orders-a", "orders-b", "payments"):
        create_topic(brokers.target, f"{prefix}{name}", 1)
    admin = admin_acls(brokers)
    before = parse_binding(
        {"resource_type": "TOPIC", "name": f"{prefix}orders-a", "pattern_type": "LITERAL",
         "principal": f"User:{svc}", "operation": "READ", "permission": "ALLOW"}
    )  # fmt: skip
    admin.create([before])
    seen = eventually(lambda: "yes" if before in admin.describe().bindings else "no", "yes")
    assert seen == "yes"
    acls = AclsSpec(principals={"User:orders-svc": f"User:{svc}"}, drop=["User:legacy-batch"])
    ctx = step_context(brokers, tmp_path, source_like_set(prefix), acls)
    step = acl_step()
    record: dict = {}
    try:
        record = step.run(ctx, {})

        assert record["existing"] == [before.to_dict()]
        created = {parse_binding(b) for b in record["created"]}
        assert len(created) == 4 and before not in created
        assert {b.principal for b in created} == {f"User:{svc}"}
        assert eventually(lambda: produce_as(cfg, f"{prefix}orders-a"), "ok") == "ok"
        # The group coordinator may still be loading on a fresh cluster: retried.
        assert eventually(lambda: consume_as(cfg, f"{prefix}orders-a", f"{prefix}g1"), "ok") == "ok"
        txn = eventually(  # the transaction coordinator may still be loading: 60 s
            lambda: produce_in_transaction(cfg, f"{prefix}orders-a", f"{prefix}tx-1"), "ok", 60
        )
        assert txn == "ok"
        assert eventually(lambda: produce_as(cfg, f"{prefix}orders-b"), DENIED) == DENIED
        assert produce_as(cfg, f"{prefix}payments") == DENIED
        assert consume_as(cfg, f"{prefix}orders-a", f"{prefix}g2") == "GROUP_AUTHORIZATION_FAILED"

        lines = step.rollback(ctx, record)

        assert lines == ["deleted 4 ACL bindings kmigrate created"]

        def held() -> set[AclBinding]:
            return {b for b in admin.describe().bindings if b.principal == f"User:{svc}"}

        # DescribeAcls answers from the broker's copy of the metadata log: it may lag.
        settled = eventually(lambda: "kept" if held() == {before} else "not yet", "kept")
        assert settled == "kept", held()
        assert eventually(lambda: produce_as(cfg, f"{prefix}orders-a"), DENIED) == DENIED
    finally:
        admin.delete([before, *(parse_binding(b) for b in record.get("created", []))])


def test_an_unmapped_principal_is_refused_by_name_and_nothing_is_created(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """``User:legacy-batch`` is neither mapped nor dropped: the step fails naming it and
    no binding of the mapped principal reaches the target either."""
    svc = f"{prefix}svc2"
    acls = AclsSpec(principals={"User:orders-svc": f"User:{svc}"})
    ctx = step_context(brokers, tmp_path, source_like_set(prefix), acls)

    with pytest.raises(StepFailed, match="unmapped principal\\(s\\) User:legacy-batch"):
        acl_step().run(ctx, {})
    assert not [b for b in admin_acls(brokers).describe().bindings if b.principal == f"User:{svc}"]


def export(*args: str, env: dict[str, str] | None = None) -> Any:
    from kmigrate.cli import cli

    return CliRunner().invoke(cli, ["export", *args], env=env, catch_exceptions=False)


def test_export_says_no_authorizer_and_writes_no_acls_key(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The tests' ZooKeeper source runs no authorizer: ``export`` says "no authorizer" (not
    "no ACLs") and its snapshot has no ``acls`` key (an empty list would claim "none")."""
    create_topic(brokers.source, f"{prefix}orders", 1)
    out = tmp_path / "snap.yaml"

    made = export("-b", brokers.source, "--topic", f"{prefix}*", "-o", str(out))

    assert made.exit_code == 0, made.output
    assert "no authorizer on the source" in " ".join(made.output.split())
    assert "acls" not in yaml.safe_load(out.read_text())


def test_export_writes_the_bindings_of_a_cluster_with_an_authorizer(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The ACL-enabled cluster read as a source (as ``admin``, which export only reads):
    prefixed, wildcard and DENY bindings, group and transactional-id resources land in the
    snapshot's ``acls`` exactly as the cluster holds them."""
    cfg = brokers.clusters[1].config_for(apache_kafka.ADMIN_USER)
    bootstrap = cfg.pop("bootstrap.servers")
    password = cfg.pop("sasl.password")
    settings = [x for k, v in cfg.items() for x in ("-X", f"{k}={v}")]
    wanted = [b.with_principal(f"User:{prefix}exp") for b in source_like_set(prefix)]
    admin = admin_acls(brokers)
    admin.create(wanted)
    out = tmp_path / "snap.yaml"
    try:
        mine: list[AclBinding] = []
        for _attempt in range(20):  # DescribeAcls answers from each broker's metadata copy
            made = export("-b", bootstrap, *settings, "-X", "sasl.password=${PW}",
                          "--topic", f"{prefix}*", "-o", str(out),
                          env={"PW": password})  # fmt: skip
            assert made.exit_code == 0, made.output
            snap = yaml.safe_load(out.read_text())
            mine = [parse_binding(b) for b in snap["acls"] if b["principal"] == f"User:{prefix}exp"]
            if len(mine) == len(set(wanted)):
                break
            time.sleep(0.5)
        assert sorted(mine) == sorted(set(wanted))
        assert password not in out.read_text() and password not in made.output
    finally:
        admin.delete(wanted)

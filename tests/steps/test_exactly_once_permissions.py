"""check-connectivity with MirrorMaker 2 exactly-once source (KIP-618): the principal
MM2's tasks write as needs Write and Describe on each task's transactional id
(``${groupId}-${connector}-${taskId}``) and IdempotentWrite on the cluster.

The rules (:func:`kmigrate.permissions.exactly_once_missing`) are tested on binding
lists; the check itself on the real ACL-enabled Kafka 4.1 target (SASL_SSL as the
``kmigrate`` principal, StandardAuthorizer), ``--broker apache-kafka`` only: Tansu has
no ACLs (sandbox-broker.md fact 8).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kmigrate.acls.model import AclBinding, parse_binding
from kmigrate.adapters import apache_kafka
from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.errors import StepFailed
from kmigrate.permissions import ExactlyOnceWriter, exactly_once_missing
from kmigrate.steps.base import StepContext
from kmigrate.steps.connectivity import check_permissions
from kmigrate.ui import UI
from tests.conftest import Brokers, create_on_both
from tests.security.test_security_apache_kafka import PASSWORD_ENV, run, sasl_plan, the_password

WHO = "User:kmigrate"
WRITER = ExactlyOnceWriter(WHO, "shop-source", 2, "connect-shop")


def _b(
    rtype: str, name: str, op: str, *, pattern: str = "LITERAL", allow: bool = True
) -> AclBinding:
    return parse_binding(
        {
            "resource_type": rtype,
            "name": name,
            "pattern_type": pattern,
            "principal": WHO,
            "host": "*",
            "operation": op,
            "permission": "ALLOW" if allow else "DENY",
        }
    )


IDEMPOTENT = _b("CLUSTER", "kafka-cluster", "IDEMPOTENT_WRITE")


def _missing(writer: ExactlyOnceWriter, *bindings: AclBinding) -> list[str]:
    return [str(m).split(" (")[0] for m in exactly_once_missing(writer, bindings)]


def test_nothing_granted_names_every_transactional_id_and_the_cluster() -> None:
    assert _missing(WRITER) == [
        "WRITE on target transactional id connect-shop-shop-source-0",
        "DESCRIBE on target transactional id connect-shop-shop-source-0",
        "WRITE on target transactional id connect-shop-shop-source-1",
        "DESCRIBE on target transactional id connect-shop-shop-source-1",
        "IDEMPOTENT_WRITE on target cluster kafka-cluster",
    ]
    (first, *_) = exactly_once_missing(WRITER, [])
    assert "MirrorMaker 2 exactly-once (KIP-618) as User:kmigrate" in first.why
    assert "task 0" in first.why


def test_write_grants_describe_and_a_prefix_covers_every_task() -> None:
    """WRITE implies DESCRIBE (Kafka's authorizer); KIP-618's prefixed
    ``${groupId}-${connector}`` binding covers each task; ALL covers everything."""
    prefixed = _b("TRANSACTIONAL_ID", "connect-shop-shop-source", "WRITE", pattern="PREFIXED")
    assert _missing(WRITER, prefixed, IDEMPOTENT) == []
    literal = [_b("TRANSACTIONAL_ID", f"connect-shop-shop-source-{t}", "WRITE") for t in (0, 1)]
    assert _missing(WRITER, *literal, IDEMPOTENT) == []
    assert (
        _missing(WRITER, _b("TRANSACTIONAL_ID", "*", "ALL"), _b("CLUSTER", "kafka-cluster", "ALL"))
        == []
    )
    # Task 1's literal id is missing: named alone.
    assert _missing(WRITER, literal[0], IDEMPOTENT) == [
        "WRITE on target transactional id connect-shop-shop-source-1",
        "DESCRIBE on target transactional id connect-shop-shop-source-1",
    ]


def test_deny_wins_and_other_principals_or_ids_do_not_count() -> None:
    allow_all = _b("TRANSACTIONAL_ID", "*", "WRITE")
    deny = _b("TRANSACTIONAL_ID", "connect-shop-shop-source-0", "WRITE", allow=False)
    assert _missing(WRITER, allow_all, deny, IDEMPOTENT) == [
        "WRITE on target transactional id connect-shop-shop-source-0"
    ]
    other = AclBinding(**{**allow_all.__dict__, "principal": "User:someone-else"})
    wrong_prefix = _b("TRANSACTIONAL_ID", "connect-other", "WRITE", pattern="PREFIXED")
    read_only = _b("TRANSACTIONAL_ID", "*", "DESCRIBE")
    assert len(_missing(WRITER, other, wrong_prefix, read_only, IDEMPOTENT)) == 2


def test_without_the_group_id_the_kip_618_shapes_count() -> None:
    """The Connect cluster's group.id unknown: a literal id ending in
    ``-CONNECTOR-T`` or a prefix ending in ``-CONNECTOR`` counts, another prefix not."""
    writer = ExactlyOnceWriter(WHO, "shop-source", 1)
    assert writer.transactional_ids() == ["<group.id>-shop-source-0"]
    assert _missing(writer, _b("TRANSACTIONAL_ID", "g1-shop-source-0", "WRITE"), IDEMPOTENT) == []
    prefixed = _b("TRANSACTIONAL_ID", "g1-shop-source", "WRITE", pattern="PREFIXED")
    assert _missing(writer, prefixed, IDEMPOTENT) == []
    other = _b("TRANSACTIONAL_ID", "g1-other-source", "WRITE", pattern="PREFIXED")
    assert len(_missing(writer, other, IDEMPOTENT)) == 2


def test_a_plan_naming_the_connect_group_id_makes_the_ids_exact(tmp_path: Path) -> None:
    """``connect.group_id`` in the plan reaches the check: each task's transactional id
    is ``GROUP-NAME-source-T`` (KIP-618), so a binding of the same shape for another
    Connect group no longer counts; without it that binding counts (shape match)."""
    from types import SimpleNamespace

    from kmigrate.context import exactly_once_writer
    from kmigrate.plan import load_plan

    def writer(extra: str) -> ExactlyOnceWriter:
        path = tmp_path / "plan.yaml"
        path.write_text(
            "version: 1\nname: shop\nclusters:\n"
            "  source: {type: kafka, bootstrap_servers: 's:9092'}\n"
            "  target: {type: kafka, bootstrap_servers: 't:9092'}\n"
            "topics: {include: ['orders']}\n"
            + PHASES.format(name="m", exactly_once="exactly_once: true" + extra)
        )
        target = SimpleNamespace(config={"sasl.username": "kmigrate"})
        found = exactly_once_writer(load_plan(str(path)), target)  # type: ignore[arg-type]
        assert found is not None
        return found

    exact = writer("\n          group_id: connect-shop")
    assert exact.transactional_ids() == ["connect-shop-m-source-0", "connect-shop-m-source-1"]
    other_group = [_b("TRANSACTIONAL_ID", f"connect-other-m-source-{t}", "WRITE") for t in (0, 1)]
    assert len(_missing(exact, *other_group, IDEMPOTENT)) == 4
    assert _missing(writer(""), *other_group, IDEMPOTENT) == []


# --- on the real ACL-enabled target ------------------------------------------------------

#: The plan's phases: preflight, then a mirror step running MirrorMaker 2 on a Connect
#: REST API that does not answer (port 9: the preflight must not need it when the
#: plan says exactly_once).
PHASES = """\
phases:
  - name: preflight
    steps:
      - action: check-connectivity
  - name: copy
    steps:
      - action: mirror
        engine: mirrormaker2
        connect:
          url: http://127.0.0.1:9
          tasks_max: 2
          name: {name}
          {exactly_once}
"""


@pytest.fixture
def sasl_target(brokers: Brokers) -> Iterator[KafkaCluster]:
    if not brokers.real:
        pytest.skip("Tansu has no ACLs (sandbox-broker.md fact 8)")
    config = {k: v for k, v in brokers.target_sasl.items() if k != "bootstrap.servers"}
    yield KafkaCluster("target", brokers.target_sasl["bootstrap.servers"], config)


def test_check_connectivity_refuses_missing_transactional_id_acls_then_passes(
    brokers: Brokers, sasl_target: KafkaCluster, prefix: str
) -> None:
    """On the real target, as ``kmigrate`` (which holds the migration's ACLs, and
    IdempotentWrite, but no transactional id): check-connectivity with an MM2
    exactly-once writer refuses, naming each task's transactional id and the
    principal; once Write is granted on both ids (literal bindings), it passes.
    DescribeAcls answers from the broker's copy of the metadata log, so the passing
    check is retried for a few seconds after the grant."""
    topic = f"{prefix}eos"
    create_on_both(brokers, topic, 1)
    writer = ExactlyOnceWriter(WHO, f"{prefix}mm2-source", 2, f"{prefix}connect")
    ids = writer.transactional_ids()
    ctx = StepContext(
        source=KafkaCluster("source", brokers.source),
        target=sasl_target,
        ui=UI(),
        include=(topic,),
        actions=("mirror",),
        exactly_once_writer=writer,
    )
    with pytest.raises(StepFailed) as refused:
        check_permissions(ctx)
    message = str(refused.value)
    assert "lacks 4 operation(s)" in message, message
    for name in ids:
        assert f"WRITE on target transactional id {name}" in message
        assert f"DESCRIBE on target transactional id {name}" in message
    assert "as User:kmigrate" in message

    acls = [("TRANSACTIONAL_ID", name, "WRITE") for name in ids]
    internal = brokers.clusters[1].internal
    apache_kafka.grant_acls(internal, WHO, acls)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                checked = check_permissions(ctx)
                break
            except StepFailed:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        apache_kafka.revoke_acls(internal, WHO, acls)
    assert checked["missing"] == []
    assert checked["not_checked"] == []


def test_a_plan_with_mm2_exactly_once_is_refused_at_preflight_then_passes(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The whole path from the plan: a mirror step with ``engine: mirrormaker2`` and
    ``connect.exactly_once: true`` makes ``kmigrate execute --phase preflight``
    check the transactional ids of its source connector (``connect.name`` +
    ``-source``, ``tasks_max`` tasks) for the plan's target principal.  The Connect
    cluster's group.id is not in the plan, so the refusal names
    ``<group.id>-NAME-source-T`` and literal bindings of KIP-618's shape
    (``GROUP-NAME-source-T``) let it pass.  Exit 1 with each id named, then 0; the
    password never in the output."""
    if not brokers.real:
        pytest.skip("Tansu has no ACLs (sandbox-broker.md fact 8)")
    topic = f"{prefix}eosplan"
    create_on_both(brokers, topic, 1)
    name = f"{prefix}mm2"
    phases = PHASES.format(name=name, exactly_once="exactly_once: true")
    plan = sasl_plan(tmp_path, brokers, topic, phases=phases)
    env = {PASSWORD_ENV: the_password(brokers)}

    refused = run("execute", str(plan), "--phase", "preflight", env=env)

    assert refused.exit_code == 1, refused.output
    for task in (0, 1):
        assert f"WRITE on target transactional id <group.id>-{name}-source-{task}" in (
            refused.output
        )
    assert the_password(brokers) not in refused.output

    acls = [("TRANSACTIONAL_ID", f"connect-x-{name}-source-{t}", "WRITE") for t in (0, 1)]
    internal = brokers.clusters[1].internal
    apache_kafka.grant_acls(internal, WHO, acls)
    try:
        deadline = time.monotonic() + 15
        while True:
            passed = run("execute", str(plan), "--phase", "preflight", env=env)
            if passed.exit_code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        apache_kafka.revoke_acls(internal, WHO, acls)
    assert passed.exit_code == 0, passed.output
    assert "MirrorMaker 2 exactly-once on 2 transactional ids" in passed.output


def test_exactly_once_left_to_the_connect_cluster_is_asked_and_said(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """Without ``exactly_once`` in the plan the MM2 step uses exactly-once only where
    the Connect cluster has it, so the preflight asks the cluster; one that does not
    answer is said ("not checked", naming it), not taken as "no exactly-once" and not
    a failure of the preflight (exit 0)."""
    if not brokers.real:
        pytest.skip("Tansu has no ACLs (sandbox-broker.md fact 8)")
    topic = f"{prefix}eosauto"
    create_on_both(brokers, topic, 1)
    phases = PHASES.format(name=f"{prefix}mm2", exactly_once="")
    plan = sasl_plan(tmp_path, brokers, topic, phases=phases)

    result = run(
        "execute", str(plan), "--phase", "preflight", env={PASSWORD_ENV: the_password(brokers)}
    )

    assert result.exit_code == 0, result.output
    assert (
        f"MirrorMaker 2 exactly-once transactional ids of {prefix}mm2-source not checked: "
        "Kafka Connect at http://127.0.0.1:9 did not answer" in " ".join(result.output.split())
    ), result.output

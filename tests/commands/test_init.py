"""Issue 15, ``kmigrate init``: a commented plan and a snapshot written from the live
source, which ``kmigrate plan --offline`` accepts as written, for every target type;
no secret value in either file; "no authorizer" said rather than "no ACLs"; and, on
real Apache Kafka, a cluster's ACL bindings read into the snapshot and the plan.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from kmigrate.acls.model import parse_bindings
from kmigrate.adapters import apache_kafka
from kmigrate.adapters.kafka_acls import KafkaAcls
from kmigrate.plan import load_plan
from kmigrate.plan.schema import ManualStep
from kmigrate.plan.writer import TODO
from kmigrate.steps import build_step
from tests.conftest import Brokers, create_topic, produce
from tests.support.clients import commit

pytestmark = pytest.mark.broker

SECRET = "s3cret-value-that-must-never-be-written"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli_root(), list(args), env=env, catch_exceptions=False)


def cli_root() -> Any:
    from kmigrate.cli import cli

    return cli


def source_with_data(brokers: Brokers, prefix: str) -> tuple[str, str, str]:
    """Two topics (one with a customised config) and a consumer group on the source."""
    orders, audit, group = f"{prefix}orders", f"{prefix}audit", f"{prefix}billing"
    create_topic(brokers.source, orders, 3, {"retention.ms": "172800000"})
    create_topic(brokers.source, audit, 1)
    produce(brokers.source, orders, [{"key": b"k", "value": b"v", "partition": 0}])
    commit(brokers.source, group, {(orders, 0): 1})
    return orders, audit, group


@pytest.mark.parametrize("target_type", ["kafka", "msk", "eventhubs", "confluent-cloud"])
def test_init_writes_a_plan_that_plan_offline_accepts(
    brokers: Brokers, prefix: str, tmp_path: Path, target_type: str
) -> None:
    """init against the real source, then ``plan --offline`` on its output as written:
    exit 0, every selected topic to be created, every phase in the issue's order, the
    cutover checks in order, each step with a rollback, and placeholders marked."""
    orders, audit, group = source_with_data(brokers, prefix)
    plan = tmp_path / "plan.yaml"

    made = run("init", "--source", brokers.source, "--topic", f"{prefix}*",
               "--target-type", target_type, "-o", str(plan))  # fmt: skip

    assert made.exit_code == 0, made.output
    snapshot = tmp_path / "plan.snapshot.yaml"
    checked = run("plan", str(plan), "--offline", "--snapshot", str(snapshot), "--output", "json")
    assert checked.exit_code == 0, checked.output
    result = json.loads(checked.stdout)
    assert {t["name"]: t["action"] for t in result["topics"]} == {
        orders: "create",
        audit: "create",
    }
    loaded = load_plan(plan).model
    assert loaded.clusters.target.type == target_type
    assert loaded.clusters.source.bootstrap_servers == brokers.source
    assert [p.name for p in loaded.phases] == [
        "preflight", "provision-topics", "provision-acls", "mirror", "cutover", "verify",
        "translate-offsets", "report",
    ]  # fmt: skip
    actions = [getattr(s, "action", None) or s.id for p in loaded.phases for s in p.steps]
    order = ["source-quiet", "verify", "translate-offsets", "consumers-on-target"]
    assert [a for a in actions if a in order] == order
    assert sorted(loaded.topics.include) == sorted([orders, audit])
    translate = next(s for p in loaded.phases for s in p.steps if s.id is None
                     and getattr(s, "action", "") == "translate-offsets")  # fmt: skip
    assert translate.groups.include == [group]
    for phase in loaded.phases:
        for step in phase.steps:
            if isinstance(step, ManualStep):
                assert step.rollback, f"manual step {step.id} has no rollback"
            else:
                assert build_step(step).rollback_summary
    text = plan.read_text()
    assert text.count(TODO) >= 2
    assert "- action: provision-acls" in text and "\nacls:" not in text  # no binding here
    snap = yaml.safe_load(snapshot.read_text())
    assert snap["topics"][orders]["configs"] == {"retention.ms": "172800000"}
    assert snap["consumer_groups"] == {group: {orders: {0: 1}}}


def test_init_writes_no_secret_value(brokers: Brokers, prefix: str, tmp_path: Path) -> None:
    """``-X sasl.password=${VAR}``: the plan keeps the reference, and the value (set in
    the environment, resolved to connect) is in neither file nor the output.  A literal
    ``-X sasl.password=...`` is refused (exit 2), unechoed, and nothing is written."""
    source_with_data(brokers, prefix)
    plan = tmp_path / "plan.yaml"
    env = {"SRC_PW": SECRET}

    made = run("init", "-b", brokers.source, "--topic", f"{prefix}*", "--target-type",
               "kafka", "-X", "sasl.username=svc", "-X", "sasl.password=${SRC_PW}",
               "-o", str(plan), env=env)  # fmt: skip

    assert made.exit_code == 0, made.output
    snapshot = tmp_path / "plan.snapshot.yaml"
    for text in (plan.read_text(), snapshot.read_text(), made.output):
        assert SECRET not in text
    assert '"sasl.password": "${SRC_PW}"' in plan.read_text()
    assert load_plan(plan).model.clusters.source.config["sasl.password"] == "${SRC_PW}"

    other = tmp_path / "other.yaml"
    refused = run("init", "-b", brokers.source, "--target-type", "kafka",
                  "-X", f"sasl.password={SECRET}", "-o", str(other))  # fmt: skip
    assert refused.exit_code == 2, refused.output
    assert SECRET not in refused.output
    assert not other.exists() and not (tmp_path / "other.snapshot.yaml").exists()


def test_init_says_no_authorizer_rather_than_no_acls(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The tests' Apache Kafka source runs no authorizer: init says so (output and plan),
    and the snapshot has no ``acls`` key (not an empty list, which would claim "none")."""
    if not brokers.real:
        pytest.skip("Tansu reports no authorizer.class.name at all (sandbox-broker.md fact 8)")
    source_with_data(brokers, prefix)
    plan = tmp_path / "plan.yaml"

    made = run("init", "-b", brokers.source, "--topic", f"{prefix}*", "--target-type", "msk",
               "-o", str(plan))  # fmt: skip

    assert made.exit_code == 0, made.output
    assert "no authorizer on the source" in " ".join(made.output.split())
    assert "no authorizer on the source" in plan.read_text()
    assert "acls" not in yaml.safe_load((tmp_path / "plan.snapshot.yaml").read_text())


def test_init_reads_acl_bindings_into_the_snapshot_and_the_plan(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """On a cluster with an authorizer (the Apache Kafka target, read as a source through
    its SASL_SSL listener as ``admin``; init only reads it): prefixed, wildcard and DENY
    bindings, group and transactional-id resources land in the snapshot exactly, each
    principal is listed in the plan's ``acls`` block mapped to a marked placeholder, and
    the plan still passes ``plan --offline``."""
    if not brokers.real:
        pytest.skip("Tansu has no authorizer (sandbox-broker.md fact 8)")
    cluster = brokers.clusters[1]
    cfg = cluster.config_for(apache_kafka.ADMIN_USER)
    bootstrap = cfg.pop("bootstrap.servers")
    who, other = f"User:{prefix}svc", f"User:{prefix}batch"
    wanted = parse_bindings(
        [
            {"resource_type": "TOPIC", "name": f"{prefix}orders-", "pattern_type": "PREFIXED",
             "principal": who, "operation": "WRITE", "permission": "ALLOW"},
            {"resource_type": "TOPIC", "name": "*", "pattern_type": "LITERAL",
             "principal": other, "operation": "DESCRIBE", "permission": "ALLOW"},
            {"resource_type": "TOPIC", "name": f"{prefix}orders-pii", "pattern_type": "LITERAL",
             "principal": who, "operation": "READ", "permission": "DENY"},
            {"resource_type": "GROUP", "name": f"{prefix}g", "pattern_type": "LITERAL",
             "principal": who, "operation": "READ", "permission": "ALLOW"},
            {"resource_type": "TRANSACTIONAL_ID", "name": f"{prefix}tx-",
             "pattern_type": "PREFIXED", "principal": other, "operation": "WRITE",
             "permission": "ALLOW"},
        ]
    )  # fmt: skip
    acls = KafkaAcls.connect("target", bootstrap, cfg)
    acls.create(wanted)
    try:
        password = cfg.pop("sasl.password")
        settings = [x for k, v in cfg.items() for x in ("-X", f"{k}={v}")]
        plan = tmp_path / "plan.yaml"
        create_topic(brokers.target, f"{prefix}orders-a", 1)
        env = {"TARGET_ADMIN_PW": password}
        for _attempt in range(20):  # DescribeAcls answers from each broker's metadata copy
            made = run("init", "-b", bootstrap, *settings, "-X", "sasl.password=${TARGET_ADMIN_PW}",
                       "--topic", f"{prefix}*", "--target-type", "confluent-cloud",
                       "-o", str(plan), "--force", env=env)  # fmt: skip
            assert made.exit_code == 0, made.output
            snap = yaml.safe_load((tmp_path / "plan.snapshot.yaml").read_text())
            mine = [b for b in snap["acls"] if prefix in b["principal"]]
            if len(mine) == len(wanted):
                break
        assert sorted(parse_bindings(mine)) == sorted(wanted)
        text = plan.read_text()
        assert password not in text and password not in made.output
        for principal in (who, other):
            assert re.search(
                rf'^    "{re.escape(principal)}": "<TARGET PRINCIPAL for {re.escape(principal)}>"'
                rf"  # {re.escape(TODO)}$",
                text,
                re.M,
            ), text
        checked = run("plan", str(plan), "--offline", "--snapshot",
                      str(tmp_path / "plan.snapshot.yaml"))  # fmt: skip
        assert checked.exit_code == 0, checked.output
    finally:
        acls.delete(wanted)


def test_init_keeps_an_existing_plan_and_takes_the_file_as_out(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A second init onto the same file is refused (exit 2, naming it) and leaves the plan
    as it was; ``--force`` replaces it.  ``--output FILE`` is refused naming ``-o/--out``
    (``--output`` is a format on every command)."""
    source_with_data(brokers, prefix)
    plan = tmp_path / "plan.yaml"
    args = ["init", "-b", brokers.source, "--topic", f"{prefix}*", "--target-type", "kafka"]
    assert run(*args, "-o", str(plan)).exit_code == 0
    plan.write_text(plan.read_text() + "# edited by the operator\n")

    again = run(*args, "-o", str(plan))

    assert again.exit_code == 2
    said = " ".join(again.output.split())
    assert f"{plan} and {tmp_path / 'plan.snapshot.yaml'} already exist;" in said
    assert plan.read_text().endswith("# edited by the operator\n")
    assert run(*args, "-o", str(plan), "--force").exit_code == 0
    assert "# edited by the operator" not in plan.read_text()

    as_output = run(*args, "--output", str(tmp_path / "x.yaml"))
    assert as_output.exit_code == 2 and "-o/--out" in as_output.output
    assert not (tmp_path / "x.yaml").exists()


def test_the_plan_init_writes_runs_phase_by_phase(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The written plan, its placeholders filled (the target's bootstrap servers) and its
    waits shortened for a test (mirror until caught-up instead of until stopped, quiet_s
    2, timeout_s 30), runs every phase in order: the topics are created and copied,
    verify finds no mismatch, the group is translated, and consumers-on-target passes
    with a consumer of the group on the target."""
    from tests.support.cutover_clients import Consuming, journal_record

    orders, audit, group = source_with_data(brokers, prefix)
    plan = tmp_path / "plan.yaml"
    made = run("init", "-b", brokers.source, "--topic", f"{prefix}*", "--target-type",
               "kafka", "-o", str(plan))  # fmt: skip
    assert made.exit_code == 0, made.output
    text = plan.read_text()
    for old, new in [
        ("todo-target-broker.invalid:9092", brokers.target),
        ("until: stopped", "until: caught-up\n        settle_s: 1"),
        ("quiet_s: 30", "quiet_s: 2"),
        ("timeout_s: 300", "timeout_s: 30"),
        ('state_dir: ".kmigrate/', 'state_dir: "state" # '),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    plan.write_text(text)

    phases = [p.name for p in load_plan(plan).model.phases]
    for phase in phases[: phases.index("translate-offsets")]:
        done = run("execute", str(plan), "--phase", phase, "--yes")
        assert done.exit_code == 0, f"phase {phase}: {done.output}"
    # The operator starts the consumers on the target once translate-offsets is done
    # (the manual step), while consumers-on-target waits for them.
    translated = tmp_path / "state" / "journal.json"
    stop = threading.Event()

    def start_consumers() -> None:
        while not stop.is_set():
            steps = json.loads(translated.read_text())["steps"]
            if steps.get("translate-offsets", {}).get("status") == "succeeded":
                with Consuming(brokers.target, group, orders):
                    stop.wait(60)
                return
            time.sleep(0.2)

    operator = threading.Thread(target=start_consumers, daemon=True)
    operator.start()
    try:
        for phase in phases[phases.index("translate-offsets") :]:
            done = run("execute", str(plan), "--phase", phase, "--yes")
            assert done.exit_code == 0, f"phase {phase}: {done.output}"
    finally:
        stop.set()
        operator.join(60)

    assert journal_record(plan, "verify")["mismatched"] == 0
    assert journal_record(plan, "source-quiet")["quiet"] is True
    assert journal_record(plan, "consumers-on-target")["holds"] is True
    assert sorted(journal_record(plan, "provision-topics")["created"]) == sorted([orders, audit])


def test_init_warns_when_a_secret_file_reference_would_move_with_the_plan(
    brokers: Brokers, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-X sasl.password=${file:pw.txt}`` is read from the current folder by init, but
    from the plan's folder when the plan runs: with the plan written elsewhere, init says
    so and writes the reference (never the file's content)."""
    source_with_data(brokers, prefix)
    here = tmp_path / "cwd"
    here.mkdir()
    (here / "pw.txt").write_text(SECRET + "\n")
    monkeypatch.chdir(here)
    plan = tmp_path / "plans" / "plan.yaml"
    plan.parent.mkdir()

    made = run("init", "-b", brokers.source, "--topic", f"{prefix}*", "--target-type", "kafka",
               "-X", "sasl.password=${file:pw.txt}", "-o", str(plan))  # fmt: skip

    assert made.exit_code == 0, made.output
    said = " ".join(made.output.split())
    assert "-X sasl.password: ${file:pw.txt} was read from" in said
    assert f"relative to the plan's folder {plan.parent}" in said
    assert '"${file:pw.txt}"' in plan.read_text() and SECRET not in plan.read_text()
    assert SECRET not in made.output

"""``engine: mirrormaker2`` in a plan and on the command line: what is refused (file,
line, key; exit 2) and what ``kmigrate plan`` shows (the connector configs, secrets as
references).  No cluster is reached: ``plan --offline`` and usage errors only."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from kmigrate.cli import cli

HEAD = """\
version: 1
name: shop
clusters:
  source: {type: kafka, bootstrap_servers: "src:9092"}
  target:
    type: kafka
    bootstrap_servers: "tgt:9093"
    config:
      security.protocol: SASL_SSL
      sasl.mechanisms: SCRAM-SHA-512
      sasl.username: kmigrate
      sasl.password: ${TARGET_PW}
topics:
  include: ["orders-*"]
phases:
  - name: copy
    steps:
      - action: mirror
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(HEAD + step)
    return path


def refused(tmp_path: Path, step: str) -> tuple[Path, str]:
    """``kmigrate plan --offline`` of a plan whose mirror step ends in ``step``,
    which must exit 2: (the plan's path, the output)."""
    plan = write(tmp_path, step)
    result = run("plan", str(plan), "--offline")
    assert result.exit_code == 2, result.output
    return plan, result.output


def test_engine_mirrormaker2_without_connect_is_refused_naming_file_line_and_key(
    tmp_path: Path,
) -> None:
    """No ``connect`` block, a connect block with the native engine, a literal password,
    a non-HTTP URL, both homes: each refused with the file, line and key (exit 2)."""
    plan, out = refused(tmp_path, "        engine: mirrormaker2\n")
    assert f"{plan}:18: phases[1].steps[1].connect: engine mirrormaker2 needs a connect" in out
    _plan, out = refused(tmp_path, "        connect: {url: 'http://c:8083'}\n")
    assert "phases[1].steps[1].connect: a connect block is for engine: mirrormaker2" in out
    plan, out = refused(
        tmp_path,
        "        engine: mirrormaker2\n        connect:\n          url: ftp://c\n"
        "          password: hunter2\n",
    )
    assert f"{plan}:21: phases[1].steps[1].connect.url: expected an http://" in out
    assert f"{plan}:22: phases[1].steps[1].connect.password: expected a ${{ENV_VAR}}" in out
    assert "hunter2" not in out
    _plan, out = refused(
        tmp_path,
        "        engine: mirrormaker2\n        connect:\n          url: http://c:8083\n"
        "          msk_connect: {region: eu-west-1, role_arn: r, plugin_arn: p, subnets: [s]}\n",
    )
    assert "expected exactly one of url (a Kafka Connect REST API) and msk_connect; found both" in (
        out
    )


def test_plan_shows_the_connector_configs_with_secrets_as_references(tmp_path: Path) -> None:
    """``kmigrate plan`` prints the MirrorSourceConnector and MirrorCheckpointConnector
    configs the step will create, from the plan: the topic selection as MM2 regexes,
    IdentityReplicationPolicy, config/ACL sync off, offset-syncs on the target, the
    tasks, and the target password as a Connect config-provider reference."""
    plan = write(
        tmp_path,
        "        engine: mirrormaker2\n"
        "        connect: {url: 'http://c:8083', tasks_max: 4, checkpoints: true}\n",
    )
    result = run("plan", str(plan), "--offline", "--output", "json")
    assert result.exit_code == 0, result.output
    configs = json.loads(result.stdout)["connectors"]["phases[1].steps[1]"]
    source, checkpoint = configs
    assert source["name"] == "kmigrate-shop-source"
    assert source["tasks.max"] == "4"
    assert source["topics"] == "orders-.*"
    assert source["replication.policy.class"].endswith("IdentityReplicationPolicy")
    assert source["sync.topic.configs.enabled"] == "false"
    assert source["sync.topic.acls.enabled"] == "false"
    assert source["offset-syncs.topic.location"] == "target"
    assert 'password="${env:TARGET_PW}"' in source["target.cluster.sasl.jaas.config"]
    assert checkpoint["name"] == "kmigrate-shop-checkpoint"
    text = run("plan", str(plan), "--offline").output
    assert "MirrorMaker 2 connectors of phases[1].steps[1] (on http://c:8083)" in text
    assert "${env:TARGET_PW}" in text


def test_plan_says_where_exactly_once_support_is_asked_and_where_not(tmp_path: Path) -> None:
    """With ``exactly_once`` left out, ``kmigrate plan`` says a Connect REST API is asked
    at run time, and that MSK Connect (whose REST API kmigrate cannot reach) is not
    asked: its connectors run without exactly-once unless the plan says so."""
    plan = write(
        tmp_path, "        engine: mirrormaker2\n        connect: {url: 'http://c:8083'}\n"
    )
    text = run("plan", str(plan), "--offline").output
    assert "(KIP-618): asked of the Connect cluster at run time" in text
    plan = tmp_path / "msk.yaml"
    plan.write_text(
        HEAD.replace(
            "    config:\n      security.protocol: SASL_SSL\n      sasl.mechanisms: SCRAM-SHA-512\n"
            "      sasl.username: kmigrate\n      sasl.password: ${TARGET_PW}\n",
            "",
        )
        + "        engine: mirrormaker2\n        connect:\n          msk_connect:\n"
        "            {region: eu-west-1, role_arn: r, plugin_arn: p, subnets: [s]}\n"
    )
    result = run("plan", str(plan), "--offline")
    assert result.exit_code == 0, result.output
    assert "MirrorMaker 2 connectors of phases[1].steps[1] (on MSK Connect (eu-west-1))" in (
        result.output
    )
    assert "not asked of MSK Connect; the connectors run without it" in result.output
    assert "asked of the Connect cluster at run time" not in result.output


def test_mirror_command_engine_options_are_checked() -> None:
    """``kmigrate mirror --engine mirrormaker2`` needs ``--connect-url``; the Connect
    options are refused with the native engine (exit 2, no cluster reached)."""
    result = run("mirror", "--source", "a:1", "--target", "b:1", "--engine", "mirrormaker2")
    assert result.exit_code == 2
    assert "--engine mirrormaker2 needs --connect-url" in result.output
    result = run("mirror", "--source", "a:1", "--target", "b:1", "--tasks-max", "3")
    assert result.exit_code == 2
    assert "only with --engine mirrormaker2: --tasks-max" in result.output

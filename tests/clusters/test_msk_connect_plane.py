"""MSK Connect as MirrorMaker 2's control plane (:class:`MskConnectPlane`).

Tested at the SDK boundary only: a real boto3 ``kafkaconnect`` client under
botocore's Stubber, which validates every request against the service model's input
shape and every queued answer against its output shape, but sends nothing to AWS.
What MSK Connect itself then does with a connector (its workers, its states over
time) is not exercised here; the answers queued are the shapes the API reference
documents (docs.aws.amazon.com/MSKC/latest/mskc/API_DescribeConnector.html).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from kmigrate.clusters.msk_connect import MskConnectPlane
from kmigrate.engines.mirrormaker2 import config as mm2
from kmigrate.engines.mirrormaker2 import msk, render
from kmigrate.engines.mirrormaker2.plane import ConnectPlane
from kmigrate.errors import ClusterError, UsageError
from kmigrate.plan.connect_schema import MskConnectSpec
from kmigrate.plan.schema import PlanModel
from kmigrate.plan.yaml_reader import format_loc, nearest_line, read_yaml
from tests.support.cloud_fakes import stubbed_aws_client

REGION = "eu-central-1"
ARN = f"arn:aws:kafkaconnect:{REGION}:123456789012:connector/kmigrate-source/0a1b-2"
#: The plan's ``connect.msk_connect`` block.
SPEC = MskConnectSpec(
    region=REGION,
    role_arn="arn:aws:iam::123456789012:role/mskc-mm2",
    plugin_arn=f"arn:aws:kafkaconnect:{REGION}:123456789012:custom-plugin/mm2/abcd-1",
    subnets=["subnet-0a", "subnet-0b"],
    security_groups=["sg-01"],
)
MSK = msk.msk_options(SPEC)
PLAN = PlanModel.model_validate(
    {
        "version": 1,
        "name": "shop",
        "clusters": {
            "source": {"type": "kafka", "bootstrap_servers": "10.0.0.1:9092"},
            "target": {
                "type": "msk",
                "region": REGION,
                "auth": "iam",
                "bootstrap_servers": "b-1.shop.kafka.eu-central-1.amazonaws.com:9098",
                "facts": {"cluster_type": "provisioned"},
            },
        },
        "topics": {"include": ["orders.*"]},
        "phases": [{"name": "copy", "steps": [{"action": "mirror"}]}],
    }
)


@pytest.fixture
def kafkaconnect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    with stubbed_aws_client("kafkaconnect", REGION, monkeypatch, tmp_path) as pair:
        yield pair


def _plane(client: Any, **kwargs: Any) -> MskConnectPlane:
    """The plane as the mirror step builds it: from the plan's ``msk_connect`` block
    and its target."""
    return msk.msk_connect_plane(SPEC, PLAN, client, **kwargs)


def _described(state: str, **extra: Any) -> dict[str, Any]:
    """A DescribeConnector answer in ``state`` (the fields the output shape has)."""
    return {
        "connectorArn": ARN,
        "connectorName": "kmigrate-source",
        "connectorState": state,
        "creationTime": datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC),
        **extra,
    }


def test_create_sends_the_plan_request_with_the_connector_and_returns_its_arn(
    kafkaconnect: tuple[Any, Stubber],
) -> None:
    """``create`` sends ``create_connector`` with the MSK part from the plan (role,
    plugin, subnets, IAM to the target: the same request ``mm2-config --format
    msk-connect`` writes) and the given connector's name and config (its ``name`` key
    left out); the ARN comes back as the reference."""
    client, stub = kafkaconnect
    plane: ConnectPlane = _plane(client)  # the protocol, checked by mypy
    assert plane.where == "MSK Connect (eu-central-1)"
    opts = mm2.Mm2Options(tasks_max=6, producer_override=False)  # as the step on MSK Connect
    config = mm2.source_connector(PLAN, opts)
    expected = dict(render.msk_connect_request(PLAN, mm2.Mm2Options(tasks_max=6), MSK)[0])
    assert expected["connectorName"] == "kmigrate-source"
    assert expected["connectorDescription"] == "kmigrate plan shop: MirrorMaker 2 (kmigrate-source)"
    assert expected["connectorConfiguration"] == {k: v for k, v in config.items() if k != "name"}
    assert expected["serviceExecutionRoleArn"] == MSK.role_arn
    assert expected["kafkaClusterClientAuthentication"] == {"authenticationType": "IAM"}
    stub.add_response(
        "create_connector",
        {"connectorArn": ARN, "connectorName": "kmigrate-source", "connectorState": "CREATING"},
        expected,
    )
    assert plane.create("kmigrate-source", config) == ARN


def test_status_follows_creating_to_running(kafkaconnect: tuple[Any, Stubber]) -> None:
    """CREATING and UPDATING are not running yet (UNASSIGNED, no failure), then
    RUNNING is running; DELETING reads as STOPPED.  Each poll is one
    ``describe_connector`` of the ARN."""
    client, stub = kafkaconnect
    plane = _plane(client)
    for state in ("CREATING", "UPDATING", "RUNNING", "DELETING"):
        stub.add_response("describe_connector", _described(state), {"connectorArn": ARN})
    states = []
    for _ in range(4):
        status = plane.status(ARN)
        assert status.name == "kmigrate-source"
        assert status.failures() == []
        states.append((status.connector.state, [t.state for t in status.tasks], status.running))
    assert states == [
        ("UNASSIGNED", ["UNASSIGNED"], False),
        ("UNASSIGNED", ["UNASSIGNED"], False),
        ("RUNNING", ["RUNNING"], True),
        ("STOPPED", ["STOPPED"], False),
    ]


def test_failed_connector_gives_its_state_description_in_words(
    kafkaconnect: tuple[Any, Stubber],
) -> None:
    """A FAILED connector is a failure naming the connector, MSK Connect and the
    ``stateDescription`` code and message; it is not running."""
    client, stub = kafkaconnect
    plane = _plane(client)
    message = "The connector failed: SaslAuthenticationException: Access denied to cluster"
    stub.add_response(
        "describe_connector",
        _described("FAILED", stateDescription={"code": "ConnectorFailed", "message": message}),
        {"connectorArn": ARN},
    )
    status = plane.status(ARN)
    assert not status.running
    assert status.failures() == [
        "connector of kmigrate-source FAILED on worker MSK Connect (eu-central-1): "
        f"ConnectorFailed: {message}"
    ]


def test_delete_and_delete_of_a_gone_connector(kafkaconnect: tuple[Any, Stubber]) -> None:
    """``delete`` sends ``delete_connector`` of the ARN: True when accepted, False
    when MSK Connect answers NotFoundException (already gone, as after a rollback
    that ran once)."""
    client, stub = kafkaconnect
    plane = _plane(client)
    stub.add_response(
        "delete_connector",
        {"connectorArn": ARN, "connectorState": "DELETING"},
        {"connectorArn": ARN},
    )
    stub.add_client_error(
        "delete_connector",
        service_error_code="NotFoundException",
        service_message="Connector not found",
        http_status_code=404,
        expected_params={"connectorArn": ARN},
    )
    assert plane.delete(ARN) is True
    assert plane.delete(ARN) is False


def test_access_denied_names_the_iam_action(kafkaconnect: tuple[Any, Stubber]) -> None:
    """A denied call is a ClusterError (exit 1) naming the plane, the service's code
    and message and the IAM action missing; a denied delete is not "already gone"."""
    client, stub = kafkaconnect
    plane = _plane(client)
    for operation in ("create_connector", "delete_connector"):
        stub.add_client_error(
            operation,
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:iam::123456789012:user/ops is not authorized",
            http_status_code=403,
        )
    with pytest.raises(ClusterError) as created:
        plane.create("kmigrate-source", {"connector.class": mm2.SOURCE_CONNECTOR})
    text = str(created.value)
    assert text.startswith("MSK Connect (eu-central-1): create_connector kmigrate-source failed:")
    assert "AccessDeniedException: User: arn:aws:iam::123456789012:user/ops" in text
    assert "kafkaconnect:CreateConnector" in text and "iam:PassRole" in text
    with pytest.raises(ClusterError, match="kafkaconnect:DeleteConnector"):
        plane.delete(ARN)


def test_invalid_plan_value_is_refused_at_its_plan_key(
    kafkaconnect: tuple[Any, Stubber], tmp_path: Path
) -> None:
    """A value of the plan's ``msk_connect`` block that the service model refuses
    (``mcu_count: two``) is a UsageError (exit 2) naming the plan file, the line and
    the key, raised by botocore's validation before anything is sent: the one answer
    queued is still there for the corrected request afterwards."""
    client, stub = kafkaconnect
    path = tmp_path / "plan.yaml"
    text = "version: 1\nconnect:\n  msk_connect:\n    role_arn: r\n    mcu_count: two\n"
    path.write_text(text)
    _, lines = read_yaml(text, path)

    def locate(loc: tuple[str | int, ...]) -> str:
        return f"{path}:{nearest_line(lines, loc)}: {format_loc(loc)}"

    plane = _plane(client, locate=locate)
    plane.base["capacity"]["provisionedCapacity"]["mcuCount"] = "two"
    stub.add_response(
        "create_connector",
        {"connectorArn": ARN, "connectorName": "kmigrate-source", "connectorState": "CREATING"},
    )
    with pytest.raises(UsageError) as refused:
        plane.create("kmigrate-source", {"connector.class": mm2.SOURCE_CONNECTOR})
    message = str(refused.value)
    assert message.startswith(f"{path}:5: connect.msk_connect.mcu_count: MSK Connect refuses")
    assert "capacity.provisionedCapacity.mcuCount" in message
    plane.base["capacity"]["provisionedCapacity"]["mcuCount"] = 2
    assert plane.create("kmigrate-source", {"connector.class": mm2.SOURCE_CONNECTOR}) == ARN


def test_connect_references_become_secrets_manager_references(
    kafkaconnect: tuple[Any, Stubber],
) -> None:
    """MSK Connect's workers have no environment or files of the plan's: a config
    rendered for a self-run worker (``${env:VAR}``, ``${directory:DIR:FILE}``) is sent
    with ``${secretsmanager:SECRET_ID:KEY}`` references, the keys ``mm2-config
    --format msk-connect`` names; no other value changes."""
    client, stub = kafkaconnect
    plane = _plane(client)
    config = {
        "connector.class": mm2.SOURCE_CONNECTOR,
        "source.cluster.sasl.jaas.config": 'x username="${env:SRC_USER}" '
        'password="${directory:/run/secrets:src-password}";',
        "topics": "orders\\..*",
    }
    sent = {
        **config,
        "source.cluster.sasl.jaas.config": 'x username="${secretsmanager:kmigrate:SRC_USER}" '
        'password="${secretsmanager:kmigrate:src-password}";',
    }
    stub.add_response(
        "create_connector",
        {"connectorArn": ARN, "connectorName": "c", "connectorState": "CREATING"},
        {
            **plane.base,
            "connectorName": "c",
            "connectorDescription": ANY,
            "connectorConfiguration": sent,
        },
    )
    assert plane.create("c", config) == ARN


MSK_PLAN = """\
version: 1
name: shop
clusters:
  source:
    type: kafka
    bootstrap_servers: 10.0.0.1:9092
  target:
TARGET
topics:
  include: ["orders.*"]
phases:
  - name: copy
    steps:
      - action: mirror
        engine: mirrormaker2
        connect:
          msk_connect:
            region: eu-central-1
            role_arn: arn:aws:iam::123456789012:role/mskc-mm2
            plugin_arn: arn:aws:kafkaconnect:eu-central-1:123456789012:custom-plugin/mm2/x
            subnets: [subnet-0a]
            mcu_count: MCU
"""
IAM_TARGET = """\
    type: msk
    region: eu-central-1
    auth: iam
    cluster_arn: arn:aws:kafka:eu-central-1:123456789012:cluster/shop/0b1c
    bootstrap_servers: b-1.shop.kafka.eu-central-1.amazonaws.com:9098
    facts: {cluster_type: provisioned}"""
SCRAM_TARGET = """\
    type: kafka
    bootstrap_servers: b-1.example:9096
    config:
      security.protocol: SASL_SSL
      sasl.mechanisms: SCRAM-SHA-512
      sasl.username: kmigrate
      sasl.password: ${TARGET_PASSWORD}"""


def _plan_offline(tmp_path: Path, target: str, mcu: str) -> tuple[int, str, Path]:
    from click.testing import CliRunner

    from kmigrate.cli import cli

    path = tmp_path / "plan.yaml"
    path.write_text(MSK_PLAN.replace("TARGET", target).replace("MCU", mcu))
    result = CliRunner().invoke(cli, ["plan", "--offline", str(path)])
    return result.exit_code, result.output, path


@pytest.mark.parametrize(
    ("target", "mcu", "at", "key", "problem"),
    [
        (
            IAM_TARGET,
            "two",
            "mcu_count:",
            "phases[1].steps[1].connect.msk_connect.mcu_count",
            "number",
        ),
        (SCRAM_TARGET, "1", "  target:", "clusters.target", "IAM or no authentication only"),
    ],
    ids=["mcu-count-not-a-number", "scram-target"],
)
def test_plan_with_an_msk_connect_block_it_cannot_run_is_exit_2_at_file_line_key(
    tmp_path: Path, target: str, mcu: str, at: str, key: str, problem: str
) -> None:
    """``kmigrate plan`` refuses, before any AWS call, an ``msk_connect`` block with a
    value of the wrong type and a target MSK Connect's workers cannot reach (SCRAM:
    they authenticate with IAM or not at all): exit 2, ``file:line: key: why``, no
    traceback."""
    code, output, path = _plan_offline(tmp_path, target, mcu)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if at in text)
    assert code == 2, output
    assert f"{path}:{line}: {key}: " in " ".join(output.split()), output
    assert problem in output
    assert "Traceback" not in output


def test_execute_refuses_an_msk_connect_step_it_cannot_run_at_file_line_key(
    tmp_path: Path,
) -> None:
    """``kmigrate execute`` checks the phase's MirrorMaker 2 connectors before any
    step, as ``kmigrate plan`` does: a SCRAM target MSK Connect's workers cannot reach
    is exit 2 naming ``file:line: clusters.target``, no traceback."""
    from click.testing import CliRunner

    from kmigrate.cli import cli

    path = tmp_path / "plan.yaml"
    path.write_text(MSK_PLAN.replace("TARGET", SCRAM_TARGET).replace("MCU", "1"))
    result = CliRunner().invoke(
        cli, ["execute", str(path), "--phase", "1"], env={"TARGET_PASSWORD": "pw"}
    )
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "  target:" in t)
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: clusters.target: " in output, result.output
    assert "IAM or no authentication only" in output
    assert "Traceback" not in result.output


def test_plan_with_msk_connect_shows_the_connectors_it_will_create(tmp_path: Path) -> None:
    """An MSK target with IAM: the plan shows the connector configs, for MSK Connect,
    without the worker-producer override (MSK Connect's workers authenticate as
    themselves)."""
    code, output, _ = _plan_offline(tmp_path, IAM_TARGET, "2")
    assert code == 0, output
    assert "MirrorMaker 2 connectors of phases[1].steps[1] (on MSK Connect (eu-central-1))" in (
        output
    )
    assert '"name": "kmigrate-shop-source"' in output
    assert "producer.override." not in output

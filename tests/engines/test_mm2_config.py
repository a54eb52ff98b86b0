"""MirrorMaker 2 connector configs from a plan (``kmigrate mm2-config``), without brokers.

That Connect itself accepts these configs, and that they copy every record, is
``tests/engines/test_mm2_connect.py`` (real Kafka Connect, ``--broker apache-kafka``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kmigrate.adapters.connect_rest import ConnectorStatus, TaskStatus, summarise_trace
from kmigrate.cli import cli
from kmigrate.clusters import msk_connect
from kmigrate.engines.mirrormaker2 import config as mm2
from kmigrate.engines.mirrormaker2 import render
from kmigrate.errors import UsageError
from kmigrate.plan import load_plan
from tests.support.cloud_fakes import stubbed_aws_client

SECRET = "s3cret-Value-never-shown"

PLAN = """\
version: 1
name: shop migration
clusters:
  source:
    type: kafka
    bootstrap_servers: 10.0.0.1:9092
    config:
      client.id: kmigrate
      socket.keepalive.enable: true
  target:
    type: kafka
    bootstrap_servers: b-1.example:9096,b-2.example:9096
    config:
      security.protocol: SASL_SSL
      sasl.mechanisms: SCRAM-SHA-512
      sasl.username: kmigrate
      sasl.password: ${TARGET_PASSWORD}
      ssl.ca.location: /etc/kafka/ca.pem
topics:
  include: ["orders.*", "payments-v?"]
  exclude: ["orders.tmp*"]
phases:
  - name: copy
    steps:
      - action: mirror
"""

IAM_TARGET = """\
  target:
    type: msk
    region: eu-central-1
    auth: iam
    cluster_arn: arn:aws:kafka:eu-central-1:123456789012:cluster/shop/0b1c2d3e-1111-2222
    bootstrap_servers: b-1.shop.kafka.eu-central-1.amazonaws.com:9098
    facts: {cluster_type: provisioned}
"""


@pytest.fixture
def plan_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plan above, with ``TARGET_PASSWORD`` set (so any leak would show)."""
    monkeypatch.setenv("TARGET_PASSWORD", SECRET)
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return path


def _iam_plan(tmp_path: Path) -> Path:
    text = PLAN.split("  target:\n")[0] + IAM_TARGET + "topics:" + PLAN.split("topics:", 1)[1]
    path = tmp_path / "iam.yaml"
    path.write_text(text)
    return path


# --- topic selection -------------------------------------------------------------------

TOPIC_CHARS = "abcXY09._-"
GLOB_PART = st.one_of(
    st.text(TOPIC_CHARS, min_size=1, max_size=3),
    st.sampled_from(["*", "?", "[ab]", "[!a]", "[0-9]", "[.]", "[]a]", "["]),
)


@given(
    glob=st.lists(GLOB_PART, min_size=1, max_size=5).map("".join),
    names=st.lists(st.text(TOPIC_CHARS, min_size=1, max_size=8), min_size=1, max_size=20),
)
def test_glob_regex_matches_the_same_topics_as_the_glob(glob: str, names: list[str]) -> None:
    """The Java regex made from a plan glob matches exactly the topic names the glob
    matches with fnmatch (MM2 matches whole names: ``DefaultTopicFilter`` uses
    ``matches()``, as ``re.fullmatch``; the constructs used mean the same in Java)."""
    regex = re.compile(mm2.glob_to_regex(glob))
    # Names near the glob too: it with wildcards filled, then each character swapped.
    near = re.sub(r"\[!?[^]]*\]", "a", glob).replace("*", "").replace("?", "a")
    near_names = [near[:i] + c + near[i + 1 :] for i in range(len(near)) for c in TOPIC_CHARS]
    for name in [*names, near, *near_names]:
        assert bool(regex.fullmatch(name)) == fnmatch.fnmatchcase(name, glob), (glob, name)


def test_topic_filters_keep_the_plans_selection_and_mm2s_own_excludes() -> None:
    """``topics`` is the include globs as regexes; ``topics.exclude`` the plan's excludes
    then MM2's internal-topic defaults; a comma (no topic name holds one) is refused."""
    topics, excludes = mm2.topic_filters(["orders.*", "payments-v?"], ["orders.tmp*"])
    assert topics == "orders\\..*,payments-v."
    assert excludes.split(",") == ["orders\\.tmp.*", *mm2.MM2_TOPIC_EXCLUDES]
    with pytest.raises(UsageError, match="comma"):
        mm2.topic_filters(["a,b"], [])


# --- the connect-rest rendering ----------------------------------------------------------


def test_source_connector_config_from_the_plan(plan_file: Path) -> None:
    """The MirrorSourceConnector keeps names (IdentityReplicationPolicy), copies the plan's
    topics, syncs no topic configs or ACLs, keeps offset-syncs on the target, writes
    through the plan's target principal, and holds the password only as a reference."""
    plan = load_plan(plan_file).model
    config = mm2.source_connector(plan, mm2.Mm2Options())
    assert config["connector.class"] == mm2.SOURCE_CONNECTOR
    assert config["replication.policy.class"] == mm2.IDENTITY_POLICY
    assert config["topics"] == "orders\\..*,payments-v."
    assert config["sync.topic.configs.enabled"] == "false"
    assert config["sync.topic.acls.enabled"] == "false"
    assert config["offset-syncs.topic.location"] == "target"
    assert config["source.cluster.bootstrap.servers"] == "10.0.0.1:9092"
    assert config["target.cluster.security.protocol"] == "SASL_SSL"
    assert config["target.cluster.ssl.truststore.type"] == "PEM"
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="kmigrate" password="${env:TARGET_PASSWORD}";'
    )
    assert config["target.cluster.sasl.jaas.config"] == jaas
    assert config["producer.override.sasl.jaas.config"] == jaas
    assert "exactly.once.support" not in config
    assert SECRET not in json.dumps(config)


def test_exactly_once_and_checkpoints_only_when_asked(plan_file: Path) -> None:
    """``exactly.once.support=required`` (with read_committed, which MirrorSourceConnector
    needs to declare the support) and the MirrorCheckpointConnector appear only when
    asked for; the checkpoint connector never syncs group offsets itself."""
    plan = load_plan(plan_file).model
    assert [c["name"] for c in mm2.connectors(plan, mm2.Mm2Options())] == ["kmigrate-source"]
    both = mm2.connectors(plan, mm2.Mm2Options(exactly_once=True, checkpoints=True))
    assert [c["connector.class"] for c in both] == [
        mm2.SOURCE_CONNECTOR,
        mm2.CHECKPOINT_CONNECTOR,
    ]
    assert both[0]["exactly.once.support"] == "required"
    assert both[0]["consumer.isolation.level"] == "read_committed"
    assert both[1]["sync.group.offsets.enabled"] == "false"
    assert both[1]["groups"] == ".*"


def test_file_references_become_directory_provider_references() -> None:
    """``${file:/run/secrets/pw}`` -> ``${directory:/run/secrets:pw}`` (the whole file, as
    kmigrate reads it); ``${VAR}`` -> ``${env:VAR}``; literal text is left alone."""
    assert mm2.connect_reference("${file:/run/secrets/pw}") == "${directory:/run/secrets:pw}"
    assert mm2.connect_reference("a${PW}b") == "a${env:PW}b"
    assert mm2.connect_reference("plain") == "plain"


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_mm2_config_connect_rest_prints_post_bodies_and_names_what_it_left_out(
    plan_file: Path,
) -> None:
    """``--format connect-rest`` prints a JSON list of ``POST /connectors`` bodies on
    stdout (nothing else there), names the librdkafka-only setting it left out on
    stderr, and never shows the secret."""
    result = _run("mm2-config", str(plan_file), "--format", "connect-rest", "--checkpoints")
    assert result.exit_code == 0, result.output
    bodies = json.loads(result.stdout)
    assert [b["name"] for b in bodies] == ["shop-migration-source", "shop-migration-checkpoint"]
    assert all(set(b) == {"name", "config"} for b in bodies)
    assert "clusters.source.config.socket.keepalive.enable" in result.stderr
    assert SECRET not in result.output


def test_mm2_config_writes_a_private_file(plan_file: Path, tmp_path: Path) -> None:
    """``-o FILE`` writes the document, mode 0600, and says so."""
    out = tmp_path / "mm2.json"
    result = _run("mm2-config", str(plan_file), "--format", "connect-rest", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())[0]["config"]["topics"] == "orders\\..*,payments-v."
    assert out.stat().st_mode & 0o777 == 0o600


# --- Strimzi ---------------------------------------------------------------------------


def test_strimzi_resource_takes_security_from_secrets(plan_file: Path) -> None:
    """The KafkaMirrorMaker2 resource puts the target's SCRAM user and CA in
    ``authentication``/``tls`` (Strimzi refuses ``sasl.``/``ssl.``/``security.`` keys
    in a cluster's ``config``), the password as a Secret key named after the variable,
    the selection as ``topicsPattern``; its header lists the Secrets to create."""
    result = _run("mm2-config", str(plan_file), "--format", "strimzi", "--tasks-max", "4")
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    assert (doc["apiVersion"], doc["kind"]) == ("kafka.strimzi.io/v1beta2", "KafkaMirrorMaker2")
    source, target = doc["spec"]["clusters"]
    assert doc["spec"]["connectCluster"] == target["alias"] == "target"
    assert target["authentication"] == {
        "type": "scram-sha-512",
        "username": "kmigrate",
        "passwordSecret": {"secretName": "shop-migration-target", "password": "TARGET_PASSWORD"},
    }
    assert target["tls"]["trustedCertificates"][0]["certificate"] == "ca.pem"
    for cluster in (source, target):
        assert not [k for k in cluster["config"] if k.startswith(("ssl.", "sasl.", "security."))]
    mirror = doc["spec"]["mirrors"][0]
    assert mirror["topicsPattern"] == "orders\\..*|payments-v."
    assert mirror["sourceConnector"]["tasksMax"] == 4
    assert not [k for k in mirror["sourceConnector"]["config"] if "override" in k]
    assert "#   shop-migration-target/TARGET_PASSWORD" in result.stdout
    assert SECRET not in result.output


# --- MSK Connect -----------------------------------------------------------------------

MSK = render.MskConnectOptions(
    role_arn="arn:aws:iam::123456789012:role/mskc-mm2",
    plugin_arn="arn:aws:kafkaconnect:eu-central-1:123456789012:custom-plugin/mm2/abcd-1",
    subnets=("subnet-0a", "subnet-0b"),
    security_groups=("sg-01",),
)


@pytest.fixture
def kafkaconnect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    """A real boto3 ``kafkaconnect`` client under botocore's Stubber, static fake
    credentials, no AWS files read."""
    with stubbed_aws_client("kafkaconnect", "eu-central-1", monkeypatch, tmp_path) as pair:
        yield pair


def test_msk_connect_request_validates_against_the_service_model(
    tmp_path: Path, kafkaconnect: tuple[Any, Stubber]
) -> None:
    """Tested at the SDK boundary (AWS cannot run here): the rendered ``create_connector``
    request goes through a real boto3 ``kafkaconnect`` client under botocore's
    Stubber, so botocore validates it against the ``CreateConnector`` input shape of
    the service model before the Stubber compares it with the expected request, and
    the stubbed answer is validated against the output shape.  The target is MSK
    with IAM (MSK Connect's workers authenticate with IAM or not at all)."""
    client, stub = kafkaconnect
    plan = load_plan(_iam_plan(tmp_path)).model
    (request,) = render.msk_connect_request(plan, mm2.Mm2Options(tasks_max=6), MSK)
    assert request["kafkaClusterClientAuthentication"] == {"authenticationType": "IAM"}
    assert request["kafkaClusterEncryptionInTransit"] == {"encryptionType": "TLS"}
    config = request["connectorConfiguration"]
    assert config["tasks.max"] == "6"
    assert config["target.cluster.sasl.mechanism"] == "AWS_MSK_IAM"
    assert not [k for k in config if k.startswith("producer.override.")]
    arn = "arn:aws:kafkaconnect:eu-central-1:123456789012:connector/kmigrate-source/abcd-2"
    stub.add_response(
        "create_connector",
        {"connectorArn": arn, "connectorName": "kmigrate-source", "connectorState": "CREATING"},
        expected_params=request,
    )
    assert msk_connect.create_connectors([request], "eu-central-1", client) == [arn]


def test_msk_connect_refuses_an_invalid_request_before_sending(
    tmp_path: Path, kafkaconnect: tuple[Any, Stubber]
) -> None:
    """The validation above is real: with an answer queued (the Stubber checks the
    queue before botocore validates), a request breaking the model (0 MCUs; the
    model's minimum is 1) is refused by botocore, as a usage error naming the
    connector, and the queued answer stays for the valid request after it."""
    client, stub = kafkaconnect
    plan = load_plan(_iam_plan(tmp_path)).model
    (request,) = render.msk_connect_request(plan, mm2.Mm2Options(), MSK)
    arn = "arn:aws:kafkaconnect:eu-central-1:123456789012:connector/kmigrate-source/abcd-3"
    stub.add_response(
        "create_connector",
        {"connectorArn": arn, "connectorName": "kmigrate-source", "connectorState": "CREATING"},
    )
    bad = json.loads(json.dumps(request))
    bad["capacity"]["provisionedCapacity"]["mcuCount"] = 0
    with pytest.raises(ParamValidationError, match="mcuCount"):
        client.create_connector(**bad)
    with pytest.raises(UsageError, match="refuses create_connector kmigrate-source: Invalid value"):
        msk_connect.create_connectors([bad], "eu-central-1", client)
    assert msk_connect.create_connectors([request], "eu-central-1", client) == [arn]


def test_msk_connect_secrets_are_secrets_manager_references(plan_file: Path) -> None:
    """A SCRAM target cannot host MSK Connect's workers (IAM or none only), said in
    words; a SCRAM *source* password becomes a Secrets Manager config-provider
    reference, never the value."""
    with pytest.raises(UsageError, match="IAM or no authentication only"):
        render.msk_connect_request(load_plan(plan_file).model, mm2.Mm2Options(), MSK)
    text = PLAN.replace("  source:\n    type: kafka\n", "  source:\n    type: kafka\n", 1)
    plan = yaml.safe_load(text)
    plan["clusters"]["source"]["config"] = plan["clusters"]["target"]["config"]
    plan["clusters"]["target"] = yaml.safe_load(IAM_TARGET)["target"]
    path = plan_file.parent / "swap.yaml"
    path.write_text(yaml.safe_dump(plan))
    (request,) = render.msk_connect_request(load_plan(path).model, mm2.Mm2Options(), MSK)
    jaas = request["connectorConfiguration"]["source.cluster.sasl.jaas.config"]
    assert 'password="${secretsmanager:kmigrate:TARGET_PASSWORD}"' in jaas
    assert SECRET not in json.dumps(request)


def test_mm2_config_msk_connect_needs_its_flags(plan_file: Path) -> None:
    """Without role, plugin and subnets: exit 2 naming each missing flag."""
    result = _run("mm2-config", str(plan_file), "--format", "msk-connect")
    assert result.exit_code == 2
    assert "--msk-role-arn, --msk-plugin-arn, --msk-subnet" in result.output


# --- failures in words -----------------------------------------------------------------

TRACE = textwrap.dedent("""\
    org.apache.kafka.connect.errors.ConnectException: Failed to start task
    \tat org.apache.kafka.connect.runtime.WorkerTask.run(WorkerTask.java:123)
    \tat java.base/java.lang.Thread.run(Thread.java:840)
    Caused by: org.apache.kafka.common.KafkaException: Failed to construct kafka producer
    \t... 5 more
    Caused by: org.apache.kafka.common.errors.SaslAuthenticationException: Authentication \
failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512
    """)


def test_a_failed_task_is_summarised_in_words() -> None:
    """A task's Java trace becomes its first exception and root cause, without packages
    or ``at`` frames; the status names the task and its worker."""
    assert summarise_trace(TRACE) == (
        "ConnectException: Failed to start task; root cause: SaslAuthenticationException: "
        "Authentication failed during authentication due to invalid credentials with SASL "
        "mechanism SCRAM-SHA-512"
    )
    status = ConnectorStatus(
        "m-source",
        TaskStatus(-1, "RUNNING", "w1:8083"),
        (TaskStatus(0, "RUNNING", "w1:8083"), TaskStatus(1, "FAILED", "w2:8083", TRACE)),
    )
    (line,) = status.failures()
    assert line.startswith("task 1 of m-source FAILED on worker w2:8083: ConnectException")
    assert "\tat " not in line and not status.running


# --- the REST client's credentials -----------------------------------------------------


def test_rest_credentials_come_from_references_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Basic-auth user and password are ``${ENV}`` / ``${file:...}`` references resolved
    through the plan's refs code: the request carries them, an error answer that
    echoes the password shows it masked, and an unset variable is named, not shown.
    (A local HTTP server stands in for Connect's REST API.)"""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from kmigrate.context import connect_rest
    from kmigrate.errors import ClusterError

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.headers.get("Authorization", ""))
            body = json.dumps({"error_code": 500, "message": f"bad secret {SECRET}"}).encode()
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "user").write_text("connect-admin\n")
        monkeypatch.setenv("CONNECT_PW", SECRET)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        rest = connect_rest(url, "${file:user}", "${CONNECT_PW}", dict(os.environ), tmp_path)
        with pytest.raises(ClusterError) as err:
            rest.connectors()
        assert "GET /connectors answered 500" in str(err.value)
        assert SECRET not in str(err.value)
        assert seen == ["Basic " + base64.b64encode(f"connect-admin:{SECRET}".encode()).decode()]
        with pytest.raises(UsageError, match="environment variable NOPE_PW is not set"):
            connect_rest(url, "u", "${NOPE_PW}", {}, tmp_path)
    finally:
        server.shutdown()


def test_a_cluster_that_cannot_be_rendered_names_file_line_and_key(tmp_path: Path) -> None:
    """An MSK target given by ARN only (its bootstrap servers come from the AWS API,
    which mm2-config does not call): exit 2, ``file:line: clusters.target.bootstrap_servers``
    and why, no traceback."""
    text = PLAN.replace(
        "    type: kafka\n    bootstrap_servers: b-1.example:9096,b-2.example:9096\n",
        "    type: msk\n    region: eu-central-1\n    auth: scram\n"
        "    cluster_arn: arn:aws:kafka:eu-central-1:123456789012:cluster/shop/abc\n"
        "    facts: {cluster_type: provisioned}\n",
    )
    path = tmp_path / "msk.yaml"
    path.write_text(text)
    result = _run("mm2-config", str(path), "--format", "connect-rest")
    assert result.exit_code == 2
    assert f"{path}:10: clusters.target.bootstrap_servers: MirrorMaker 2 configs need" in (
        result.output
    )
    assert "Traceback" not in result.output

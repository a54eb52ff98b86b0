"""Real security on the Apache Kafka target: SASL_SSL with SCRAM-SHA-512 under the
sandbox's CA, ACLs (StandardAuthorizer), and the permission check of
``check-connectivity``.

Runs only with ``--broker apache-kafka``: Tansu has neither SASL nor TLS nor
ACLs (sandbox-broker.md fact 8); there the client side is covered through the
tests' own proxy (tests/clusters/test_managed_auth.py).  Plans name the password as a
``${ENV}`` reference; no test output may contain it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.adapters import apache_kafka
from tests.conftest import Brokers, create_on_both, create_topic, produce
from tests.support.sasl_plan import sasl_clusters_yaml

pytestmark = pytest.mark.broker

PASSWORD_ENV = "KMIGRATE_TEST_TARGET_PASSWORD"


@pytest.fixture(autouse=True)
def _real_kafka(brokers: Brokers) -> None:
    if not brokers.real:
        pytest.skip("Tansu has no SASL, TLS or ACLs (sandbox-broker.md fact 8)")


def run(*args: str, env: dict[str, str]) -> Result:
    from kmigrate.cli import cli

    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


def sasl_plan(
    directory: Path,
    brokers: Brokers,
    topic: str,
    *,
    bootstrap: str | None = None,
    ca: str | None = None,
    phases: str | None = None,
) -> Path:
    """A plan whose target is the SASL_SSL listener as ``kmigrate``."""
    cfg = brokers.target_sasl
    clusters = sasl_clusters_yaml(
        brokers.source,
        bootstrap or cfg["bootstrap.servers"],
        ca or cfg["ssl.ca.location"],
        PASSWORD_ENV,
    )
    path = directory / "plan.yaml"
    path.write_text(
        f"""\
version: 1
name: sasl
state_dir: state
{clusters}topics:
  include: ["{topic}"]
"""
        + (
            phases
            or """\
phases:
  - name: preflight
    steps:
      - action: check-connectivity
  - name: copy
    steps:
      - action: provision-topics
      - action: mirror
      - action: verify
      - action: translate-offsets
        groups: {include: ["GROUPS"]}
"""
        ).replace("GROUPS", topic.split("-")[0] + "-*")
    )
    return path


def the_password(brokers: Brokers) -> str:
    return brokers.target_sasl["sasl.password"]


class Forwarder:
    """Forwards ``host:port`` (another loopback address) to one target broker, so a
    client reaches the broker under a name its certificate does not hold."""

    def __init__(self, host: str, upstream: tuple[str, int]) -> None:
        self.listener = socket.create_server((host, 0))
        self.address = f"{host}:{self.listener.getsockname()[1]}"
        self.upstream = upstream
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def forwarder(brokers: Brokers) -> Iterator[Forwarder]:
    first = brokers.target_sasl["bootstrap.servers"].split(",")[0]
    host, port = first.rsplit(":", 1)
    fwd = Forwarder("127.0.0.2", (host, int(port)))
    yield fwd
    fwd.close()


def test_a_whole_copy_over_sasl_ssl_as_the_migration_principal(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The principal with exactly the sandbox's migration ACLs provisions, mirrors,
    verifies and translates; the password never appears in the output."""
    from tests.support.clients import commit

    topic = f"{prefix}secure"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"value": b"v%d" % i, "partition": i % 2} for i in range(50)])
    commit(brokers.source, f"{prefix}app", {(topic, 0): 10, (topic, 1): 5})
    plan = sasl_plan(tmp_path, brokers, topic)
    env = {PASSWORD_ENV: the_password(brokers)}

    checked = run("execute", str(plan), "--phase", "1", env=env)
    copied = run("execute", str(plan), "--phase", "2", env=env)

    assert checked.exit_code == 0, checked.output
    assert "permissions: every operation the plan's steps need is granted" in checked.output
    assert copied.exit_code == 0, copied.output
    assert "all 2 partitions match (50 records)" in copied.output
    assert the_password(brokers) not in checked.output + copied.output


def test_a_wrong_password_is_named_without_the_secret(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    plan = sasl_plan(tmp_path, brokers, f"{prefix}x")
    wrong = "not-the-password-" + prefix

    result = run("execute", str(plan), "--phase", "1", env={PASSWORD_ENV: wrong})

    assert result.exit_code == 1, result.output
    assert "authentication failed" in result.output
    assert "SCRAM-SHA-512" in result.output
    assert wrong not in result.output


def test_a_wrong_ca_is_named_as_a_tls_failure(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    other = apache_kafka.make_tls(tmp_path / "other-ca")
    plan = sasl_plan(tmp_path, brokers, f"{prefix}x", ca=str(other.ca))

    result = run("execute", str(plan), "--phase", "1", env={PASSWORD_ENV: the_password(brokers)})

    assert result.exit_code == 1, result.output
    assert "TLS failed" in result.output
    assert "certificate verify failed" in result.output
    assert the_password(brokers) not in result.output


def test_a_host_name_the_certificate_does_not_hold_is_named(
    brokers: Brokers, prefix: str, tmp_path: Path, forwarder: Forwarder
) -> None:
    """The broker's certificate holds localhost and 127.0.0.1; reached as 127.0.0.2
    the client's host name check (librdkafka's default) fails the handshake."""
    plan = sasl_plan(tmp_path, brokers, f"{prefix}x", bootstrap=forwarder.address)

    result = run("execute", str(plan), "--phase", "1", env={PASSWORD_ENV: the_password(brokers)})

    assert result.exit_code == 1, result.output
    assert "TLS failed" in result.output
    assert "127.0.0.2" in result.output
    assert the_password(brokers) not in result.output


@contextlib.contextmanager
def acl_removed(brokers: Brokers, acl: tuple[str, str, str]) -> Iterator[None]:
    """The migration principal without ``acl`` for the ``with`` block."""
    internal = brokers.clusters[1].internal
    principal = f"User:{apache_kafka.MIGRATION_USER}"
    apache_kafka.revoke_acls(internal, principal, [acl])
    try:
        yield
    finally:
        apache_kafka.grant_acls(internal, principal, [acl])


#: Each operation the plan needs, and the ACL that grants it to ``kmigrate``.
NEEDED = [
    ("READ", ("TOPIC", "*", "READ"), "target topic"),
    ("WRITE", ("TOPIC", "*", "WRITE"), "target topic"),
    ("DESCRIBE_CONFIGS", ("TOPIC", "*", "DESCRIBE_CONFIGS"), "target topic"),
    ("DELETE", ("TOPIC", "*", "DELETE"), "target topic"),
    ("READ", ("GROUP", "*", "READ"), "target group"),
    ("DELETE", ("GROUP", "*", "DELETE"), "target group"),
]


@pytest.mark.parametrize(
    ("operation", "acl", "where"), NEEDED, ids=[f"{a[2]}-{a[0]}" for a in NEEDED]
)
def test_check_connectivity_names_each_missing_operation_before_anything_changes(
    brokers: Brokers,
    prefix: str,
    tmp_path: Path,
    operation: str,
    acl: tuple[str, str, str],
    where: str,
) -> None:
    """Each ACL of the migration principal removed in turn: check-connectivity exits
    1 naming the operation, the resource and the step that needs it; the target
    topic and group it checks exist (Kafka reports authorized operations only for
    topics that exist)."""
    from tests.support.clients import commit

    topic = f"{prefix}perm"
    group = f"{prefix}app"
    create_on_both(brokers, topic, 1)
    produce(brokers.source, topic, [{"value": b"v", "partition": 0}])
    commit(brokers.source, group, {(topic, 0): 1})
    commit(brokers.target, group, {(topic, 0): 0})
    plan = sasl_plan(tmp_path, brokers, topic)
    with acl_removed(brokers, acl):
        result = run(
            "execute", str(plan), "--phase", "1", env={PASSWORD_ENV: the_password(brokers)}
        )

    assert result.exit_code == 1, result.output
    name = topic if where.endswith("topic") else group
    assert f"{operation} on {where} {name}" in result.output
    assert "grant them (kafka-acls --add)" in result.output


def test_a_missing_create_is_named_for_a_topic_not_yet_created(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """CREATE on a topic that does not exist yet is checked with validate_only
    CreateTopics, which creates nothing."""
    topic = f"{prefix}new"
    create_topic(brokers.source, topic, 1)
    plan = sasl_plan(tmp_path, brokers, topic)
    with acl_removed(brokers, ("TOPIC", "*", "CREATE")):
        result = run(
            "execute", str(plan), "--phase", "1", env={PASSWORD_ENV: the_password(brokers)}
        )

    assert result.exit_code == 1, result.output
    assert f"CREATE on target topic {topic} (provision-topics: CreateTopics)" in result.output
    from kmigrate.adapters.kafka import KafkaCluster

    assert topic not in KafkaCluster("target", brokers.target).topics()

"""A Kafka Connect cluster for MirrorMaker 2 on the real Apache Kafka pair, and the
plan text its tests share.

The module-scoped ``connect`` fixture (imported by ``tests/conftest.py``) starts two
distributed Connect 4.1 workers from Maven Central jars
(:mod:`kmigrate.adapters.kafka_connect`) against the SASL_SSL target, once for each
test module that asks for it; it skips without ``--broker apache-kafka``.  The
workers resolve the ``${env:VAR}`` references of the passwords below from their
own environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kmigrate.adapters import apache_kafka, kafka_connect
from kmigrate.engines.mirrormaker2 import config as mm2
from kmigrate.plan import load_plan
from tests.support.sasl_plan import sasl_clusters_yaml

if TYPE_CHECKING:  # tests/conftest.py imports this module
    from tests.conftest import Brokers

#: Partitions of the test topics :func:`records` spreads over.
PARTITIONS = 6
#: Worker-side environment: the values of the ``${env:VAR}`` references.
CONNECT_PASSWORD = "KM_CONNECT_PASSWORD"
TARGET_PASSWORD = "KM_TARGET_PASSWORD"
WRONG_PASSWORD = "KM_WRONG_PASSWORD"
#: What MM2's transactional producer (exactly-once, KIP-618) needs beyond the
#: migration's ACLs, for the ``kmigrate`` principal it writes as.
EOS_ACLS = (("TRANSACTIONAL_ID", "*", "WRITE"), ("TRANSACTIONAL_ID", "*", "DESCRIBE"))


def worker_client(target: apache_kafka.Cluster) -> dict[str, str]:
    """Java client settings of a Connect worker on the target's SASL_SSL listener as
    its super user, the password a ``${env:...}`` reference."""
    sec = mm2.ClientSecurity(
        target.bootstrap,
        "SASL_SSL",
        "SCRAM-SHA-512",
        apache_kafka.ADMIN_USER,
        "${" + CONNECT_PASSWORD + "}",
        target.ca,
    )
    return {k: v for k, v in mm2.java_settings(sec).items() if k != "bootstrap.servers"}


def start_workers(
    folder: Path,
    target: apache_kafka.Cluster,
    env: dict[str, str],
    *,
    workers: int,
    exactly_once: bool = True,
) -> kafka_connect.ConnectCluster:
    """``workers`` Connect workers in ``folder`` on the target as its super user
    (internal topics at replication factor 3), ``env`` their environment."""
    return kafka_connect.start_connect(
        folder,
        target.bootstrap,
        worker_client(target),
        workers=workers,
        replication_factor=3,
        exactly_once=exactly_once,
        env=env,
    )


@pytest.fixture(scope="module")
def connect(
    brokers: Brokers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[kafka_connect.ConnectCluster]:
    """Two Connect workers on the target (as its super user, over SASL_SSL, the
    password a ``${env:...}`` reference in the worker files), exactly-once source
    support on; killed at the end."""
    if not brokers.real:
        pytest.skip("Kafka Connect runs against the real brokers only (--broker apache-kafka)")
    _source, target = brokers.clusters
    env = {
        CONNECT_PASSWORD: target.users[apache_kafka.ADMIN_USER],
        TARGET_PASSWORD: target.users[apache_kafka.MIGRATION_USER],
        WRONG_PASSWORD: "not-" + target.users[apache_kafka.MIGRATION_USER],
    }
    principal = f"User:{apache_kafka.MIGRATION_USER}"
    apache_kafka.grant_acls(target.internal, principal, EOS_ACLS)
    cluster = start_workers(tmp_path_factory.mktemp("connect"), target, env, workers=2)
    print(f"\nConnect cluster of 2 workers answered after {cluster.start_s:.1f} s")
    try:
        yield cluster
    finally:
        kafka_connect.stop_connect(cluster, kill=True)
        apache_kafka.revoke_acls(target.internal, principal, EOS_ACLS)


def clusters_yaml(brokers: Brokers, password_var: str) -> str:
    """A plan's ``clusters:`` block (:func:`sasl_clusters_yaml`) on the test brokers,
    the target's password the reference ``${password_var}``."""
    _source, target = brokers.clusters
    return sasl_clusters_yaml(brokers.source, target.bootstrap, target.ca, password_var)


def mirror_plan(tmp_path: Path, brokers: Brokers, include: str, password_var: str) -> Any:
    """The model of a plan (written to ``tmp_path/plan.yaml``) of one mirror step over
    the topics matching ``include``, from which the connector configs are made."""
    path = tmp_path / "plan.yaml"
    path.write_text(
        f"""\
version: 1
name: mm2-test
{clusters_yaml(brokers, password_var)}topics:
  include: ["{include}"]
phases:
  - name: copy
    steps:
      - action: mirror
"""
    )
    return load_plan(path).model


def records(start: int, count: int) -> list[dict[str, object]]:
    """Records ``start`` to ``start + count - 1`` for :func:`tests.conftest.produce`,
    spread over :data:`PARTITIONS` partitions: values of varying size (10-310 bytes),
    two headers (one empty), timestamps from 1,700,000,000,000 ms."""
    return [
        {
            "partition": i % PARTITIONS,
            "key": f"key-{i}".encode(),
            "value": (f"value-{i}-" + "x" * (i % 300)).encode(),
            "headers": [("trace", f"t{i}".encode()), ("empty", b"")],
            "timestamp": 1_700_000_000_000 + i,
        }
        for i in range(start, start + count)
    ]

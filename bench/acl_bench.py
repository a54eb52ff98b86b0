"""Time ACL translation and creation for N bindings (issue 15's measure: 1,000).

    python bench/acl_bench.py                  # 1,000 bindings; starts a real target
    python bench/acl_bench.py --bindings 5000 --no-cluster --json /tmp/acl.json

Translation (no cluster): N source bindings of 20 principals (topics LITERAL and
PREFIXED, groups, transactional ids, a DENY every tenth) through each target's
translation: Kafka-ACL (and its list of bindings to create), MSK with IAM (and the
policy documents), Event Hubs (and the role assignments).  Creation: the Kafka-ACL
bindings created through the Admin API (:class:`kmigrate.adapters.kafka_acls.KafkaAcls`:
describe, then CreateAcls) on a real Apache Kafka 4.1 KRaft target of three nodes
with ACLs on (:func:`kmigrate.adapters.apache_kafka.start_target`, as the super user
over SASL_SSL), then deleted exactly (rollback).  Then the whole ``provision-acls``
step (:class:`kmigrate.steps.provision_acls.ProvisionAcls`: read the snapshot, decide
every binding, describe, journal, CreateAcls) and its rollback on the same N bindings
(``step_s``, ``step_rollback_s``).  Seconds are wall-clock, medians of ``--repeat`` runs
for translation, one run each on the cluster; the cluster's start is not timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kmigrate.acls import eventhubs, kafka_target, msk_iam
from kmigrate.acls.model import AclBinding, parse_binding
from kmigrate.acls.principals import PrincipalMap

CLUSTER_ARN = (
    "arn:aws:kafka:eu-west-1:123456789012:cluster/shop/0b1c2d3e-1111-2222-3333-444455556666-2"
)
PRINCIPALS = 20


def source_bindings(n: int) -> list[AclBinding]:
    """``n`` distinct bindings shaped like a service-per-principal cluster."""
    shapes = [
        ("TOPIC", "LITERAL", "WRITE"),
        ("TOPIC", "LITERAL", "READ"),
        ("TOPIC", "PREFIXED", "READ"),
        ("GROUP", "LITERAL", "READ"),
        ("TRANSACTIONAL_ID", "PREFIXED", "WRITE"),
    ]
    out = []
    for i in range(n):
        rtype, pattern, op = shapes[i % len(shapes)]
        out.append(
            parse_binding(
                {
                    "resource_type": rtype,
                    "name": f"bench-{i:06d}",
                    "pattern_type": pattern,
                    "principal": f"User:svc-{i % PRINCIPALS:02d}",
                    "operation": op,
                    "permission": "DENY" if i % 10 == 9 else "ALLOW",
                }
            )
        )
    return out


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall-clock seconds of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def time_step(
    folder: Path, target: object, bindings: list[AclBinding], principals: PrincipalMap
) -> dict[str, object]:
    """Seconds the provision-acls step takes on ``bindings`` (snapshot to CreateAcls) and
    its rollback, on the started ``target`` (an ``apache_kafka.Cluster``) as ``admin``."""
    from kmigrate.adapters import apache_kafka
    from kmigrate.clusters import registry
    from kmigrate.plan.schema import AclsSpec, ClusterSpec, ProvisionAclsStep
    from kmigrate.snapshot import Snapshot, SnapshotSource, write
    from kmigrate.steps import build_step
    from kmigrate.steps.base import StepContext
    from kmigrate.ui import UI

    assert isinstance(target, apache_kafka.Cluster)
    cfg = target.config_for(apache_kafka.ADMIN_USER)
    bootstrap = cfg.pop("bootstrap.servers")
    cluster, plane = registry.open_cluster("target", "kafka", {"bootstrap_servers": bootstrap}, cfg)
    state = folder / "state"
    source = SnapshotSource(type="kafka", bootstrap_servers="127.0.0.1:9092")
    write(Snapshot(source=source, acls=[b.to_dict() for b in bindings]), state / "acls.yaml")
    ctx = StepContext(
        cluster, cluster, UI(json_mode=True), target_plane=plane, state_dir=state,
        acls=AclsSpec(principals=dict(principals.mapping)),
        target_spec=ClusterSpec(type="kafka", bootstrap_servers=bootstrap),
    )  # fmt: skip
    step = build_step(ProvisionAclsStep(action="provision-acls", snapshot="acls.yaml"))
    start = time.perf_counter()
    record = step.run(ctx, {})
    took = time.perf_counter() - start
    start = time.perf_counter()
    lines = step.rollback(ctx, record)
    return {
        "step_s": took,
        "step_created": len(record["created"]),
        "step_rollback_s": time.perf_counter() - start,
        "step_rollback": lines[0] if lines else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bindings", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-cluster", action="store_true", help="translation only")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    bindings = source_bindings(args.bindings)
    svc = {f"User:svc-{i:02d}" for i in range(PRINCIPALS)}
    kafka_map = PrincipalMap({p: p.replace("svc-", "sa-") for p in svc})
    iam_map = PrincipalMap({p: f"arn:aws:iam::123456789012:role/{p[5:]}" for p in svc})
    eh_map = PrincipalMap(
        {p: f"ServicePrincipal:00000000-0000-0000-0000-0000000000{p[-2:]}" for p in svc}
    )
    cluster = msk_iam.MskCluster.parse(CLUSTER_ARN)
    ns = eventhubs.Namespace("sub", "rg", "ns")
    result: dict[str, object] = {"bindings": args.bindings, "repeat": args.repeat}
    result["translate_kafka_s"] = timed(
        lambda: kafka_target.target_bindings(kafka_target.translate(bindings, kafka_map)),
        args.repeat,
    )
    result["translate_msk_iam_s"] = timed(
        lambda: msk_iam.policies(msk_iam.translate(bindings, iam_map, cluster), cluster),
        args.repeat,
    )
    result["translate_eventhubs_s"] = timed(
        lambda: eventhubs.role_assignments(eventhubs.translate(bindings, eh_map, ns)),
        args.repeat,
    )
    if not args.no_cluster:
        from kmigrate.adapters import apache_kafka
        from kmigrate.adapters.kafka_acls import CREATED, KafkaAcls

        made = kafka_target.target_bindings(kafka_target.translate(bindings, kafka_map))
        with tempfile.TemporaryDirectory(prefix="kmigrate-acl-bench-") as folder:
            target = apache_kafka.start_target(Path(folder), say=print)
            try:
                cfg = target.config_for(apache_kafka.ADMIN_USER)
                acls = KafkaAcls.connect("target", cfg.pop("bootstrap.servers"), cfg)
                acls.describe()  # connect and authenticate before the clock starts
                start = time.perf_counter()
                outcomes = acls.create(made)
                result["create_s"] = time.perf_counter() - start
                result["created"] = sum(o.status == CREATED for o in outcomes)
                start = time.perf_counter()
                result["deleted"] = len(acls.delete(made))
                result["delete_s"] = time.perf_counter() - start
                result.update(time_step(Path(folder), target, bindings, kafka_map))
            finally:
                apache_kafka.stop_cluster(target, kill=True)
    for key, value in result.items():
        print(f"{key:24} {value:.3f}" if isinstance(value, float) else f"{key:24} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""The source's ACL bindings, read for the snapshot (``export``, ``export-topics``,
``init``), telling "no authorizer" from "no binding".

One reading for the three callers, so they say the same thing: a broker without an
authorizer answers DescribeAcls with an empty list (measured on Apache Kafka 3.9 in
ZooKeeper mode through confluent-kafka 2.16), so the brokers'
``authorizer.class.name`` is read first, and an empty one means "no authorizer",
never "no ACLs".  Only reads the source.
"""

from __future__ import annotations

from collections.abc import Mapping

from kmigrate.adapters.kafka_acls import KafkaAcls
from kmigrate.clusters.port import Cluster
from kmigrate.errors import ClusterError
from kmigrate.plan.writer import ACLS_READ, ACLS_UNREAD, NO_AUTHORIZER, AclFindings
from kmigrate.snapshot import Snapshot
from kmigrate.ui import UI


def acls_client(cluster: Cluster, role: str) -> KafkaAcls:
    """The ACL admin client of an opened cluster: its bootstrap servers and its resolved
    librdkafka settings (``config`` of the Kafka adapter's clusters; none for others).
    A dry-run wrapper passes both through, so reads stay real."""
    config: Mapping[str, str] = getattr(cluster, "config", None) or {}
    return KafkaAcls.connect(role, cluster.bootstrap_servers, dict(config))


def read_acls(acls: KafkaAcls) -> AclFindings:
    """The source's ACLs: ``read`` with every binding, ``no-authorizer``, or ``unread``
    with the reason (the principal lacks DESCRIBE on the cluster, ...): a failure is
    reported, not raised, so an export still writes its snapshot."""
    try:
        authorizer = acls.authorizer()
        if authorizer == "":
            return AclFindings(NO_AUTHORIZER, authorizer="")
        listing = acls.describe()
    except ClusterError as exc:
        return AclFindings(ACLS_UNREAD, error=str(exc))
    return AclFindings(
        ACLS_READ,
        authorizer=authorizer,
        bindings=tuple(listing.bindings),
        skipped=tuple(listing.skipped),
    )


def with_acls(snapshot: Snapshot, found: AclFindings) -> Snapshot:
    """``snapshot`` holding the bindings read (``acls``); unchanged (``acls`` None,
    absent from the file) when they were not read or the source has no authorizer."""
    if found.status != ACLS_READ:
        return snapshot
    return snapshot.model_copy(update={"acls": [b.to_dict() for b in found.bindings]})


def say_acls(ui: UI, found: AclFindings) -> None:
    """Print what was found of the source's ACLs: a warning where none could be read
    (``no authorizer``, or ``not read`` with the reason), else the count."""
    if found.status in (NO_AUTHORIZER, ACLS_UNREAD):
        ui.warn(found.summary())
    else:
        ui.line(found.summary())

"""Which ACL translation a target takes, from the plan's target cluster type and auth.

The one place that knows it (the ``provision-acls`` step and ``plan`` call
:func:`translate_for`):

==================  ===========================  ===============================
target type         auth                         translation
==================  ===========================  ===============================
``kafka``           any                          :mod:`~kmigrate.acls.kafka_target`
``redpanda``        any                          :mod:`~kmigrate.acls.kafka_target`
``confluent-cloud`` (API keys)                   :mod:`~kmigrate.acls.kafka_target`
``msk``             ``scram``, ``tls``           :mod:`~kmigrate.acls.kafka_target`
``msk``             ``iam`` (the default)        :mod:`~kmigrate.acls.msk_iam`
``eventhubs``       any                          :mod:`~kmigrate.acls.eventhubs`
==================  ===========================  ===============================

MSK with ``plaintext`` has no client identity, so no ACL can name one: refused as a
usage error.  Redpanda's ACLs follow Kafka's model (Redpanda "Configure
Authorization" docs; its ``rpk security acl`` takes the same fields).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kmigrate.acls import eventhubs, kafka_target, msk_iam
from kmigrate.acls.decisions import AclTranslation
from kmigrate.acls.model import AclBinding, AclInputError
from kmigrate.acls.principals import PrincipalMap


def translate_for(
    target_type: str,
    bindings: Iterable[AclBinding],
    principals: PrincipalMap,
    *,
    auth: str | None = None,
    cluster_arn: str | None = None,
    namespace: eventhubs.Namespace | None = None,
) -> AclTranslation:
    """Decide ``bindings`` for a target of ``target_type`` (the plan's ``clusters.target.type``).

    Args:
        auth: MSK's ``auth`` (``iam`` when None).
        cluster_arn: MSK with IAM: the cluster ARN (preflight's or the plan's).
        namespace: Event Hubs: where the namespace lives.

    Raises:
        AclInputError: an unknown type; MSK with plaintext; a missing or malformed
            cluster ARN (MSK with IAM) or a missing namespace (Event Hubs), each
            naming the plan key.
    """
    if target_type in ("kafka", "redpanda"):
        return kafka_target.translate(bindings, principals, flavour="kafka")
    if target_type == "confluent-cloud":
        return kafka_target.translate(bindings, principals, flavour="confluent-cloud")
    if target_type == "msk":
        mode = auth or "iam"
        if mode in ("scram", "tls"):
            return kafka_target.translate(bindings, principals, flavour="msk")
        if mode == "plaintext":
            raise AclInputError(
                "clusters.target.auth",
                "MSK with plaintext has no client identity, so no ACL can name one",
            )
        if cluster_arn is None:
            raise AclInputError("clusters.target.cluster_arn", "MSK with IAM needs the cluster ARN")
        return msk_iam.translate(bindings, principals, msk_iam.MskCluster.parse(cluster_arn))
    if target_type == "eventhubs":
        if namespace is None:
            raise AclInputError("clusters.target.namespace", "Event Hubs needs the namespace")
        return eventhubs.translate(bindings, principals, namespace)
    raise AclInputError("clusters.target.type", f"no ACL translation for {target_type!r}")


def kind_of(translation: AclTranslation) -> str:
    """What provisioning makes of a translation: ``kafka-acls`` (bindings on the target),
    ``msk-iam`` (IAM policy documents) or ``eventhubs`` (role assignments)."""
    return "kafka-acls" if translation.target.startswith("kafka:") else translation.target


def translate_for_spec(
    spec: Any, bindings: Iterable[AclBinding], principals: PrincipalMap
) -> AclTranslation:
    """:func:`translate_for` from the plan's target cluster spec (``type``, ``auth``,
    ``cluster_arn``; Event Hubs ``subscription_id``, ``resource_group``, ``namespace``).

    Raises:
        AclInputError: as :func:`translate_for`; for Event Hubs a missing
            ``subscription_id``, ``resource_group`` or ``namespace`` (the key named).
    """
    namespace = None
    if spec.type == "eventhubs":
        for key in ("subscription_id", "resource_group", "namespace"):
            if not getattr(spec, key, None):
                raise AclInputError(
                    f"clusters.target.{key}",
                    "Event Hubs role assignments need the namespace's subscription_id, "
                    "resource_group and namespace",
                )
        namespace = eventhubs.Namespace(spec.subscription_id, spec.resource_group, spec.namespace)
    return translate_for(
        spec.type,
        bindings,
        principals,
        auth=getattr(spec, "auth", None),
        cluster_arn=getattr(spec, "cluster_arn", None),
        namespace=namespace,
    )

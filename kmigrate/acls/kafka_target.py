"""Kafka-ACL targets: self-run Kafka, MSK with SCRAM or mTLS, Confluent Cloud.

These targets hold Kafka ACL bindings themselves, with the same model as the
source (resource pattern, principal, host, operation, permission; KIP-140,
KIP-290), so a binding moves as it is with its principal mapped: ``copied``
when the plan maps the principal to itself, ``converted`` otherwise.  Prefixed
and wildcard (``*``) resources and DENY bindings are kept: DENY is what makes a
copied set mean the same thing on the target.  The bindings to create are
:func:`target_bindings`; :mod:`kmigrate.adapters.kafka_acls` creates them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from kmigrate.acls.decisions import (
    CONVERTED,
    COPIED,
    REFUSED,
    AclDecision,
    AclTranslation,
    decide,
    rule,
    translate_each,
)
from kmigrate.acls.model import AclBinding, AclInputError, check_principal
from kmigrate.acls.principals import PrincipalMap

#: Where each Kafka-ACL target documents its ACLs (the source of :data:`KAFKA_ACL_COPIED`).
SOURCES = {
    "kafka": "https://kafka.apache.org/documentation/#security_authz",
    "msk": "https://docs.aws.amazon.com/msk/latest/developerguide/msk-acls.html",
    "confluent-cloud": "https://docs.confluent.io/cloud/current/security/access-control/acl.html",
}

KAFKA_ACL_COPIED = rule(
    "kafka_acl_copied",
    "A Kafka-ACL target (self-run Kafka, MSK with SCRAM or mTLS, Confluent Cloud) holds "
    "the binding as it is, prefixed, wildcard and DENY included; only the principal is "
    "mapped (copied when mapped to itself, converted otherwise).",
    " ; ".join(SOURCES.values()),
)
KAFKA_PRINCIPAL_FORM = rule(
    "kafka_principal_form",
    "On a Kafka-ACL target the mapped principal must itself be a Kafka principal "
    "`Type:name` (Confluent Cloud: `User:sa-...` for a service account).",
    SOURCES["kafka"] + " ; " + SOURCES["confluent-cloud"],
)


def translate(
    bindings: Iterable[AclBinding], principals: PrincipalMap, *, flavour: str = "kafka"
) -> AclTranslation:
    """Decide every binding for a Kafka-ACL target.

    Args:
        bindings: the source bindings.
        principals: the plan's principal map.
        flavour: ``kafka``, ``msk`` (SCRAM or mTLS) or ``confluent-cloud``; picks the
            documentation page cited as each decision's source.

    Each copied/converted decision's ``target`` is the target binding's dict.

    Raises:
        ValueError: an unknown ``flavour``.
    """
    if flavour not in SOURCES:
        raise ValueError(f"unknown Kafka-ACL target {flavour!r}; expected {', '.join(SOURCES)}")

    def one(binding: AclBinding, mapped: str) -> AclDecision:
        try:
            check_principal(mapped, f"acls.principals.{binding.principal}")
        except AclInputError as exc:
            return decide(binding, REFUSED, KAFKA_PRINCIPAL_FORM, exc.message, mapped)
        target = binding.with_principal(mapped)
        kind = COPIED if mapped == binding.principal else CONVERTED
        reason = "as on the source" if kind == COPIED else f"{binding.principal} -> {mapped}"
        decision = decide(binding, kind, KAFKA_ACL_COPIED, reason, mapped, target.to_dict())
        return replace(decision, source=SOURCES[flavour])

    return translate_each(f"kafka:{flavour}", bindings, principals, one)


def target_bindings(translation: AclTranslation) -> list[AclBinding]:
    """The bindings to create on the target: each copied or converted binding with its
    principal mapped, once each, in source order."""
    made = (
        d.binding.with_principal(d.target_principal)
        for d in translation.decisions
        if d.decision in (COPIED, CONVERTED) and d.target_principal
    )
    return list(dict.fromkeys(made))

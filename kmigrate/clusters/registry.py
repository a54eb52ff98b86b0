"""One registry from a plan's cluster ``type`` to the module that knows everything about it.

:data:`MODULES` maps each type to its module (``kmigrate.clusters.<name>``); the module
holds the type's :class:`~kmigrate.clusters.spec.ClusterType` as ``TYPE`` (plan keys,
profiles, its own checks and endpoint; the rules only it needs ride on its profiles)
and ``open_cluster(role, values, config)``, which returns the Kafka data plane (a
:class:`~kmigrate.clusters.port.Cluster`) and the type's
:class:`~kmigrate.clusters.port.ControlPlane`.  The functions here only look a type up
and ask its module.  An unknown type is an error here; it never silently gets Kafka's
defaults.

Plan keys per type (issue 5's contract):

* ``kafka`` / ``redpanda``: ``bootstrap_servers``.
* ``msk``: ``region``, ``cluster_arn``, ``auth`` (``iam|scram|tls|plaintext``,
  default ``iam``), optional ``bootstrap_servers`` (overrides discovery), ``facts``
  (``cluster_type``, ``broker_count``, ``broker_type``).
* ``eventhubs``: ``namespace``, ``subscription_id``, ``resource_group``, ``auth``
  (``connection-string|entra``, default ``connection-string``), ``connection_string``
  (a ``${VAR}`` reference), optional ``bootstrap_servers``, ``facts`` (``tier``,
  ``processing_units``).
* ``confluent-cloud``: ``bootstrap_servers``, ``api_key``, ``api_secret`` (references),
  ``facts`` (``cluster_type``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from kmigrate.clusters.port import Cluster, ControlPlane
from kmigrate.clusters.spec import ClusterType
from kmigrate.errors import UsageError
from kmigrate.targets.profiles import TargetProfile
from kmigrate.targets.rules import SHARED_RULES

#: Every plan key a cluster may have besides ``type`` and ``config``.
FIELD_KEYS = (
    "bootstrap_servers",
    "region",
    "cluster_arn",
    "auth",
    "namespace",
    "subscription_id",
    "resource_group",
    "connection_string",
    "api_key",
    "api_secret",
    "facts",
)

#: Plan ``type`` -> the module that knows it.
MODULES: Mapping[str, str] = MappingProxyType(
    {
        "kafka": "kmigrate.clusters.kafka",
        "redpanda": "kmigrate.clusters.redpanda",
        "msk": "kmigrate.clusters.msk",
        "eventhubs": "kmigrate.clusters.eventhubs",
        "confluent-cloud": "kmigrate.clusters.confluent_cloud",
    }
)


def module(name: str) -> ModuleType:
    """The module of the cluster type ``name`` (importing it loads no SDK).

    Raises:
        UsageError: an unknown type (the message lists the known ones).
    """
    try:
        path = MODULES[name]
    except KeyError:
        raise UsageError(
            f"unknown cluster type {name!r}; expected one of: {', '.join(MODULES)}"
        ) from None
    return importlib.import_module(path)


#: Every type's :class:`ClusterType`, by plan ``type``.
TYPES: Mapping[str, ClusterType] = MappingProxyType({n: module(n).TYPE for n in MODULES})

#: Every target profile by name (``msk-serverless``, ``eventhubs-standard``, ...).
PROFILES: Mapping[str, TargetProfile] = MappingProxyType(
    {p.name: p for t in TYPES.values() for p in t.profiles.values()}
)


def cluster_type(name: str) -> ClusterType:
    """The :class:`ClusterType` for ``name``.

    Raises:
        UsageError: an unknown type (the message lists the known ones).
    """
    kind: ClusterType = module(name).TYPE
    return kind


def profile_for(type_name: str, facts: Mapping[str, object] | None = None) -> TargetProfile:
    """The profile for a plan's cluster ``type`` and its declared ``facts``.

    ``msk`` and ``confluent-cloud`` read ``facts["cluster_type"]``, ``eventhubs``
    reads ``facts["tier"]``; ``kafka`` and ``redpanda`` need none.

    Raises:
        UsageError: unknown type, or a missing or unknown fact (the message
            names the allowed values).
    """
    return cluster_type(type_name).profile(facts)


def spec_problems(role: str, spec: Any) -> list[tuple[str, str]]:
    """Problems of one ``clusters.<role>`` entry: ``[(key, message)]``, for the plan loader.

    Checks the keys the type needs and takes, the allowed values (``auth``), that
    references are used where a secret goes, that the source is a type kmigrate
    reads from, the type's own checks, and that a target's facts pick a profile.
    """
    kind = TYPES.get(spec.type)
    if kind is None:
        return [("type", f"expected one of {', '.join(map(repr, TYPES))}; found {spec.type!r}")]
    out: list[tuple[str, str]] = []
    if role == "source" and not kind.source:
        readable = [t.name for t in TYPES.values() if t.source]
        out.append(
            (
                "type",
                f"expected a source type kmigrate reads from ({', '.join(readable)}); "
                f"found {spec.type!r} (managed services are targets)",
            )
        )
        return out
    allowed = set(kind.required) | set(kind.optional) | {"facts"}
    for key in FIELD_KEYS:
        value = getattr(spec, key)
        present = value is not None and value != {}
        if key in kind.required and not present:
            out.append((key, f"missing required key {key!r} (a {spec.type} cluster needs it)"))
        elif present and key not in allowed:
            takes = ", ".join(sorted(allowed - {"facts"}))
            out.append((key, f"a {spec.type} cluster does not take {key!r} (it takes {takes})"))
        elif present and key in kind.choices and value not in kind.choices[key]:
            out.append((key, f"expected one of {', '.join(kind.choices[key])}; found {value!r}"))
    out += kind.checks(spec)
    if role == "target":
        try:
            kind.profile(spec.facts)
        except UsageError as exc:
            out.append(("facts", str(exc)))
    return out


def declared_bootstrap(spec: Any) -> str | None:
    """The bootstrap servers the plan itself implies: the key when given, else what the
    type derives from its keys (an Event Hubs namespace's endpoint), else None (MSK
    discovers it)."""
    if spec.bootstrap_servers:
        return str(spec.bootstrap_servers)
    return cluster_type(spec.type).endpoint(spec)


def named_by(spec: Any) -> str:
    """How ``kmigrate plan`` names a cluster: its bootstrap servers, MSK ARN (and the
    servers it is reached by) or Event Hubs endpoint; ``-`` when none is known."""
    found = declared_bootstrap(spec)
    name = cluster_type(spec.type).named_by
    return name(spec, found) if name is not None else found or "-"


def open_cluster(
    role: str,
    type_name: str,
    values: Mapping[str, Any],
    config: Mapping[str, Any],
) -> tuple[Cluster, ControlPlane]:
    """Open one cluster through its type's module.

    Args:
        role: ``source`` (read-only) or ``target``.
        type_name: the plan ``type``.
        values: the plan keys of :data:`FIELD_KEYS`, references resolved (``facts`` a mapping).
        config: the plan's ``config:`` librdkafka settings, resolved; they override
            what the type generates.

    Raises:
        UsageError: unknown type, a missing extra (``pip install 'kmigrate[aws]'``), or
            an unusable value.
        ClusterError: discovery failed (MSK bootstrap servers).
    """
    opened: tuple[Cluster, ControlPlane] = module(type_name).open_cluster(role, values, config)
    return opened


def all_rules() -> tuple[Callable[..., object], ...]:
    """Every translation rule: the shared ones, then each type's own (once each, in the
    order the types' profiles carry them)."""
    out: list[Callable[..., object]] = list(SHARED_RULES)
    for profile in PROFILES.values():
        hooks = (*profile.key_rules, *profile.topic_rules, *profile.selection_rules)
        for rule in (*hooks, profile.replication_rule):
            if rule is not None and rule not in out:
                out.append(rule)
    return tuple(out)


#: Every rule, for listing them with their sources (:func:`rule_catalogue`).
ALL_RULES: tuple[Callable[..., object], ...] = all_rules()


def rule_catalogue() -> list[dict[str, str]]:
    """Every rule as ``{"rule", "summary", "source"}``: its name, the first sentence of its
    docstring and the text after ``Source:``."""
    out = []
    for rule in ALL_RULES:
        doc = " ".join((rule.__doc__ or "").split())
        summary = doc.split(". ")[0].rstrip(".")
        _, _, source = doc.partition("Source: ")
        out.append({"rule": rule.__name__, "summary": summary, "source": source})
    return out

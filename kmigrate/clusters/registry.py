"""One registry from a plan's cluster ``type`` to the module that knows everything about it.

Each entry names the module (``kmigrate.clusters.<name>``) and the plan keys the type
takes; the module's ``open_cluster(role, values, config)`` returns the Kafka data plane
(a :class:`~kmigrate.clusters.port.Cluster`) and the type's
:class:`~kmigrate.clusters.port.ControlPlane`.  An unknown type is an error here; it
never silently gets Kafka's defaults.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kmigrate.clusters.port import Cluster, ControlPlane
from kmigrate.errors import UsageError

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


@dataclass(frozen=True)
class ClusterType:
    """What the registry knows about one ``type``.

    Attributes:
        name: the plan ``type``.
        module: the module holding it (``open_cluster``).
        required / optional: plan keys (``facts`` and ``config`` are always allowed).
        references: keys whose value must be a ``${VAR}`` / ``${file:…}`` reference.
        choices: allowed values per key (``auth``).
        source: whether kmigrate reads from this type as a migration's source.
        extra: the kmigrate extra its SDKs come from (``aws``, ``azure``), or None.
    """

    name: str
    module: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: bool = False
    extra: str | None = None


TYPES: dict[str, ClusterType] = {
    t.name: t
    for t in (
        ClusterType("kafka", "kmigrate.clusters.kafka", ("bootstrap_servers",), source=True),
        ClusterType("redpanda", "kmigrate.clusters.redpanda", ("bootstrap_servers",), source=True),
        ClusterType(
            "msk",
            "kmigrate.clusters.msk",
            ("region", "cluster_arn"),
            ("auth", "bootstrap_servers"),
            choices={"auth": ("iam", "scram", "tls", "plaintext")},
            extra="aws",
        ),
        ClusterType(
            "eventhubs",
            "kmigrate.clusters.eventhubs",
            ("namespace", "subscription_id", "resource_group"),
            ("auth", "connection_string", "bootstrap_servers"),
            references=("connection_string",),
            choices={"auth": ("connection-string", "entra")},
            extra="azure",
        ),
        ClusterType(
            "confluent-cloud",
            "kmigrate.clusters.confluent_cloud",
            ("bootstrap_servers", "api_key", "api_secret"),
            references=("api_secret",),
        ),
    )
}


def cluster_type(name: str) -> ClusterType:
    """The registry entry for ``name``.

    Raises:
        UsageError: an unknown type (the message lists the known ones).
    """
    try:
        return TYPES[name]
    except KeyError:
        raise UsageError(
            f"unknown cluster type {name!r}; expected one of: {', '.join(TYPES)}"
        ) from None


def spec_problems(role: str, spec: Any) -> list[tuple[str, str]]:
    """Problems of one ``clusters.<role>`` entry: ``[(key, message)]``, for the plan loader.

    Checks the keys the type needs and takes, the allowed values (``auth``), that
    references are used where a secret goes, and that the source is a type kmigrate
    reads from.
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
    eh_string = (
        spec.type == "eventhubs" and (spec.auth or "connection-string") == "connection-string"
    )
    if eh_string and spec.connection_string is None:
        out.append(("connection_string", "auth: connection-string needs connection_string"))
    if role == "target":
        from kmigrate.targets.profiles import profile_for

        try:
            profile_for(spec.type, spec.facts)
        except UsageError as exc:
            out.append(("facts", str(exc)))
    if spec.type == "msk" and (spec.auth or "iam") == "scram":
        missing = [k for k in ("sasl.username", "sasl.password") if k not in spec.config]
        if missing:
            out.append(
                ("config", f"auth: scram needs {' and '.join(missing)} under config (references)")
            )
    return out


def declared_bootstrap(spec: Any) -> str | None:
    """The bootstrap servers the plan itself implies: the key when given, an Event Hubs
    namespace's endpoint, else None (MSK discovers it)."""
    if spec.bootstrap_servers:
        return str(spec.bootstrap_servers)
    if spec.type == "eventhubs" and spec.namespace:
        return f"{spec.namespace}.servicebus.windows.net:9093"
    return None


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
    kind = cluster_type(type_name)
    module = importlib.import_module(kind.module)
    opened: tuple[Cluster, ControlPlane] = module.open_cluster(role, values, config)
    return opened


def librdkafka_settings(settings: Mapping[str, object]) -> dict[str, Any]:
    """Settings as librdkafka takes them: booleans as ``true``/``false``, numbers as text,
    callables (``oauth_cb``) as they are."""
    return {
        k: v if callable(v) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in settings.items()
    }

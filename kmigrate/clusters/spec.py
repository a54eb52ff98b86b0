"""What a cluster type declares about itself: its plan keys, its profiles and its hooks.

Each type's module (``kmigrate/clusters/<type>``) holds one :class:`ClusterType` as
``TYPE``, beside its ``open_cluster``; :mod:`kmigrate.clusters.registry` maps a plan's
``type`` to that module and asks it.  Pure data and lookups: no cluster access.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kmigrate.errors import UsageError
from kmigrate.targets.profiles import TargetProfile


def no_problems(spec: Any) -> list[tuple[str, str]]:
    """The default of :attr:`ClusterType.checks`: a type with no checks of its own."""
    return []


def no_endpoint(spec: Any) -> str | None:
    """The default of :attr:`ClusterType.endpoint`: the plan's ``bootstrap_servers`` only."""
    return None


@dataclass(frozen=True)
class ClusterType:
    """What one plan ``type`` is.

    Attributes:
        name: the plan ``type``.
        required / optional: plan keys (``facts`` and ``config`` are always allowed).
        references: keys whose value must be a ``${VAR}`` / ``${file:…}`` reference.
        choices: allowed values per key (``auth``).
        source: whether kmigrate reads from this type as a migration's source.
        extra: the kmigrate extra its SDKs come from (``aws``, ``azure``), or None.
        profiles: its target profiles, keyed by the value of ``facts[facts_key]``
            (in the order the error messages list them), or by ``""`` when the type
            has one profile.
        facts_key: the ``facts`` key that picks the profile (``cluster_type``,
            ``tier``), or None.
        checks: the type's own checks of a ``clusters.<role>`` entry (a plan
            :class:`~kmigrate.plan.schema.ClusterSpec`), ``[(key, message)]``, run
            after the registry's checks of keys and values.
        endpoint: the bootstrap servers a spec implies when it has no
            ``bootstrap_servers`` (an Event Hubs namespace's endpoint), or None.
        named_by: how ``kmigrate plan`` names the cluster, given the spec and its
            bootstrap servers (or None): the servers, or an ARN.
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: bool = False
    extra: str | None = None
    profiles: Mapping[str, TargetProfile] = field(default_factory=dict)
    facts_key: str | None = None
    checks: Callable[[Any], list[tuple[str, str]]] = no_problems
    endpoint: Callable[[Any], str | None] = no_endpoint
    named_by: Callable[[Any, str | None], str] | None = None

    def profile(self, facts: Mapping[str, object] | None = None) -> TargetProfile:
        """The profile for the declared ``facts`` (``facts[facts_key]``, any case).

        Raises:
            UsageError: a missing or unknown fact (the message names the allowed values).
        """
        if self.facts_key is None:
            return self.profiles[""]
        key, allowed = self.facts_key, tuple(self.profiles)
        value = (facts or {}).get(key)
        if value is None:
            raise UsageError(
                f"a {self.name} target needs facts.{key} (one of: {', '.join(allowed)})"
            )
        kind = str(value).lower()
        if kind not in allowed:
            raise UsageError(
                f"{self.name} facts.{key}: expected one of {', '.join(allowed)}; found {value!r}"
            )
        return self.profiles[kind]

"""Build the adapters and the step context for a plan (or for standalone commands)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kmigrate.adapters.connect_rest import ConnectRest
from kmigrate.clusters import registry
from kmigrate.clusters.port import Cluster, ControlPlane
from kmigrate.errors import PlanError, UsageError
from kmigrate.journal import Journal
from kmigrate.permissions import ExactlyOnceWriter
from kmigrate.plan import LoadedPlan
from kmigrate.plan.refs import (
    REFERENCE,
    UnresolvedReference,
    is_sensitive,
    resolve,
    unset_variables,
)
from kmigrate.plan.schema import TranslateOffsetsStep
from kmigrate.runtime.rerun import missing_topics_advice
from kmigrate.steps import record_of
from kmigrate.steps.base import StepContext
from kmigrate.steps.mirror_mm2 import mm2_options
from kmigrate.ui import UI


def spec_values(
    plan: LoadedPlan, role: str, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The cluster's plan keys (:data:`~kmigrate.clusters.registry.FIELD_KEYS`) with
    ``${…}`` references resolved; ``facts`` as a mapping.

    Raises:
        kmigrate.errors.PlanError: a reference cannot be resolved (file, line, key; the
            message names the variable, never a value).
    """
    env = os.environ if environ is None else environ
    spec = getattr(plan.model.clusters, role)
    out: dict[str, Any] = {"facts": dict(spec.facts)}
    for key in registry.FIELD_KEYS:
        value = getattr(spec, key)
        if key == "facts" or value is None:
            continue
        try:
            out[key] = resolve(str(value), env, plan.base_dir)
        except UnresolvedReference as exc:
            raise PlanError(f"{plan.where(('clusters', role, key))}: {exc}") from None
    return out


#: The target keys the ACL translation reads (:func:`kmigrate.acls.targets.translate_for_spec`):
#: identities, never a secret.
ACL_TARGET_KEYS = ("auth", "cluster_arn", "namespace", "subscription_id", "resource_group")


def acl_target_spec(plan: LoadedPlan, environ: Mapping[str, str] | None = None) -> Any:
    """The plan's target spec with :data:`ACL_TARGET_KEYS` resolved (a cluster ARN written
    as ``${MSK_CLUSTER_ARN}``, as ``init`` writes it, becomes the ARN).

    Raises:
        kmigrate.errors.PlanError: a reference cannot be resolved (file, line, key).
    """
    env = os.environ if environ is None else environ
    spec = plan.model.clusters.target
    update: dict[str, str] = {}
    for key in ACL_TARGET_KEYS:
        value = getattr(spec, key)
        if value is None:
            continue
        try:
            update[key] = resolve(str(value), env, plan.base_dir)
        except UnresolvedReference as exc:
            raise PlanError(f"{plan.where(('clusters', 'target', key))}: {exc}") from None
    return spec.model_copy(update=update)


def check_variables(plan: LoadedPlan, environ: Mapping[str, str] | None = None) -> None:
    """Every ``${ENV_VAR}`` the plan's clusters reference must be set: all the
    unset ones are named at once (file, line, key each), before any cluster is
    opened, so that one run lists what the operator must export.

    Raises:
        kmigrate.errors.PlanError: variables are unset (never shows a value).
    """
    env = os.environ if environ is None else environ
    problems = []
    for role in ("source", "target"):
        spec = getattr(plan.model.clusters, role)
        values: list[tuple[tuple[str | int, ...], Any]] = [
            (("clusters", role, key), getattr(spec, key))
            for key in registry.FIELD_KEYS
            if key != "facts" and getattr(spec, key) is not None
        ]
        values += [(("clusters", role, "config", key), v) for key, v in spec.config.items()]
        for loc, value in values:
            for name in unset_variables(str(value), env):
                problems.append(f"{plan.where(loc)}: environment variable {name} is not set")
    if len(problems) == 1:
        raise PlanError(problems[0])
    if problems:
        raise PlanError(
            f"{len(problems)} environment variables are not set:\n  " + "\n  ".join(problems)
        )


def open_role(
    plan: LoadedPlan, role: str, environ: Mapping[str, str] | None = None
) -> tuple[Cluster, ControlPlane]:
    """One cluster of the plan through the registry: its data plane and control plane.

    Raises:
        kmigrate.errors.PlanError: a reference cannot be resolved.
        UsageError: a missing extra (the message names the pip command).
        kmigrate.errors.ClusterError: discovery failed (MSK bootstrap servers).
    """
    spec = getattr(plan.model.clusters, role)
    return registry.open_cluster(
        role,
        spec.type,
        spec_values(plan, role, environ),
        plan.resolved_config(role, environ),
    )


def latest_record(journal: Journal | None, plan: LoadedPlan, action: str) -> dict[str, Any] | None:
    """The record of the most recently started succeeded step with ``action`` in the journal.

    Steps are found by their journaled ``action`` (their id may be anything),
    including steps no longer in the plan: what they did is still there.
    """
    if journal is None:
        return None
    entry = journal.latest_succeeded(action)
    return None if entry is None else dict(entry.get("record") or {})


def plan_context(
    plan: LoadedPlan,
    ui: UI,
    journal: Journal | None,
    *,
    environ: Mapping[str, str] | None = None,
) -> StepContext:
    """The :class:`StepContext` every step of ``plan`` runs with.

    Raises:
        kmigrate.errors.PlanError: environment variables are unset (all named).
    """
    check_variables(plan, environ)
    source, _ = open_role(plan, "source", environ)
    target, target_plane = open_role(plan, "target", environ)
    m = plan.model
    specs = [step for phase in m.phases for step in phase.steps]
    actions = [getattr(step, "action", "") for step in specs]
    selections = [step.groups for step in specs if isinstance(step, TranslateOffsetsStep)]
    groups = (
        (
            tuple(p for sel in selections for p in sel.include),
            tuple(p for sel in selections for p in sel.exclude),
        )
        if selections
        else None
    )
    return StepContext(
        source=source,
        target=target,
        target_plane=target_plane,
        ui=ui,
        source_type=m.clusters.source.type,
        target_type=m.clusters.target.type,
        include=tuple(m.topics.include),
        exclude=tuple(m.topics.exclude),
        base_dir=plan.base_dir,
        state_dir=plan.state_dir,
        journal_lookup=lambda action: record_of(action, latest_record(journal, plan, action)),
        missing_topics_advice=lambda: missing_topics_advice(plan),
        actions=tuple(a for a in actions if a),
        groups=groups,
        secret_env=referenced_variables(plan),
        acls=m.acls,
        target_spec=acl_target_spec(plan, environ),
        mm2_plan=m,
        exactly_once_writer=exactly_once_writer(plan, target),
    )


def exactly_once_writer(plan: LoadedPlan, target: Cluster) -> ExactlyOnceWriter | None:
    """Who writes MirrorMaker 2's records on the target in transactions: for the first
    mirror step with ``engine: mirrormaker2`` and ``connect.exactly_once: true`` (or
    not set, on a Connect REST API: then the check asks the cluster), the plan's
    target principal (``User:`` its resolved ``sasl.username``; MM2's configs
    give the tasks' producer the plan's target settings, ``producer.override.*``;
    empty where the target does not authenticate a SASL user), the source connector's
    name and ``tasks_max``.  None when no mirror step may use exactly-once."""
    for phase in plan.model.phases:
        for step in phase.steps:
            connect = getattr(step, "connect", None)
            if getattr(step, "engine", "native") != "mirrormaker2" or connect is None:
                continue
            required = getattr(connect, "exactly_once", None)
            if required is False or (required is None and getattr(connect, "url", None) is None):
                continue
            config: Mapping[str, Any] = getattr(target, "config", None) or {}
            user = str(config.get("sasl.username") or "")
            prefix = mm2_options(connect, plan.model.name, None).name
            return ExactlyOnceWriter(
                f"User:{user}" if user else "",
                f"{prefix}-source",
                int(getattr(connect, "tasks_max", 1)),
                getattr(connect, "group_id", None),
                required=required is True,
                connect=connect,
            )
    return None


def referenced_variables(plan: LoadedPlan) -> frozenset[str]:
    """Names of the environment variables the plan's ``${VAR}`` references name.

    Every reference sits under ``clusters`` (config values, ``connection_string``,
    ``api_secret``, ...); shell steps run without these variables.
    """
    names: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, str):
            names.update(m.group("var") for m in REFERENCE.finditer(value) if m.group("var"))
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(plan.model.clusters.model_dump(mode="json"))
    return frozenset(names)


def parse_settings(
    pairs: tuple[str, ...], option: str, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``("security.protocol=SASL_SSL", "sasl.password=${PW}")`` → librdkafka settings.

    Values may be ``${ENV_VAR}`` or ``${file:path}`` references; secret keys
    must be (a literal secret on a command line lands in shell history).

    Raises:
        UsageError: a pair without ``=``, a literal secret, or an unresolvable reference.
    """
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} expects KEY=VALUE; found {pair!r}")
        if is_sensitive(key, value) and not REFERENCE.fullmatch(value):
            raise UsageError(
                f"{option} {key}: expected a ${{ENV_VAR}} or ${{file:path}} "
                "reference for a secret; found a literal value (not shown)"
            )
        try:
            out[key] = resolve(value, env, Path.cwd())
        except UnresolvedReference as exc:
            raise UsageError(f"{option} {key}: {exc}") from None
    return out


def _unset(pairs: tuple[str, ...], option: str) -> list[str]:
    return [
        f"{option} {k}: environment variable {name} is not set"
        for k, _, v in (pair.partition("=") for pair in pairs)
        for name in unset_variables(v, os.environ)
    ]


def standalone_context(
    source: str | None,
    target: str | None,
    ui: UI,
    *,
    topics: tuple[str, ...] = ("*",),
    exclude: tuple[str, ...] = ("__*",),
    source_type: str = "kafka",
    target_type: str = "kafka",
    source_config: tuple[str, ...] = (),
    target_config: tuple[str, ...] = (),
) -> StepContext:
    """A context for ``kmigrate export|provision|mirror|verify`` without a plan.

    ``source_config``/``target_config``: ``KEY=VALUE`` librdkafka settings.

    Raises:
        UsageError: a malformed setting (see :func:`parse_settings`).
    """
    unset = _unset(source_config, "--source-config") + _unset(target_config, "--target-config")
    if len(unset) > 1:
        raise UsageError(f"{len(unset)} environment variables are not set: " + "; ".join(unset))
    source_cluster, _ = registry.open_cluster(
        "source",
        source_type,
        {"bootstrap_servers": source or ""},
        parse_settings(source_config, "--source-config"),
    )
    target_cluster, target_plane = registry.open_cluster(
        "target",
        target_type,
        {"bootstrap_servers": target or ""},
        parse_settings(target_config, "--target-config"),
    )
    return StepContext(
        source=source_cluster,
        target=target_cluster,
        target_plane=target_plane,
        ui=ui,
        source_type=source_type,
        target_type=target_type,
        include=topics,
        exclude=exclude,
    )


def connect_rest(
    url: str,
    username: str | None,
    password: str | None,
    environ: Mapping[str, str],
    base_dir: Path,
) -> ConnectRest:
    """A Kafka Connect REST client whose basic-auth user and password are ``${ENV}``
    or ``${file:path}`` references, resolved through :func:`kmigrate.plan.refs.resolve`
    (so every value is remembered and masked in any later message); no auth without
    either.

    Raises:
        UsageError: a reference names an unset variable or unreadable file
            (the message names it, never a value).
    """
    if not (username or password):
        return ConnectRest(url)
    try:
        user = resolve(username or "", environ, base_dir)
        secret = resolve(password or "", environ, base_dir)
    except UnresolvedReference as exc:
        raise UsageError(f"Connect REST authentication: {exc}") from None
    return ConnectRest(url, (user, secret))

"""Build the adapters and the step context for a plan (or for standalone commands)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.journal import SUCCEEDED, Journal
from kmigrate.plan import LoadedPlan
from kmigrate.steps.base import StepContext
from kmigrate.ui import UI


def clusters_for(
    plan: LoadedPlan, environ: Mapping[str, str] | None = None
) -> tuple[KafkaCluster, KafkaCluster]:
    """The source and target adapters, with ``${…}`` references resolved.

    Raises:
        kmigrate.errors.PlanError: a reference cannot be resolved.
    """
    env = os.environ if environ is None else environ
    c = plan.model.clusters
    return (
        KafkaCluster("source", c.source.bootstrap_servers, plan.resolved_config("source", env)),
        KafkaCluster("target", c.target.bootstrap_servers, plan.resolved_config("target", env)),
    )


def latest_record(journal: Journal | None, plan: LoadedPlan, action: str) -> dict[str, Any] | None:
    """The record of the last succeeded step with ``action`` in the plan's journal."""
    if journal is None:
        return None
    found = None
    for p, phase in enumerate(plan.model.phases):
        for s, spec in enumerate(phase.steps):
            if getattr(spec, "action", None) != action:
                continue
            entry = journal.entry(f"{p + 1}.{s + 1}")
            if entry and entry["status"] == SUCCEEDED:
                found = entry["record"]
    return found


def plan_context(
    plan: LoadedPlan,
    ui: UI,
    journal: Journal | None,
    *,
    dry_run: bool,
    environ: Mapping[str, str] | None = None,
) -> StepContext:
    """The :class:`StepContext` every step of ``plan`` runs with."""
    source, target = clusters_for(plan, environ)
    m = plan.model
    return StepContext(
        source=source,
        target=target,
        ui=ui,
        source_type=m.clusters.source.type,
        target_type=m.clusters.target.type,
        include=tuple(m.topics.include),
        exclude=tuple(m.topics.exclude),
        base_dir=plan.base_dir,
        state_dir=plan.state_dir,
        dry_run=dry_run,
        journal_lookup=lambda action: latest_record(journal, plan, action),
    )


def standalone_context(
    source: str | None,
    target: str | None,
    ui: UI,
    *,
    topics: tuple[str, ...] = ("*",),
    exclude: tuple[str, ...] = ("__*",),
    source_type: str = "kafka",
    target_type: str = "kafka",
    dry_run: bool = False,
) -> StepContext:
    """A context for ``kmigrate export|provision|mirror|verify`` without a plan."""
    return StepContext(
        source=KafkaCluster("source", source or ""),
        target=KafkaCluster("target", target or ""),
        ui=ui,
        source_type=source_type,
        target_type=target_type,
        include=topics,
        exclude=exclude,
        dry_run=dry_run,
    )

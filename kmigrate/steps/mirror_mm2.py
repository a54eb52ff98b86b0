"""The mirror step with ``engine: mirrormaker2``: MirrorMaker 2 connectors copy, on a
Kafka Connect REST API or MSK Connect (the plan's ``connect:`` block).

The step makes the connector configs from the plan (topic selection, both
clusters, secrets as references: :mod:`kmigrate.engines.mirrormaker2.config`),
journals what each side held before a connector exists, creates the connectors
(journaling each reference), waits until every task is RUNNING, follows the copy
until it ends (:mod:`kmigrate.engines.mirrormaker2.engine`) and deletes the
connectors.  A re-run after a crash finds the journaled connectors and goes on.
Rollback deletes those connectors and the MM2 internal topics this run created on
the target, never a topic that existed before, never anything on the source.

Connector names are deterministic (``kmigrate-PLAN-source``) and Kafka Connect keeps
a source connector's committed source offsets by name after it is deleted, so:

* a fresh run (no connector in this step's journal state, and no earlier MM2
  mirror step of the plan, still journaled as succeeded, whose connectors these
  are) creates each connector STOPPED, resets any stored source offsets ("connector
  X had source offsets from an earlier run; reset (KIP-875)"), then resumes it;
* a re-run after a crash keeps them (the copy goes on where it was), and so does
  a later MM2 step of the plan (snapshot, then follow: the offsets point right
  after what the earlier step copied) and ``kmigrate mirror`` (no plan, no
  journal) whose ``--state-dir`` offset map already holds these partitions;
* rollback resets them as well: a connector still there is stopped, reset and
  deleted; one the copy already deleted is re-created STOPPED from its journaled
  config (no task runs), reset and deleted again.  The fresh-run reset stays as the
  second guard (a rollback that could not reach the Connect cluster, a wiped
  state folder).
* Where that cannot be done (Connect before 3.6/3.7, endpoints answering 404/405,
  MSK Connect, which has no offsets API) the run does not fail: the output and the
  journal (``mm2.offset_notes``) say why, and that a new ``connect.name`` avoids it.

Details and sources: :mod:`kmigrate.engines.mirrormaker2.source_offsets`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from kmigrate.clusters.connect import ConnectRestPlane
from kmigrate.engines.base import FollowSpec
from kmigrate.engines.copying import stop_on_signals
from kmigrate.engines.mirrormaker2 import msk
from kmigrate.engines.mirrormaker2.config import Mm2Options, NotRenderable, connectors
from kmigrate.engines.mirrormaker2.engine import (
    Mm2Engine,
    Mm2State,
    note_internal_topics,
    topic_lag_json,
)
from kmigrate.engines.mirrormaker2.offset_syncs import (
    check_offset_syncs,
    offset_syncs_topic,
    syncs_ends,
)
from kmigrate.engines.mirrormaker2.plane import ConnectPlane
from kmigrate.engines.mirrormaker2.source_offsets import rollback_connectors
from kmigrate.errors import ClusterError, PlanError, StepFailed, UsageError
from kmigrate.offsets.build import build_offset_map, observe_source
from kmigrate.offsets.checks import lost_range, source_lost_error
from kmigrate.offsets.gaps import SourceMark, keep_marks
from kmigrate.offsets.map import OffsetMap
from kmigrate.plan.loader import LoadedPlan
from kmigrate.plan.refs import UnresolvedReference, resolve
from kmigrate.plan.schema import ConnectSpec, MirrorStep
from kmigrate.steps.base import JsonRecord, StepContext
from kmigrate.steps.mirror_record import MirrorRecord, PartitionCopy
from kmigrate.steps.mirror_target import check_target, partitions_of, refuse_occupied

#: Seconds between looks at the source's log start, end and topic id while following.
MARK_EVERY_S = 10.0


def plane_for(spec: ConnectSpec, ctx: StepContext) -> ConnectPlane:
    """The control plane ``spec`` names: a :class:`ConnectRestPlane` for ``url``
    (basic auth resolved from its references, relative to the plan's folder), or the
    MSK Connect plane for ``msk_connect``.

    Raises:
        UsageError: a reference is unset or unreadable (named, never a value).
        kmigrate.engines.mirrormaker2.config.NotRenderable: the plan's target cannot
            be reached from MSK Connect (IAM or no authentication only).
    """
    if spec.url is not None:
        auth = None
        if spec.username or spec.password:
            try:
                auth = (
                    resolve(spec.username or "", os.environ, ctx.base_dir),
                    resolve(spec.password or "", os.environ, ctx.base_dir),
                )
            except UnresolvedReference as exc:
                raise UsageError(f"connect: {exc}") from None
        return ConnectRestPlane(spec.url, auth)
    return msk.msk_connect_plane(spec.msk_connect, ctx.mm2_plan)


def mm2_options(spec: ConnectSpec, plan_name: str, plane: ConnectPlane | None) -> Mm2Options:
    """The connector options: name prefix (``kmigrate-PLAN`` by default), tasks,
    checkpoints, replication factor; the worker's producer gets the plan's target
    settings on a Connect REST API (on MSK Connect the worker authenticates itself)."""
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in plan_name) or "plan"
    return Mm2Options(
        name=spec.name or f"kmigrate-{slug}",
        tasks_max=spec.tasks_max,
        checkpoints=spec.checkpoints,
        exactly_once=bool(spec.exactly_once),
        replication_factor=spec.replication_factor,
        producer_override=spec.url is not None,
    )


def connector_configs(
    spec: ConnectSpec, mm2_plan: Any, plane: ConnectPlane
) -> list[dict[str, str]]:
    """The connector configs of this step (secrets as Connect config-provider
    references); exactly-once source support asked of a Connect REST API when the
    plan does not say (KIP-618)."""
    opts = mm2_options(spec, mm2_plan.name, plane)
    if spec.exactly_once is None and isinstance(plane, ConnectRestPlane):
        probe = connectors(mm2_plan, opts)[0]
        opts = replace(opts, exactly_once=plane.exactly_once_source(probe))
    return connectors(mm2_plan, opts)


def planned_mm2_steps(
    loaded: LoadedPlan, phase_index: int | None = None
) -> list[tuple[str, ConnectSpec, list[dict[str, str]]]]:
    """Every mirror step with ``engine: mirrormaker2`` (of phase ``phase_index``,
    0-based, or of all phases): ``(where, connect block, connector configs)``, where
    is ``phases[i].steps[j]`` (1-based).  ``kmigrate plan`` shows them and
    ``kmigrate execute`` checks them before the first step.

    Raises:
        PlanError: a config cannot be made from the plan, as ``file:line: key: why``.
    """
    out = []
    for i, phase in enumerate(loaded.model.phases):
        if phase_index is not None and i != phase_index:
            continue
        for j, step in enumerate(phase.steps):
            if not (isinstance(step, MirrorStep) and step.engine == "mirrormaker2"):
                continue
            if step.connect is None:
                continue
            try:
                configs = planned_configs(step.connect, loaded.model)
            except NotRenderable as exc:
                raise PlanError(f"{loaded.where(exc.loc)}: {exc.problem}") from None
            out.append((f"phases[{i + 1}].steps[{j + 1}]", step.connect, configs))
    return out


def planned_configs(spec: ConnectSpec, mm2_plan: Any) -> list[dict[str, str]]:
    """The connector configs ``kmigrate plan`` shows: as the step makes them, with
    exactly-once as the plan says (a run asks the Connect cluster when it does not).

    Raises:
        kmigrate.engines.mirrormaker2.config.NotRenderable: a plan key the configs
            cannot be made from (its key path in ``loc``), or, on MSK Connect, a
            target its workers cannot reach (IAM or no authentication only).
    """
    if spec.msk_connect is not None:
        msk.msk_connect_base(mm2_plan, msk.msk_options(spec.msk_connect))
    opts = Mm2Options(
        name=mm2_options(spec, mm2_plan.name, None).name,
        tasks_max=spec.tasks_max,
        checkpoints=spec.checkpoints,
        exactly_once=bool(spec.exactly_once),
        replication_factor=spec.replication_factor,
        producer_override=spec.url is not None,
    )
    return connectors(mm2_plan, opts)


def mirror_mm2(
    ctx: StepContext,
    topics: list[str],
    spec: ConnectSpec,
    follow: FollowSpec,
    previous: JsonRecord,
    *,
    append: bool = False,
) -> MirrorRecord:
    """Copy ``topics`` with MirrorMaker 2 (see the module's text); returns the record.

    Raises:
        StepFailed: a target topic is missing or narrower, a target partition holds
            records no earlier attempt wrote (without ``append``), a connector or
            task FAILED (its trace in words) or did not run within
            ``running_timeout_s``.
        ClusterError: a cluster or the plane did not answer.
    """
    omap = OffsetMap.load(ctx.state_dir)
    record = MirrorRecord(follow.mode, None, str(omap.path), engine="mirrormaker2")
    parts = partitions_of(ctx.source, topics)
    state = Mm2State.from_json(previous.get("mm2")) if previous else None
    plane = plane_for(spec, ctx)
    fresh = state is None or not state.connectors
    earlier = ctx.journal_lookup("mirror")
    continued = isinstance(earlier, MirrorRecord) and earlier.mm2 is not None
    if fresh:
        _present, ends = check_target(ctx, record, omap, parts)
        occupied = [f"{t}[{p}]" for (t, p), end in ends.items() if end > 0]
        if continued:
            occupied = []  # an earlier MM2 step of this plan copied them
        if occupied:
            refuse_occupied(ctx, occupied, append)
    configs = (
        state.configs
        if state and state.connectors
        else connector_configs(spec, ctx.mm2_plan, plane)
    )
    if fresh and continued:
        assert isinstance(earlier, MirrorRecord) and earlier.mm2 is not None
        names = {c["name"] for c in earlier.mm2.connectors}
        kept = [c["name"] for c in configs if c["name"] in names]
        if kept:
            ctx.ui.line(
                f"connectors {', '.join(kept)} resume from the source offsets an earlier "
                "MirrorMaker 2 mirror step of this plan left (kept: they point right after "
                "what it copied)"
            )
        fresh = not kept
    if fresh and ctx.step_id == "standalone" and any(omap.get(*tp) for tp in parts):
        # ``kmigrate mirror`` has no journal: its --state-dir's offset map says an
        # earlier run copied these partitions, so the stored offsets are its own.
        ctx.ui.line(
            "the offset map in the state folder holds an earlier kmigrate mirror's copy of "
            "these partitions: the connectors resume from their stored source offsets"
        )
        fresh = False
    engine = Mm2Engine(plane, configs, poll_s=spec.poll_s, running_timeout_s=spec.running_timeout_s)
    if ctx.effects.before_writes(lambda: _describe(ctx, configs, plane, len(parts))):
        return record
    if state is None:
        state = engine.note_start(ctx.source, ctx.target, parts)
        state.offset_syncs_from = syncs_ends(
            ctx.target, offset_syncs_topic(Mm2Options().source_alias)
        )
        note_source(ctx, state, parts)
    record.mm2 = state
    ctx.checkpoint(record.to_json())
    return _run(ctx, record, engine, follow, fresh=fresh)


def _describe(ctx: StepContext, configs: list[dict[str, str]], plane: ConnectPlane, n: int) -> None:
    names = ", ".join(c["name"] for c in configs)
    ctx.ui.line(
        f"would create MirrorMaker 2 connectors {names} on {plane.where} (STOPPED first, "
        f"resetting any source offsets an earlier run left: KIP-875) to copy "
        f"{n} partitions, follow them until the copy ends, then delete them"
    )


def _run(
    ctx: StepContext, record: MirrorRecord, engine: Mm2Engine, follow: FollowSpec, *, fresh: bool
) -> MirrorRecord:
    """Create (or find) the connectors (``fresh``: their stored source offsets reset
    first), wait for RUNNING, follow, delete them."""
    state = record.mm2
    assert state is not None
    for line in engine.create(state, lambda: ctx.checkpoint(record.to_json()), fresh=fresh):
        (ctx.ui.warn if "could not" in line or "not checked" in line else ctx.ui.line)(line)
    stop = threading.Event()
    reason: list[str] = []
    job: Any = SimpleNamespace(follow=follow, stop=stop, stop_reason=reason)
    try:
        with stop_on_signals(job):
            waited = engine.wait_running(state, stop)
            ctx.ui.line(f"every task RUNNING after {waited:.1f} s")

            marked = [time.monotonic()]

            def on_tick(result: Any) -> None:
                if time.monotonic() - marked[0] >= MARK_EVERY_S:  # a re-created topic
                    note_source(ctx, state, list(result.partition_lag))
                    marked[0] = time.monotonic()
                record.lag = topic_lag_json(result.partition_lag)
                record.partitions = _partitions(state, result.copied)
                ctx.checkpoint(record.to_json())

            result = engine.follow(
                state, ctx.source, ctx.target, follow, stop, reason, on_tick=on_tick
            )
    except StepFailed:
        note_internal_topics(state, ctx.target)
        ctx.checkpoint(record.to_json())
        raise
    record.ended = result.ended
    for line in engine.finish(state, ctx.target):
        ctx.ui.line(line)
    record.lag = topic_lag_json(result.partition_lag)
    record.partitions = _partitions(state, result.copied)
    ctx.checkpoint(record.to_json())
    _align(ctx, record, state, result.copied)
    return record


def _align(
    ctx: StepContext, record: MirrorRecord, state: Mm2State, copied: Mapping[tuple[str, int], int]
) -> None:
    """Build the exact offset map by aligning both sides by digest
    (:func:`kmigrate.offsets.build.build_offset_map`), so ``verify`` and
    ``translate-offsets`` work as after a native copy; each duplicate, missing or
    unmatched range is warned about.

    Raises:
        RecordsLost: source records were deleted before MM2 copied them (named).
    """
    parts = [(t, int(p)) for t, _, p in (k.rpartition(":") for k in sorted(state.source_start))]
    note_source(ctx, state, parts)
    marks = {
        tp: [SourceMark(at, low, high, tid) for at, low, high, tid in state.source_marks[_k(tp)]]
        for tp in parts
        if state.source_marks.get(_k(tp))
    }
    omap = OffsetMap.load(ctx.state_dir)
    report = build_offset_map(ctx.source, ctx.target, parts, omap, marks=marks)
    report.offset_syncs = check_offset_syncs(
        ctx.target, omap, Mm2Options().source_alias, state.offset_syncs_from
    )
    record.alignment = report.as_json()
    ctx.ui.line(
        f"offset map built by aligning both sides: {report.records:,} records read in "
        f"{report.seconds:.1f} s ({report.records_per_s:,.0f} records/s)"
    )
    for problem in report.problems():
        ctx.ui.warn(problem)
    syncs = report.offset_syncs
    ctx.ui.line(
        f"MM2's offset syncs ({syncs['topic']}): {syncs['checked']:,} checked against the "
        f"exact map, {len(syncs['disagreements']):,} disagree"
    )
    record.partitions = [
        PartitionCopy.of(m, [max(copied.get(tp, 0), 0), 0])
        for tp in parts
        if (m := omap.get(*tp)) is not None
    ]
    record.lost = [
        lost_range("source", d["topic"], d["partition"], d["first"], d["last"] + 1)
        for d in report.lost
    ]
    ctx.checkpoint(record.to_json())
    if record.lost:
        raise source_lost_error(record.lost)


def _partitions(state: Mm2State, copied: Mapping[tuple[str, int], int]) -> list[PartitionCopy]:
    """Per partition: the source range ``[log start, high watermark)`` at the start and
    the target's growth since (an upper bound of records: exactly-once leaves
    transaction markers); the exact map comes from alignment."""
    out = []
    for key, (low, high) in sorted(state.source_start.items()):
        topic, _, part = key.rpartition(":")
        t0 = state.target_start[key]
        got = copied.get((topic, int(part)), 0)
        out.append(PartitionCopy(topic, int(part), low, high, t0, t0 + got, got, 0, got, 0))
    return out


def _k(tp: tuple[str, int]) -> str:
    return f"{tp[0]}:{tp[1]}"


def note_source(ctx: StepContext, state: Mm2State, parts: list[tuple[str, int]]) -> None:
    """Add what the source shows now (log start, end, topic id:
    :func:`kmigrate.offsets.build.observe_source`) to ``state.source_marks``, keeping
    per topic id its first and its last mark (:func:`kmigrate.offsets.gaps.keep_marks`)."""
    for tp, mark in observe_source(ctx.source, parts).items():
        seen = [SourceMark(*m) for m in state.source_marks.get(_k(tp), [])]
        state.source_marks[_k(tp)] = [
            [m.at_ms, m.log_start, m.high_watermark, m.topic_id] for m in keep_marks(seen, mark)
        ]


def rollback_mm2(ctx: StepContext, spec: ConnectSpec | None, state: Mm2State) -> list[str]:
    """Reset the journaled connectors' stored source offsets and delete them (also
    those the copy already deleted: re-created STOPPED, reset, deleted again; see the
    module's text), then delete the MM2 internal topics this run created on the
    target; never a topic that was there before, never the source.  Returns one
    line per action."""
    lines = []
    names = ", ".join(c["name"] for c in state.connectors)
    if state.connectors and spec is None:
        lines.append(
            f"cannot reset the source offsets of or delete connectors {names} on "
            f"{state.where}: the step's connect block is not recorded; do it there "
            "(PUT /connectors/NAME/stop, DELETE /connectors/NAME/offsets, DELETE "
            "/connectors/NAME), or give the next run a new connect.name"
        )
    elif state.connectors and ctx.effects.before_writes(lambda: None):
        lines.append(
            f"would reset the stored source offsets of connectors {names} on {state.where} "
            "(KIP-875; a connector the copy deleted is re-created STOPPED for it, KIP-980) "
            "and delete them"
        )
    elif state.connectors and spec is not None:
        plane = plane_for(spec, ctx)
        deleted = state.connectors_deleted
        lines += rollback_connectors(plane, state.connectors, state.configs, deleted=deleted)
        state.connectors_deleted = True
    before = set(state.target_topics_before)
    for topic in state.internal_topics_created:
        if topic in before:  # never: the list excludes them; kept as a guard
            continue
        try:
            outcome = ctx.target_plane.remove(ctx.target, topic)
        except ClusterError as exc:
            lines.append(f"could not delete MM2 internal topic {topic} on the target: {exc}")
            continue
        verb = ctx.effects.past("deleted", "would delete")
        note = " (it was already gone)" if outcome == "absent" else ""
        lines.append(f"{verb} MM2 internal topic {topic} on the target{note}")
    return lines

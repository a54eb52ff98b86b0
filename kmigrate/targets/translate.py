"""The translation: how a source topic becomes a topic (or hub) on a target.

:func:`translate_topic` runs the rules on one topic: the shared ones of
:mod:`kmigrate.targets.rules` and the target type's own, which its
:class:`~kmigrate.targets.profiles.TargetProfile` carries.  :func:`translate_topics`
does a whole selection and adds the rules that count across topics (partitions per
cluster, and the type's own: hubs per namespace, partitions per broker).  Pure: no
cluster access, no vendor SDK, no credentials, so ``kmigrate plan --offline`` can
compute the whole table from a snapshot and the plan's declared ``facts``.  The
result's JSON shape is described in :mod:`kmigrate.targets.model`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kmigrate.targets.model import (
    CONVERTED,
    COPIED,
    CREATE,
    EXISTS,
    REFUSE,
    REFUSED,
    Accept,
    Decision,
    KeyContext,
    KeyRule,
    Note,
    SourceTopic,
    TopicLike,
    TopicTranslation,
    Translation,
    decide,
)
from kmigrate.targets.profiles import TargetProfile, source_defaults
from kmigrate.targets.rules import (
    apply_accepts,
    carry_source_values,
    convert_compression_none,
    copy_settable,
    drop_vendor_keys,
    keep_fixed_keys,
    partitions_not_fewer,
    partitions_per_cluster,
    partitions_within_tier_limit,
    replication_factor_for,
    timestamp_bounds_kept,
)

#: The shared per-key rules that run before the target type's own ``key_rules``; a
#: ``converted`` result passes its new value on to the next rule; ``copied``,
#: ``dropped`` and ``refused`` end the chain, and :func:`copy_settable` ends it last.
SHARED_KEY_RULES: tuple[KeyRule, ...] = (
    drop_vendor_keys,
    convert_compression_none,
    keep_fixed_keys,
)


def key_rules(profile: TargetProfile) -> tuple[KeyRule, ...]:
    """The per-key rules for ``profile``, in the order they apply: the shared ones, the
    target type's own (``profile.key_rules``), then :func:`copy_settable`."""
    return (*SHARED_KEY_RULES, *profile.key_rules, copy_settable)


def decide_key(key: str, value: str, ctx: KeyContext) -> tuple[Decision, list[Note]]:
    """Run :func:`key_rules` on one config; returns the decision and any warnings."""
    notes: list[Note] = []
    converted: Decision | None = None
    current = value
    for rule in key_rules(ctx.profile):
        try:
            decision, more = rule(key, current, ctx)
        except ValueError:
            reason = f"{current!r} is not a number, which {key} must be on {ctx.profile.name}"
            return decide(rule, key, value, None, REFUSED, reason), notes
        notes += more
        if decision is None:
            continue
        if decision.decision == CONVERTED and decision.target_key is None:
            converted = decision
            current = decision.target_value or current
            continue
        if converted is not None and decision.rule == copy_settable.__name__:
            return converted, notes
        if converted is not None:
            decision.source_value = value
            if decision.decision in (COPIED, CONVERTED):
                decision.decision = CONVERTED
                decision.reason = f"{converted.reason}; {decision.reason}"
                decision.rule = f"{converted.rule}+{decision.rule}"
            else:
                decision.reason = f"{decision.reason} (after {converted.rule}: {converted.reason})"
        return decision, notes
    raise AssertionError("copy_settable always decides")  # pragma: no cover


# --- one topic --------------------------------------------------------------------------


def translate_topic(
    name: str,
    source_topic: TopicLike | SourceTopic,
    source_type: str,
    target_profile: TargetProfile,
    facts: Mapping[str, object] | None = None,
    accept: Sequence[Accept] = (),
    *,
    existing_partitions: int | None = None,
    replication_factor: int | None = None,
) -> TopicTranslation:
    """Translate one source topic for ``target_profile``.

    Args:
        name: the topic name.
        source_topic: partitions, replication factor and configs (a snapshot
            ``TopicSnapshot``, or a :class:`SourceTopic` with config sources).
        source_type: ``kafka`` or ``redpanda``.
        target_profile: from :func:`kmigrate.clusters.registry.profile_for`.
        facts: the target's declared or discovered facts (``broker_count``,
            ``broker_type``, ``processing_units``, ...).
        accept: refusals the plan accepts (topic glob and key).
        existing_partitions: the partition count of the topic already on the
            target, or None when it does not exist there.
        replication_factor: the plan's replication factor, if it sets one.

    Returns:
        The :class:`TopicTranslation`; ``action`` is ``refuse`` when any refusal is
        not accepted.  Pure: raises nothing for valid input.
    """
    facts = facts or {}
    profile = target_profile
    carried = carry_source_values(source_topic.configs, source_type, profile)
    for key in profile.told_at_defaults:
        carried.setdefault(key, source_defaults(source_type)[key])
    ctx = KeyContext(name, source_type, profile, carried)
    decisions: list[Decision] = []
    notes: list[Note] = []
    for key, value in sorted(carried.items()):
        decision, more = decide_key(key, value, ctx)
        decisions.append(decision)
        notes += more
    if profile.self_run:
        decisions += timestamp_bounds_kept(carried, source_type, facts)
    for topic_rule in (
        *(rule(profile) for rule in profile.topic_rules),
        partitions_within_tier_limit(source_topic.partitions, profile),
        partitions_not_fewer(source_topic.partitions, existing_partitions),
    ):
        if topic_rule is not None:
            decisions.append(topic_rule)
    rf, rf_reason, more = replication_factor_for(
        source_topic.replication_factor, profile, facts, carried, replication_factor
    )
    notes += more
    return _finish(
        TopicTranslation(
            name,
            CREATE,
            source_topic.partitions if existing_partitions is None else existing_partitions,
            rf,
            rf_reason,
            decisions,
            notes,
        ),
        accept,
        existing_partitions is not None,
    )


def _finish(t: TopicTranslation, accept: Sequence[Accept], exists: bool) -> TopicTranslation:
    apply_accepts(t, accept)
    t.action = REFUSE if t.refusals else EXISTS if exists else CREATE
    return t


# --- the whole selection ----------------------------------------------------------------


def translate_topics(
    topics: Mapping[str, TopicLike | SourceTopic],
    source_type: str,
    target_profile: TargetProfile,
    facts: Mapping[str, object] | None = None,
    accept: Sequence[Accept] = (),
    *,
    existing: Mapping[str, int] | None = None,
    existing_topic_count: int | None = None,
    replication_factor: int | None = None,
) -> Translation:
    """Translate a selection of topics (sorted by name), then apply the cross-topic rules.

    Args:
        topics: ``{name: topic}``.
        existing: ``{name: partitions}`` of topics (hubs) already on the target.
        existing_topic_count: topics (hubs) already on the target in all, including
            ones not selected; defaults to ``len(existing)``.
        Others: as :func:`translate_topic`.
    """
    facts = facts or {}
    existing = existing or {}
    out = [
        translate_topic(
            name,
            topic,
            source_type,
            target_profile,
            facts,
            accept,
            existing_partitions=existing.get(name),
            replication_factor=replication_factor,
        )
        for name, topic in sorted(topics.items())
    ]
    count = len(existing) if existing_topic_count is None else existing_topic_count
    notes: list[Note] = []
    for rule in target_profile.selection_rules:
        notes += rule(out, target_profile, facts, count)
    notes += partitions_per_cluster(out, target_profile, facts)
    for t in out:
        t.action = REFUSE if t.refusals else t.action
    return Translation(out, notes)

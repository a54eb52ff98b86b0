"""The mirror step's checks of the target before any engine copies: missing topics,
too few partitions, records lost, records no earlier attempt wrote."""

from __future__ import annotations

from collections.abc import Iterable

from kmigrate.clusters.port import Cluster
from kmigrate.errors import StepFailed
from kmigrate.offsets.checks import lost_on_target, occupied_refusal, short_list, target_lost_error
from kmigrate.offsets.map import OffsetMap
from kmigrate.steps.base import StepContext
from kmigrate.steps.mirror_record import MirrorRecord
from kmigrate.topic_configs import LOG_APPEND_TIME, TIMESTAMP_TYPE_KEY, log_append_time_topics


def partitions_of(source: Cluster, topics: Iterable[str]) -> list[tuple[str, int]]:
    """Every ``(topic, partition)`` of the given source topics, sorted."""
    metas = source.topics()
    return sorted((t, p) for t in topics if t in metas for p in range(metas[t].partitions))


def refuse_occupied(ctx: StepContext, occupied: list[str], append: bool) -> None:
    """Target partitions already hold records no earlier attempt wrote: refuse
    (a dry run warns that a real run would), or with ``append`` warn.

    Raises:
        StepFailed: without ``append``, in a real run.
    """
    if not append:
        ctx.effects.refuse(ctx.ui, StepFailed(occupied_refusal(occupied)))
    else:
        ctx.ui.warn(
            f"appending after records already on the target in {len(occupied)} "
            "partitions (append: true)"
        )


def check_target(
    ctx: StepContext, record: MirrorRecord, omap: OffsetMap, parts: list[tuple[str, int]]
) -> tuple[list[tuple[str, int]], dict[tuple[str, int], int]]:
    """Check the target before a copy: topics that stamp their own time (noted in
    ``record``, warned), records the map says were copied but the target lost,
    missing topics and too few partitions.  Returns the partitions present on
    the target and their log end offsets.

    Raises:
        RecordsLost: the target lost copies (journaled).
        StepFailed: a topic is missing (not in a dry run), or has fewer partitions.
    """
    target_topics = ctx.target.topics()

    def on_target(tp: tuple[str, int]) -> bool:
        meta = target_topics.get(tp[0])
        return meta is not None and tp[1] < meta.partitions

    present = [tp for tp in parts if on_target(tp)]
    record.target_stamps_time = log_append_time_topics(ctx.target, {t for t, _ in present})
    if record.target_stamps_time:
        ctx.ui.warn(
            f"target topics {short_list(record.target_stamps_time)} have {TIMESTAMP_TYPE_KEY}="
            f"{LOG_APPEND_TIME}: the target stamps each copied record with its own time on "
            "append, so their copies keep key, value, headers and order but not the "
            "source's timestamps (expected; verify compares them without timestamps)"
        )
    target_ends = (
        {
            tp: end
            for tp, (_low, end) in ctx.target.watermark_offsets(present, read_end=True).items()
        }
        if present
        else {}
    )
    # Target data lost: the map says copied, the target no longer holds it.
    record.lost = lost_on_target(omap, parts, target_ends)
    if record.lost:
        ctx.checkpoint(record.to_json())
        raise target_lost_error(record.lost)
    missing = sorted({t for t, _ in parts if t not in target_topics})
    if missing:  # a dry run goes on silently: provision-topics would create them
        ctx.effects.refuse(
            ctx.ui,
            StepFailed(
                f"topics missing on the target: {', '.join(missing)}; {ctx.missing_topics_advice()}"
            ),
            warn=False,
        )
    narrow = sorted({t for t, p in parts if t in target_topics and not on_target((t, p))})
    if narrow:
        raise StepFailed(
            f"target topics have fewer partitions than the source: {', '.join(narrow)}; "
            "records could not keep their partition"
        )
    return present, target_ends

"""verify's process pool: each side of each shard of partitions summarized in a
process of its own (its own consumer, its own core: no GIL shared between the
two sides).

The processes come from the engines' one shard pool
(:class:`kmigrate.engines.pool.ShardPool`), the one the copy workers use.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from kmigrate.clusters.port import Cluster
from kmigrate.offsets.map import PartitionMap
from kmigrate.verify.compare import PartitionRange
from kmigrate.verify.summaries import Resume, Summaries, summarize_side

#: ``follow(jobs, read)``: wait for the futures ``jobs``, moving a progress bar
#: to ``read()`` records meanwhile (see :class:`kmigrate.verify.ordered.BarFollower`).
Follow = Callable[[list[Any], Callable[[], int]], None]


#: In a verify worker process: the parent's shared count of source records read.
_COUNTER: Any = None


def _verify_worker_init(counter: Any) -> None:
    """A verify worker's initializer (the shard pool made it die with the parent):
    keep the shared counter; reuse librdkafka's fetch buffers (one bounded read
    that hashes as it goes, :func:`kmigrate.adapters.malloc.reuse_large_buffers`)."""
    global _COUNTER
    _COUNTER = counter
    from kmigrate.adapters.malloc import reuse_large_buffers

    reuse_large_buffers()


def _count(n: int) -> None:
    with _COUNTER.get_lock():
        _COUNTER.value += n


def _summarize_shard(
    cluster: dict[str, Any],
    starts: list[tuple[str, int, int]],
    stops: dict[tuple[str, int], int],
    keep: dict[tuple[str, int], dict[str, Any]] | None,
    counts: bool = False,
    untimed: list[tuple[str, int]] | None = None,
    resume: Resume | None = None,
) -> Summaries:
    """A verify worker process: :func:`summarize_side` of one side of one shard
    (``counts``: add the records read to the parent's progress counter;
    ``untimed``: partitions digested without timestamps; ``resume``: partitions
    that go on from proven blocks)."""
    maps = {tp: PartitionMap.from_json(m) for tp, m in keep.items()} if keep else None
    from kmigrate.engines.pool import open_cluster

    tick = _count if counts and _COUNTER is not None else None
    gone = {(t, p) for t, p in untimed or []}
    return summarize_side(open_cluster(cluster), starts, stops, maps, tick, gone, resume)


def summarize_in_processes(
    source: Cluster,
    target: Cluster,
    ranges: list[PartitionRange],
    on_target: set[int],
    workers: int,
    follow_jobs: Follow,
    resume: Resume | None = None,
) -> tuple[Summaries, Summaries]:
    """Summarize both sides of ``ranges`` in ``workers`` processes: the
    partitions dealt over ``workers // 2`` shards, each side of a shard read
    by one process (plain :class:`kmigrate.adapters.kafka.KafkaCluster`
    objects only, see :func:`kmigrate.engines.pool.shardable`).
    ``on_target``: indexes into ``ranges`` of the partitions the target has.
    Returns ``(source summaries, target summaries)``; ``follow_jobs`` is
    given the source records read so far (a counter the processes share).
    ``resume``: partitions that go on from proven blocks (both sides).

    Raises:
        kmigrate.errors.ClusterError: a side could not be read.
    """
    from kmigrate.engines.pool import ShardPool

    untimed = sorted((r.topic, r.partition) for r in ranges if not r.timestamps)
    n = workers
    source_sums: Summaries = {}
    target_sums: Summaries = {}
    # One process per side of each shard: each reads with its own consumer
    # and hashes on its own core (no GIL shared between the two sides).
    shard_pool = ShardPool(n)
    groups = shard_pool.shards(list(range(len(ranges))), max(1, n // 2))
    counter = shard_pool.mp.Value("q", 0)
    with shard_pool.executor(min(n, 2 * len(groups)), _verify_worker_init, (counter,)) as pool:
        jobs = []
        for group in groups:
            rs = [ranges[i] for i in group]
            there = [ranges[i] for i in group if i in on_target]
            names = {_tp(r) for r in rs}
            mine = {tp: v for tp, v in (resume or {}).items() if tp in names}
            jobs.append((source_sums, _source_job(pool, source, rs, untimed, mine)))
            jobs.append((target_sums, _target_job(pool, target, there, untimed, mine)))
        follow_jobs([job for _, job in jobs], lambda: counter.value)
        for into, job in jobs:
            into.update(job.result())
    return source_sums, target_sums


def _tp(r: PartitionRange) -> tuple[str, int]:
    return (r.topic, r.partition)


def _source_job(
    pool: ProcessPoolExecutor,
    source: Cluster,
    rs: list[PartitionRange],
    untimed: list[tuple[str, int]],
    resume: Resume,
) -> Future[Summaries]:
    """The source side of one shard, counted into the shared progress counter."""
    from kmigrate.engines.pool import cluster_spec

    return pool.submit(
        _summarize_shard,
        cluster_spec(source),
        [(r.topic, r.partition, r.source_start) for r in rs],
        {(r.topic, r.partition): r.source_end for r in rs if r.source_end is not None},
        None,
        True,
        untimed,
        resume,
    )


def _target_job(
    pool: ProcessPoolExecutor,
    target: Cluster,
    there: list[PartitionRange],
    untimed: list[tuple[str, int]],
    resume: Resume,
) -> Future[Summaries]:
    """The target side of one shard (the partitions the target has), through
    their offset maps where set."""
    from kmigrate.engines.pool import cluster_spec

    return pool.submit(
        _summarize_shard,
        cluster_spec(target),
        [(r.topic, r.partition, r.target_start) for r in there],
        {(r.topic, r.partition): r.target_end for r in there if r.target_end is not None},
        {(r.topic, r.partition): r.offset_map.as_json() for r in there if r.offset_map is not None},
        False,
        untimed,
        resume,
    )

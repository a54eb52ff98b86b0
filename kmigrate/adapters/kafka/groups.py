"""Consumer-group calls of the Kafka adapter: committed offsets (OffsetFetch),
ListGroups, DescribeGroups, AlterConsumerGroupOffsets (KIP-222) and DeleteGroups,
and the ACL operations the client may perform on groups (KIP-430).

Reads work on both roles; writes on the target only.  References:
confluent-kafka-python API docs (AdminClient).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition

from kmigrate.adapters.kafka.client import ADMIN_TIMEOUT_S, ClusterClient
from kmigrate.clusters.port import GroupState
from kmigrate.errors import ClusterError


class ConsumerGroups(ClusterClient):
    """The consumer-group calls of one cluster (the base of
    :class:`~kmigrate.adapters.kafka.KafkaCluster`)."""

    def group_offsets(self, topics: Iterable[str]) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets of every consumer group on the given topics.

        Returns ``{group_id: {(topic, partition): committed_offset}}``; groups
        with no commit on these topics are left out.

        Raises:
            ClusterError: ListConsumerGroups or OffsetFetch failed.
        """
        wanted = set(topics)
        try:
            listing = self.admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT_S).result()
            out: dict[str, dict[tuple[str, int], int]] = {}
            for group in sorted(g.group_id for g in listing.valid):
                if group.startswith("kmigrate-"):
                    continue
                futures = self.admin.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(group)], request_timeout=ADMIN_TIMEOUT_S
                )
                for fut in futures.values():
                    result = fut.result()
                    offsets = {
                        (tp.topic, tp.partition): tp.offset
                        for tp in result.topic_partitions
                        if tp.topic in wanted and tp.offset >= 0
                    }
                    if offsets:
                        out[group] = offsets
        except KafkaException as exc:
            raise self._fail("reading consumer group offsets", exc) from None
        return out

    def group_offsets_of(self, group: str) -> dict[tuple[str, int], int]:
        """One consumer group's committed offsets: ``{(topic, partition): offset}``.

        Partitions without a committed offset are left out; an unknown group
        gives ``{}`` (OffsetFetch answers so for groups it does not know).

        Raises:
            ClusterError: OffsetFetch failed.
        """
        try:
            futures = self.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=ADMIN_TIMEOUT_S
            )
            result = next(iter(futures.values())).result()
        except KafkaException as exc:
            raise self._fail(f"reading the offsets of consumer group {group}", exc) from None
        return {
            (tp.topic, tp.partition): int(tp.offset)
            for tp in result.topic_partitions or []
            if tp.offset >= 0
        }

    def group_ids(self) -> list[str]:
        """Every consumer group id the cluster lists (ListGroups), sorted.

        Raises:
            ClusterError: ListGroups failed.
        """
        try:
            listing = self.admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT_S).result()
        except KafkaException as exc:
            raise self._fail("listing consumer groups", exc) from None
        return sorted(g.group_id for g in listing.valid)

    def group_operations(self, groups: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """Per consumer group, the ACL operations this client's principal may perform
        on it (DescribeGroups, KIP-430): ``frozenset()`` for a group it may not
        describe (GROUP_AUTHORIZATION_FAILED), ``None`` where the broker reports none
        (a group it does not know, a broker without KIP-430).

        Raises:
            ClusterError: the request failed otherwise.
        """
        names = sorted(set(groups))
        if not names:
            return {}
        try:
            futures = self.admin.describe_consumer_groups(
                names, request_timeout=ADMIN_TIMEOUT_S, include_authorized_operations=True
            )
        except KafkaException as exc:
            raise self._fail("describing consumer groups", exc) from None
        return authorized_operations(futures, KafkaError.GROUP_AUTHORIZATION_FAILED, None)

    def group_members(self, group: str) -> GroupState:
        """DescribeGroups for one group: its state and active members.

        Raises:
            ClusterError: DescribeGroups failed.
        """
        try:
            desc = self.admin.describe_consumer_groups([group], request_timeout=ADMIN_TIMEOUT_S)[
                group
            ].result()
        except KafkaException as exc:
            raise self._fail(f"describing consumer group {group}", exc) from None
        state = str(getattr(desc.state, "name", desc.state)).upper()
        members = [f"{m.client_id or '?'} ({m.member_id} on {m.host})" for m in desc.members or []]
        return GroupState(group, state, members)

    def alter_group_offsets(self, group: str, offsets: Mapping[tuple[str, int], int]) -> None:
        """AlterConsumerGroupOffsets (KIP-222): set the group's committed offsets.

        The broker refuses while the group has active members.

        Raises:
            ClusterError: on the source role, or the broker refused any partition.
        """
        self._require_target("alter consumer group offsets")
        if not offsets:
            return
        tps = [TopicPartition(t, p, int(o)) for (t, p), o in sorted(offsets.items())]
        try:
            futures = self.admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, tps)], request_timeout=ADMIN_TIMEOUT_S
            )
            result = next(iter(futures.values())).result()
        except KafkaException as exc:
            raise self._fail(f"altering the offsets of consumer group {group}", exc) from None
        failed = [
            f"{tp.topic}[{tp.partition}]: {tp.error.str()}"
            for tp in result.topic_partitions or []
            if tp.error is not None
        ]
        if failed:
            raise ClusterError(
                f"{self.label}: altering the offsets of consumer group {group} failed for "
                + "; ".join(failed)
            )

    def delete_group(self, group: str) -> str:
        """DeleteGroups for one group without members; returns ``deleted`` or ``absent``.

        Raises:
            ClusterError: on the source role, or the broker refused (e.g. the
                group is not empty).
        """
        self._require_target("delete consumer groups")
        try:
            self.admin.delete_consumer_groups([group], request_timeout=ADMIN_TIMEOUT_S)[
                group
            ].result()
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.GROUP_ID_NOT_FOUND:
                return "absent"
            raise self._fail(f"deleting consumer group {group}", exc) from None
        return "deleted"


def authorized_operations(
    futures: Mapping[Any, Any],
    denied: int,
    fail: Callable[[str, KafkaException], ClusterError] | None,
) -> dict[str, frozenset[str] | None]:
    """Authorized operations (KIP-430) per resource from DescribeTopics/DescribeGroups
    futures: ``frozenset()`` where the broker answered ``denied`` (no DESCRIBE at
    all), ``None`` for an unknown resource or a broker that reports none; any other
    error raises through ``fail`` (or counts as unknown when ``fail`` is None)."""
    out: dict[str, frozenset[str] | None] = {}
    for name, fut in futures.items():
        try:
            ops = fut.result().authorized_operations
        except KafkaException as exc:
            code = exc.args[0].code()
            if code == denied:
                out[name] = frozenset()
            elif fail is None or code == KafkaError.UNKNOWN_TOPIC_OR_PART:
                out[name] = None
            else:
                raise fail(f"describing {name}", exc) from None
            continue
        out[name] = None if ops is None else frozenset(op.name for op in ops)
    return out

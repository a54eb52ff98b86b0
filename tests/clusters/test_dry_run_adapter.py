"""Dry run as an adapter (issue 16): the clusters a dry run hands the steps read
for real and make no write.  Against the real local brokers."""

from __future__ import annotations

import pytest

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.clusters import kafka
from kmigrate.clusters.dry_run import DESCRIBED, DryRunCluster, DryRunPlane
from kmigrate.clusters.kafka import KafkaPlane
from kmigrate.errors import RefusedError
from kmigrate.runtime.dry_run import DryRunEffects, dry_run_context
from kmigrate.steps.base import StepContext
from kmigrate.ui import UI
from tests.conftest import Brokers, create_topic, produce
from tests.support.clients import commit, committed

pytestmark = pytest.mark.broker


def test_a_dry_run_target_reads_for_real_and_makes_no_write(brokers: Brokers, prefix: str) -> None:
    """Every write of the data plane and the control plane is answered
    ``described`` (or refused, for records) and leaves the target as it was:
    the topic stays, no topic is created, the group keeps its offsets."""
    topic, group, new = f"{prefix}kept", f"{prefix}group", f"{prefix}new"
    create_topic(brokers.target, topic, 2)
    produce(brokers.target, topic, [{"key": b"k", "value": b"v", "partition": 0}])
    commit(brokers.target, group, {(topic, 0): 1})
    real = KafkaCluster("target", brokers.target)
    dry = DryRunCluster(real)
    plane = DryRunPlane(KafkaPlane(kafka.TYPE))

    assert topic in dry.topics()  # reads go to the cluster
    assert dry.group_offsets_of(group) == {(topic, 0): 1}
    assert dry.delete_topic(topic) == DESCRIBED
    assert plane.remove(dry, topic) == DESCRIBED
    assert dry.delete_group(group) == DESCRIBED
    dry.alter_group_offsets(group, {(topic, 0): 0})
    assert [o.status for o in dry.create_topics([(new, 1, 1, {})])] == [DESCRIBED]
    dry.prepare_writer()
    with pytest.raises(RefusedError, match="a dry run writes no records"):
        dry.writer(lambda error: None)

    topics = real.topics()
    assert topic in topics and new not in topics
    assert committed(brokers.target, group) == {(topic, 0): 1}


def test_the_dry_run_context_wraps_both_clusters_and_the_control_plane(brokers: Brokers) -> None:
    """The runner's (and the standalone commands') dry-run context hands the
    steps the wrappers, keeping the real clusters behind them, and the
    describing effects."""
    source = KafkaCluster("source", brokers.source)
    target = KafkaCluster("target", brokers.target)
    ctx = dry_run_context(StepContext(source=source, target=target, ui=UI()))
    assert isinstance(ctx.effects, DryRunEffects)
    assert isinstance(ctx.source, DryRunCluster) and ctx.source.inner is source
    assert isinstance(ctx.target, DryRunCluster) and ctx.target.inner is target
    assert isinstance(ctx.target_plane, DryRunPlane)
    assert ctx.target.label == target.label

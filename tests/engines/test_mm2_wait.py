"""The MM2 engine's wait for RUNNING, on a scripted control plane (no Connect cluster):
the bounded paths a real cluster reaches only slowly, with a clock the test moves."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import pytest

from kmigrate.clusters.port import ConnectorFailed, ConnectorStatus, TaskStatus
from kmigrate.engines.mirrormaker2.config import CHECKPOINT_CONNECTOR, SOURCE_CONNECTOR
from kmigrate.engines.mirrormaker2.engine import Mm2Engine, Mm2State
from kmigrate.errors import ClusterError


class ScriptedPlane:
    """A plane whose connectors stay in the states given (``None``: no status yet)."""

    where = "Kafka Connect at http://scripted:8083"

    def __init__(self, states: Mapping[str, ConnectorStatus | None]) -> None:
        self.states = dict(states)

    def create(self, name: str, config: Mapping[str, str]) -> str:
        return name

    def status(self, ref: str) -> ConnectorStatus:
        found = self.states[ref]
        if found is None:
            raise ClusterError(f"{ref}: 404")
        return found

    def delete(self, ref: str) -> bool:
        return self.states.pop(ref, None) is not None


def status(name: str, connector: str, *tasks: str) -> ConnectorStatus:
    return ConnectorStatus(
        name,
        TaskStatus(-1, connector, "w1:8083"),
        tuple(TaskStatus(i, s, "w1:8083") for i, s in enumerate(tasks)),
    )


CONFIGS = [
    {"name": "m-source", "connector.class": SOURCE_CONNECTOR},
    {"name": "m-checkpoint", "connector.class": CHECKPOINT_CONNECTOR},
]


def engine(plane: ScriptedPlane, clock: list[float]) -> Mm2Engine:
    def sleep(s: float) -> None:
        clock[0] += s

    return Mm2Engine(
        plane, CONFIGS, poll_s=1.0, running_timeout_s=30.0, clock=lambda: clock[0], sleep=sleep
    )


def state(*names: str) -> Mm2State:
    return Mm2State(where=ScriptedPlane.where, connectors=[{"name": n, "ref": n} for n in names])


def test_tasks_that_never_run_end_the_wait_at_running_timeout_s_naming_their_states() -> None:
    """A source connector whose task stays UNASSIGNED: after ``running_timeout_s`` (30 s
    of the test's clock) the wait ends with exit 1 naming each connector's and task's
    state, instead of waiting for ever."""
    plane = ScriptedPlane(
        {"m-source": status("m-source", "RUNNING", "UNASSIGNED"), "m-checkpoint": None}
    )
    clock = [0.0]
    with pytest.raises(ConnectorFailed) as failed:
        engine(plane, clock).wait_running(state("m-source", "m-checkpoint"), threading.Event())
    assert failed.value.exit_code == 1
    assert 30.0 <= clock[0] <= 31.0
    assert str(failed.value) == (
        "MirrorMaker 2 on Kafka Connect at http://scripted:8083 was not running within 30 s "
        "(m-source: connector RUNNING, tasks 0 UNASSIGNED; m-checkpoint: no status)"
    )


def test_a_checkpoint_connector_without_tasks_counts_as_running_a_source_one_does_not() -> None:
    """MirrorCheckpointConnector makes no task until a consumer group of the selection
    exists: RUNNING with no task is running.  The source connector with no task is not
    (nothing would copy)."""
    plane = ScriptedPlane(
        {
            "m-source": status("m-source", "RUNNING", "RUNNING", "RUNNING"),
            "m-checkpoint": status("m-checkpoint", "RUNNING"),
        }
    )
    clock = [0.0]
    run = engine(plane, clock)
    assert run.wait_running(state("m-source", "m-checkpoint"), threading.Event()) == 0.0
    plane.states["m-source"] = status("m-source", "RUNNING")
    with pytest.raises(ConnectorFailed, match="m-source: connector RUNNING, tasks none"):
        run.wait_running(state("m-source", "m-checkpoint"), threading.Event())

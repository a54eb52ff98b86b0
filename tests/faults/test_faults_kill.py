"""``kill -9`` of ``kmigrate execute`` at random moments of every step type, each resumed.

One migration (provision, mirror + verify, shell + manual) runs uninterrupted
as the reference; the same migration of other topics is killed with SIGKILL
at seeded random moments (at least 20 in all) and re-run after every kill
until each phase succeeds.  After every kill the journal file must be whole
JSON; at the end the target must hold what the uninterrupted run produced
(topics, partition counts, configs, and per partition the source's records,
read with an independent client).
"""

from __future__ import annotations

import json
import os
import pty
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from tests.conftest import PROVISION_PHASE, Brokers, create_topic, produce, write_plan
from tests.support.faults import (
    independent_read,
    kmigrate,
    start_kmigrate,
    status_json,
    status_steps,
    without_offsets,
)
from tests.support.tcp_proxy import ProxiedBroker, proxied_pair

pytestmark = pytest.mark.broker

PHASES = (
    "phases:\n"
    + PROVISION_PHASE
    + """\
  - name: copy
    steps:
      - action: mirror
      - action: verify
  - name: switch
    steps:
      - shell: "sleep 1.5 && echo switched >> switched.txt"
      - manual: "Point the consumers at the target"
"""
)

#: Per phase, in step order: (step type, kills, most seconds to wait after the
#: step is seen started before the kill).  The moment is random within that
#: wait (seeded); the step actually interrupted is read back from the journal.
KILLS: dict[str, list[tuple[str, int, float]]] = {
    "1": [("export-topics", 2, 0.15), ("provision-topics", 2, 0.15)],
    "2": [("mirror", 6, 0.8), ("verify", 4, 0.8)],
    "3": [("shell", 3, 1.2), ("manual", 4, 0.6)],
}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxiedBroker, ...]]:
    """Source and target of this module's own, each behind a proxy (for delays)."""
    with proxied_pair(tmp_path_factory.mktemp("kill")) as brokers:
        yield brokers


def seed(bootstrap: str, prefix: str) -> list[str]:
    topics = [f"{prefix}events", f"{prefix}audit"]
    create_topic(bootstrap, topics[0], 3, {"retention.ms": "604800000"})
    create_topic(bootstrap, topics[1], 1, {"cleanup.policy": "compact"})
    produce(
        bootstrap,
        topics[0],
        [
            {
                "key": f"k{i % 500}".encode(),
                "value": f"event-{i}-".encode() * 10,
                "partition": i % 3,
                "timestamp": 1_700_000_000_000 + i,
                "headers": [("n", str(i).encode())],
            }
            for i in range(120_000)
        ],
    )
    produce(
        bootstrap,
        topics[1],
        [{"key": b"a%d" % i, "value": None, "timestamp": 1_700_000_000_000} for i in range(300)],
    )
    return topics


#: Seconds each forwarded chunk is held, per phase: the provision phase's
#: admin traffic (small requests, many round trips), and the copy phase's
#: fetches and produces, so that mirror and verify of the small seed still run
#: longer than the random moment before each kill (verify of it ends in well
#: under a second on the local brokers since issue 7).
DELAYS = {"1": 0.06, "2": 0.03}


def slow(pair: tuple[ProxiedBroker, ...], phase: str) -> None:
    """Delay the brokers' traffic as :data:`DELAYS` says for ``phase`` ("" stops it)."""
    for broker in pair:
        broker.proxy.delay(DELAYS.get(phase, 0))


def key(step: dict[str, Any]) -> str:
    """A journaled step's identity as ``status`` names it (whatever its form)."""
    return str(step.get("id") or step.get("step") or step["description"])


def which_step(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """The step a kill interrupted: one whose attempts grew and that is still
    ``started``; else where between steps the kill landed."""
    attempts = {key(s): s.get("attempts", 0) for s in before}
    for step in after:
        grew = step.get("attempts", 0) > attempts.get(key(step), 0)
        if grew and step["status"] == "started":
            return str(step["description"]).split(":")[0]
    return "between steps"


def started(steps: list[dict[str, Any]], before: dict[str, int], kind: str) -> bool:
    """Whether a step of ``kind`` started again since ``before`` (step -> attempts)."""
    return any(
        str(s["description"]).split(":")[0] == kind
        and s["status"] == "started"
        and s.get("attempts", 0) > before.get(key(s), 0)
        for s in steps
    )


def run_killed(
    plan: Path, phase: str, rng: random.Random, pair: tuple[ProxiedBroker, ...]
) -> list[str]:
    """SIGKILL ``execute --phase`` inside each of its step types, then re-run it to success.

    For each kill: start the run, watch ``status`` until the wanted step has
    started again, wait a random moment, kill.  Returns, per kill, the step
    type the journal says was interrupted.  The manual step gets a
    pseudo-terminal as stdin, so it really waits for an answer when killed.
    """
    journal = Path(status_json(plan)["journal"])
    hits: list[str] = []
    slow(pair, phase)
    for kind, kills, wait_s in KILLS[phase]:
        for _ in range(kills):
            before_steps = status_steps(plan) if journal.exists() else []
            before = {key(s): s.get("attempts", 0) for s in before_steps}
            master, slave = pty.openpty()
            proc = start_kmigrate(
                "execute", str(plan), "--phase", phase, cwd=plan.parent, stdin=slave
            )
            os.close(slave)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if journal.exists() and started(status_steps(plan), before, kind):
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0, wait_s))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate(timeout=30)
            os.close(master)
            assert proc.returncode == -signal.SIGKILL, f"{kind}: the run ended by itself:\n{out}"
            # Never torn: the file parses as a whole at every kill.
            json.loads(journal.read_text(encoding="utf-8"))
            hits.append(which_step(before_steps, status_steps(plan)))
    slow(pair, "")
    done = kmigrate("execute", str(plan), "--phase", phase, "--yes", cwd=plan.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return hits


def target_state(bootstrap: str, topics: list[str], prefix: str) -> dict[str, Any]:
    """Topics (without the test's prefix), partition counts, set configs and records."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=15)
    configs = admin.describe_configs([ConfigResource("topic", t) for t in topics])
    return {
        "topics": sorted(
            (n.removeprefix(prefix), len(t.partitions))
            for n, t in md.topics.items()
            if n.startswith(prefix)
        ),
        "configs": {
            r.name.removeprefix(prefix): {k: e.value for k, e in sorted(f.result().items())}
            for r, f in configs.items()
        },
        "records": {
            t.removeprefix(prefix): without_offsets(independent_read(bootstrap, t)) for t in topics
        },
    }


@pytest.mark.timeout(240)  # about 45 s here; room for a machine shared with other jobs
def test_kill_9_at_random_moments_of_every_step_type_then_resume(
    pair: tuple[ProxiedBroker, ProxiedBroker], tmp_path: Path
) -> None:
    """At least 20 SIGKILLs spread over provision, mirror, verify, shell and manual
    steps; the journal is whole JSON after each; after resuming, the end state
    equals an uninterrupted run's and the target holds exactly the source."""
    source, target = pair
    brokers = Brokers(source.bootstrap, target.bootstrap)

    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    plans = {}
    for name, directory in (("ref-", reference_dir), ("kil-", killed_dir)):
        directory.mkdir()
        seed(source.bootstrap, name)
        plans[name] = write_plan(directory, brokers, [f"{name}*"], PHASES)

    for phase in ("1", "2", "3"):
        slow(pair, phase)
        done = kmigrate("execute", str(plans["ref-"]), "--phase", phase, "--yes", cwd=reference_dir)
        assert done.returncode == 0, done.stdout + done.stderr
    slow(pair, "")

    rng = random.Random(20261124)
    hits: list[str] = []
    for phase in ("1", "2", "3"):
        hits += run_killed(plans["kil-"], phase, rng, pair)

    print("kills by step type:", dict(Counter(hits)))
    assert len(hits) >= 20, hits
    kinds = set(hits)
    assert {"mirror", "verify", "shell", "manual"} <= kinds, hits
    assert kinds & {"export-topics", "provision-topics"}, hits

    ref_topics = ["ref-events", "ref-audit"]
    kil_topics = ["kil-events", "kil-audit"]
    assert target_state(target.bootstrap, kil_topics, "kil-") == target_state(
        target.bootstrap, ref_topics, "ref-"
    )
    for topic in kil_topics:
        assert without_offsets(independent_read(target.bootstrap, topic)) == without_offsets(
            independent_read(source.bootstrap, topic)
        )
    ref_steps = [(s["description"], s["status"]) for s in status_steps(plans["ref-"])]
    kil_steps = [(s["description"], s["status"]) for s in status_steps(plans["kil-"])]
    assert kil_steps == ref_steps
    assert all(status == "succeeded" for _, status in kil_steps)

"""How a following mirror ends (issue 18, part 2): a stop by the operator is a
successful end of the step, the next phase runs, and ``status`` says how the
mirror ended; ``until: caught-up`` says what it waits for while producers run.

Against the two real local brokers; the target is read back with a plain
confluent-kafka consumer (tests/test_cutover.py's ``plain_read``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.adapters.kafka import KafkaCluster
from kmigrate.cli import cli
from kmigrate.engines.base import FollowSpec
from kmigrate.steps.base import StepContext
from kmigrate.steps.mirror import mirror
from kmigrate.ui import UI, Progress
from tests.conftest import Brokers, create_topic, produce, write_plan
from tests.support.live_producer import LiveProducer
from tests.test_cutover import plain_read

pytestmark = pytest.mark.broker

PHASES = """\
phases:
  - name: provision
    steps:
      - action: export-topics
      - action: provision-topics
  - name: copy
    steps:
      - action: mirror
        mode: follow
        until: stopped
  - name: check
    steps:
      - action: verify
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_sigterm_ends_a_following_mirror_step_as_succeeded_and_the_next_phase_runs(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """SIGTERM to ``execute`` of a phase whose mirror follows ``until:
    stopped``: exit 0, the step is journaled succeeded with its end reason,
    ``status`` shows "stopped by operator", and the next phase (verify) runs.
    Fails on main before issue 18: the step was journaled failed and the next
    phase refused ("earlier steps are not complete: mirror (failed)")."""
    topic = f"{prefix}opstop"
    create_topic(brokers.source, topic, 2)
    produce(brokers.source, topic, [{"value": b"v", "partition": i % 2} for i in range(500)])
    plan = write_plan(tmp_path, brokers, [topic], PHASES)
    assert run("execute", str(plan), "--phase", "provision").exit_code == 0
    target = KafkaCluster("target", brokers.target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kmigrate", "execute", str(plan), "--phase", "copy"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (
            sum(h for _l, h in target.watermark_offsets([(topic, p) for p in range(2)]).values())
            >= 500
        ):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)[0]

    assert proc.returncode == 0, out
    assert "step mirror succeeded (stopped by operator (SIGTERM))" in out
    assert "FAILED" not in out
    shown = run("status", str(plan))
    assert "succeeded (stopped by operator)" in shown.output
    steps = json.loads(run("status", str(plan), "--output", "json").stdout)["steps"]
    mirrored = next(s for s in steps if s["id"] == "mirror")
    assert (mirrored["status"], mirrored["error"], mirrored["ended"]) == (
        "succeeded",
        None,
        "stopped by operator",
    )
    assert mirrored["record"]["ended"] == "stopped by operator (SIGTERM)"

    checked = run("execute", str(plan), "--phase", "check")
    assert checked.exit_code == 0, checked.output
    assert "all 2 partitions match (500 records)" in checked.output
    assert plain_read(brokers.target, topic, 2) == plain_read(brokers.source, topic, 2)
    report = run("report", str(plan), "--output-dir", str(tmp_path / "report"))
    assert report.exit_code == 0, report.output
    evidence = json.loads((tmp_path / "report" / "evidence.json").read_text())
    assert next(s for s in evidence["steps"] if s["id"] == "mirror")["ended"] == (
        "stopped by operator"
    )
    assert "mirror: stopped by operator" in (tmp_path / "report" / "evidence.html").read_text()


def test_caught_up_with_a_live_producer_says_what_it_waits_for(
    brokers: Brokers, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``until: caught-up`` while a producer keeps writing: once the lag is 0
    the progress says it waits for the source to stay quiet for settle_s.
    Fails on main before issue 18: the progress only said "lag: … 0 records"."""
    topic = f"{prefix}quiet"
    create_topic(brokers.source, topic, 1)
    create_topic(brokers.target, topic, 1)
    notes: list[str] = []
    shown = Progress.show

    def keep(self: Progress, note: str) -> None:
        notes.append(note)
        shown(self, note)

    monkeypatch.setattr(Progress, "show", keep)
    live = LiveProducer(brokers.source, topic, [0], total=600, rate=100)
    live.start()
    ctx = StepContext(
        KafkaCluster("source", brokers.source), KafkaCluster("target", brokers.target), UI()
    )
    ctx.state_dir = tmp_path / "state"
    try:
        record = mirror(
            ctx,
            [topic],
            follow=FollowSpec("follow", "caught-up", settle_s=30, max_duration_s=4),
            workers=1,
        )
    finally:
        live.join(30)

    assert record.ended == "max_duration reached (4 s)"
    waiting = [n for n in notes if n.startswith("lag 0; waiting for the source to stay quiet")]
    assert waiting, notes
    assert "for settle_s (30 s): the last record came " in waiting[0]
    assert "stop the producers to end the copy" in waiting[0]

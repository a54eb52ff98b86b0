"""README's "First plan in five minutes": the plan it shows is valid and runs.

The plan is read from README.md itself, so the README cannot drift from what
kmigrate accepts.  Failing on the main branch before issue 18: README had no
such section (the first test finds no plan).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate.cli import cli
from tests.conftest import Brokers, create_topic, produce, read_all

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_plan() -> str:
    """The YAML block of README's "First plan in five minutes" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## First plan in five minutes", 1)
    assert len(section) == 2, "README has no 'First plan in five minutes' section"
    found = re.search(r"```yaml\n(.*?)```", section[1], re.DOTALL)
    assert found, "the section shows no YAML plan"
    return found.group(1)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_readme_first_plan_is_about_40_lines_and_passes_plan_offline(tmp_path: Path) -> None:
    plan_text = readme_plan()
    assert 30 <= len(plan_text.splitlines()) <= 50
    plan = tmp_path / "my-first-plan.yaml"
    plan.write_text(plan_text)

    result = run("plan", str(plan), "--offline")

    assert result.exit_code == 0, result.output
    for phase in ("preflight", "provision", "copy", "cutover"):
        assert phase in result.output


@pytest.mark.broker
def test_readme_first_plan_runs_phase_by_phase_on_real_brokers(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """The README's plan, pointed at the tests' brokers and topics, runs every
    phase in the README's order; the target holds the source's records (read
    back with the tests' own reader)."""
    topic = f"{prefix}purchase-orders"
    create_topic(brokers.source, topic, 2)
    produce(
        brokers.source,
        topic,
        [{"key": f"k{i}".encode(), "value": b"v%d" % i, "partition": i % 2} for i in range(30)],
    )
    plan_text = (
        readme_plan()
        .replace("127.0.0.1:19092", brokers.source)
        .replace("127.0.0.1:29092", brokers.target)
        .replace('["purchase-*", "event-*"]', f'["{prefix}purchase-*"]')
    )
    plan = tmp_path / "my-first-plan.yaml"
    plan.write_text(plan_text)

    assert run("plan", str(plan)).exit_code == 0
    for phase in ("preflight", "provision", "copy", "cutover"):
        result = run("execute", str(plan), "--phase", phase, "--yes")
        assert result.exit_code == 0, result.output

    source = [(r.partition, r.key, r.value) for r in read_all(brokers.source, topic, 2)]
    target = [(r.partition, r.key, r.value) for r in read_all(brokers.target, topic, 2)]
    assert target == source and len(source) == 30
    assert "VERIFIED" in run("report", str(plan)).output

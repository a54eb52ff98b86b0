"""Stable step identity through the CLI: plans edited between runs, rollback, journal formats.

Every plan here holds only shell (and one manual) steps, so no broker is
needed: the cluster addresses are never dialled.  Shell steps append to
``log.txt`` in the plan's folder, which shows exactly what ran, in order.
Journal state is read through ``kmigrate status --output json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from kmigrate.cli import cli
from kmigrate.journal import FAILED, SUCCEEDED, Journal
from kmigrate.plan.schema import Requirement
from kmigrate.runtime.runner import requirement_problem
from tests.support.shell_plans import SWITCH, log, one_phase, write

PREP = """\
      - shell: echo prep >> log.txt
        rollback: echo undo-prep >> log.txt
"""


def run(*args: str) -> Result:
    """Run ``kmigrate ARGS`` in-process (click's runner: output holds stdout and stderr)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def status_json(plan: Path) -> dict:
    result = run("status", str(plan), "--output", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rows(plan: Path) -> dict[str, dict]:
    return {r["id"]: r for r in status_json(plan)["steps"]}


def test_the_issue_scenario_insert_a_step_then_edit_a_rollback(tmp_path: Path) -> None:
    """Run one shell step; insert one before it; run again; edit the first's rollback; roll back."""
    plan = write(tmp_path, one_phase(SWITCH))
    assert run("execute", str(plan), "--phase", "switch").exit_code == 0
    assert log(tmp_path) == ["switch"]

    plan = write(tmp_path, one_phase(PREP, SWITCH))
    again = run("execute", str(plan), "--phase", "switch")
    assert again.exit_code == 0, again.output
    assert log(tmp_path) == ["switch", "prep"]  # the new step ran, the old one did not
    assert "already succeeded at" in again.output

    plan = write(tmp_path, one_phase(PREP, SWITCH.replace("undo-switch", "undo-switch-edited")))
    # The recorded command is no longer the plan's: it runs only when confirmed (issue 19).
    result = run("rollback", str(plan), "--yes", "--yes-recorded-commands")

    assert result.exit_code == 0, result.output
    assert log(tmp_path) == ["switch", "prep", "undo-prep", "undo-switch"]
    assert "rollback recorded when it ran: echo undo-switch >> log.txt" in result.output
    assert "rollback in the plan now:      echo undo-switch-edited >> log.txt" in result.output
    assert "using the recorded one (--use-plan-rollback uses the plan's)" in result.output
    assert {r["status"] for r in rows(plan).values()} == {"rolled_back"}


def test_use_plan_rollback_runs_the_plans_command_and_is_journaled(tmp_path: Path) -> None:
    plan = write(tmp_path, one_phase(SWITCH))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    plan = write(tmp_path, one_phase(SWITCH.replace("undo-switch", "undo-switch-edited")))

    result = run("rollback", str(plan), "--use-plan-rollback", "--yes")

    assert result.exit_code == 0, result.output
    assert log(tmp_path) == ["switch", "undo-switch-edited"]
    events = status_json(plan)["events"]
    used = [e for e in events if e["event"] == "use-plan-rollback"]
    assert len(used) == 1
    assert used[0]["recorded"] == "echo undo-switch >> log.txt"
    assert used[0]["plan"] == "echo undo-switch-edited >> log.txt"


def test_a_changed_definition_is_refused_naming_step_and_keys_until_rerun(
    tmp_path: Path,
) -> None:
    plan = write(
        tmp_path,
        one_phase(
            "      - id: switch\n        shell: echo switch >> log.txt\n        timeout_s: 60\n"
        ),
    )
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    plan.write_text(plan.read_text().replace("timeout_s: 60", "timeout_s: 90"))

    refused = run("execute", str(plan), "--phase", "1")

    assert refused.exit_code == 1
    assert (
        "FAILED: refused to run phase 1 (switch): step switch changed since it succeeded: "
        "timeout_s: 60 -> 90. To run it again with the plan's definition (journaled): "
        "--rerun switch; or restore its definition in the plan"
    ) in refused.output
    assert log(tmp_path) == ["switch"]
    assert rows(plan)["switch"]["definition_changed"] is True
    assert rows(plan)["switch"]["changes"] == ["timeout_s: 60 -> 90"]

    dry = run("execute", str(plan), "--phase", "1", "--dry-run")
    assert dry.exit_code == 0
    assert "a real run would be refused to run phase 1 (switch): step switch changed" in dry.output
    assert log(tmp_path) == ["switch"]

    rerun = run("execute", str(plan), "--phase", "1", "--rerun", "switch")

    assert rerun.exit_code == 0, rerun.output
    assert log(tmp_path) == ["switch", "switch"]
    state = status_json(plan)
    step = {r["id"]: r for r in state["steps"]}["switch"]
    assert (step["status"], step["attempts"], step["definition_changed"]) == (SUCCEEDED, 2, False)
    assert step["definition"] == {"shell": "echo switch >> log.txt", "timeout_s": 90}
    reruns = [e for e in state["events"] if e["event"] == "rerun"]
    assert [(e["step"], e["changed"]) for e in reruns] == [("switch", ["timeout_s: 60 -> 90"])]
    assert run("execute", str(plan), "--phase", "1").exit_code == 0  # now unchanged: skipped
    assert log(tmp_path) == ["switch", "switch"]


def test_rerun_of_an_unknown_or_foreign_step_is_a_usage_error(tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        """\
        phases:
          - name: one
            steps:
              - {id: a, shell: "true"}
          - name: two
            steps:
              - {id: b, shell: "true"}
              - {id: c, shell: "true"}
        """,
    )
    unknown = run("execute", str(plan), "--phase", "two", "--rerun", "nope")
    assert unknown.exit_code == 2
    assert (
        f"--rerun nope: no step has this id in {plan}; the steps of phase two are: b, c"
        in unknown.output
    )
    foreign = run("execute", str(plan), "--phase", "two", "--rerun", "a")
    assert foreign.exit_code == 2
    assert "--rerun a: step a is in phase 1 (one); the steps of phase two are: b, c" in (
        foreign.output
    )
    assert not (tmp_path / "state" / "journal.json").exists()


def test_bad_phase_selectors_are_usage_errors_naming_the_option(tmp_path: Path) -> None:
    plan = write(tmp_path, one_phase(SWITCH))
    for selector in ("0", "99", "swich"):
        for command in (["execute", str(plan), "--phase", selector], ["rollback", str(plan)]):
            if command[0] == "rollback":
                command += ["--phase", selector]
            result = run(*command)
            assert result.exit_code == 2, result.output
            assert (
                f"--phase {selector!r}: no such phase in {plan}; expected a number from 1 to 1 "
                "or a name; the phases are: 1 (switch)"
            ) in result.output
    assert log(tmp_path) == []


def test_orphaned_steps_are_shown_and_rolled_back_from_their_recorded_definition(
    tmp_path: Path,
) -> None:
    plan = write(tmp_path, one_phase(PREP, SWITCH))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    plan = write(tmp_path, one_phase(SWITCH))  # the prep step is gone from the plan

    by_id = rows(plan)
    orphans = [r for r in by_id.values() if r["orphaned"]]
    assert [(r["description"], r["status"]) for r in orphans] == [
        ("shell: echo prep >> log.txt", SUCCEEDED)
    ]
    text = run("status", str(plan))
    assert f"step {orphans[0]['id']} (shell: echo prep >> log.txt) is in the journal" in (
        text.output
    )
    shown = run("plan", str(plan), "--offline", "--output", "json")
    assert shown.exit_code == 0, shown.output
    planned = {s["id"]: s for s in json.loads(shown.stdout)["steps"]}
    assert planned[orphans[0]["id"]]["orphaned"] is True

    # Not in the plan: a recorded command runs only with --yes-recorded-commands.
    result = run("rollback", str(plan), "--yes", "--yes-recorded-commands")

    assert result.exit_code == 0, result.output
    assert "no longer in the plan: undone from the definition recorded when it ran" in (
        result.output
    )
    assert log(tmp_path) == ["prep", "switch", "undo-switch", "undo-prep"]  # newest first


def test_rollback_of_one_phase_undoes_only_steps_journaled_under_it(tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        """\
        phases:
          - name: one
            steps:
              - {id: a, shell: "echo a >> log.txt", rollback: "echo undo-a >> log.txt"}
          - name: two
            steps:
              - {id: b, shell: "echo b >> log.txt", rollback: "echo undo-b >> log.txt"}
        """,
    )
    assert run("execute", str(plan), "--phase", "one").exit_code == 0
    assert run("execute", str(plan), "--phase", "two").exit_code == 0

    refused = run("rollback", str(plan), "--phase", "one", "--yes")
    assert refused.exit_code == 1
    assert "refused to roll back phase one while later steps are still in place: b" in (
        refused.output
    )
    assert run("rollback", str(plan), "--phase", "two", "--yes").exit_code == 0
    assert log(tmp_path) == ["a", "b", "undo-b"]
    assert run("rollback", str(plan), "--phase", "one", "--yes").exit_code == 0
    assert log(tmp_path) == ["a", "b", "undo-b", "undo-a"]


V1_PLAN = """\
phases:
  - name: prep
    steps:
      - action: check-connectivity
  - name: switch
    steps:
      - shell: echo switch >> log.txt
        rollback: echo undo-switch >> log.txt
"""


def v1_entry(phase: int, name: str, description: str, status: str = SUCCEEDED) -> dict:
    return {
        "phase": phase,
        "phase_name": name,
        "step": 1,
        "description": description,
        "status": status,
        "started_at": f"2026-01-0{phase}T00:00:00+00:00",
        "ended_at": f"2026-01-0{phase}T00:00:01+00:00",
        "by": "ops@host",
        "attempts": 1,
        "record": {"exit_code": 0} if phase == 2 else {"source": {}},
        "error": None,
    }


def write_v1(tmp_path: Path, steps: dict) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    path = state / "journal.json"
    path.write_text(json.dumps({"version": 1, "plan": "identity", "steps": steps, "events": []}))
    return path


def test_a_version_1_journal_is_migrated_to_step_ids_with_a_backup(tmp_path: Path) -> None:
    plan = write(tmp_path, V1_PLAN)
    old = write_v1(
        tmp_path,
        {
            "1.1": v1_entry(1, "prep", "check-connectivity"),
            "2.1": v1_entry(2, "switch", "shell: echo switch >> log.txt"),
        },
    )
    original = old.read_text()

    by_id = rows(plan)

    assert (tmp_path / "state" / "journal.v1.json").read_text() == original
    data = json.loads(old.read_text())
    assert data["version"] == 2
    switch = next(r for r in by_id.values() if r["action"] == "shell")
    assert (by_id["check-connectivity"]["status"], switch["status"]) == (SUCCEEDED, SUCCEEDED)
    assert not any(r["orphaned"] or r["definition_changed"] for r in by_id.values())
    assert data["steps"][switch["id"]]["migrated_from"] == "2.1"
    assert data["steps"][switch["id"]]["definition"]["rollback"] == "echo undo-switch >> log.txt"

    again = run("execute", str(plan), "--phase", "switch")  # succeeded in v1: skipped
    assert again.exit_code == 0, again.output
    assert "already succeeded at 2026-01-02T00:00:01+00:00 by ops@host; skipped" in again.output
    assert log(tmp_path) == []


def test_an_unmatchable_version_1_journal_is_refused_and_left_alone(tmp_path: Path) -> None:
    plan = write(tmp_path, V1_PLAN)
    old = write_v1(
        tmp_path,
        {
            "1.1": v1_entry(1, "prep", "check-connectivity"),
            "2.1": v1_entry(2, "switch", "shell: echo something-else >> log.txt"),
            "3.1": v1_entry(3, "gone", "mirror"),
        },
    )
    original = old.read_text()

    for command in ("status", "plan", "execute", "rollback"):
        extra = ["--phase", "1"] if command == "execute" else []
        result = run(command, str(plan), *extra)
        assert result.exit_code == 1, result.output
        assert (
            f"{old} is a version 1 journal (steps keyed by position) and these entries do not "
            f"match the step of {plan} at that position: "
            "2.1 'shell: echo something-else >> log.txt' (the plan has "
            "'shell: echo switch >> log.txt' there); 3.1 'mirror' (no step there now). "
            "Nothing was changed."
        ) in " ".join(result.output.split())
    assert old.read_text() == original
    assert not (tmp_path / "state" / "journal.v1.json").exists()


def test_a_corrupt_journal_is_exit_1_with_its_path_and_the_previous_version_kept(
    tmp_path: Path,
) -> None:
    plan = write(tmp_path, one_phase(PREP, SWITCH))
    assert run("execute", str(plan), "--phase", "1").exit_code == 0
    journal = tmp_path / "state" / "journal.json"
    prev = tmp_path / "state" / "journal.json.prev"
    kept = prev.read_text()
    journal.write_text(journal.read_text()[:40])

    for command in (["status", str(plan)], ["execute", str(plan), "--phase", "1"]):
        result = run(*command)
        assert result.exit_code == 1, result.output
        assert f"FAILED: {journal}: the journal cannot be read: not valid JSON" in result.output
        assert f"the previous good version is kept beside it as {prev}" in result.output
    assert prev.read_text() == kept
    shutil.copyfile(prev, journal)  # the advice works: the previous version is a journal
    assert run("status", str(plan)).exit_code == 0


def test_a_requires_gate_refuses_until_the_evidence_holds(tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        """\
        phases:
          - name: check
            steps:
              - {id: lag-ok, shell: "test -f lag-ok.flag"}
          - name: switch
            requires: [{step: lag-ok}]
            steps:
              - {shell: "echo switch >> log.txt"}
        """,
    )
    assert run("execute", str(plan), "--phase", "check").exit_code == 1  # no flag yet
    shown = run("plan", str(plan), "--offline", "--output", "json")
    assert json.loads(shown.stdout)["requires"] == [
        {
            "phase": "switch",
            "requires": "{step: lag-ok}",
            "now": "step lag-ok is failed, expected succeeded",
        }
    ]

    refused = run("execute", str(plan), "--phase", "switch", "--force")

    assert refused.exit_code == 1
    assert (
        "refused to run phase 2 (switch): its requires: do not hold: {step: lag-ok}: "
        "step lag-ok is failed, expected succeeded (no option overrides evidence gates)"
    ) in refused.output
    assert log(tmp_path) == []

    (tmp_path / "lag-ok.flag").touch()
    assert run("execute", str(plan), "--phase", "check").exit_code == 0
    allowed = run("execute", str(plan), "--phase", "switch")
    assert allowed.exit_code == 0, allowed.output
    assert log(tmp_path) == ["switch"]


def test_mismatches_gate_reads_the_verify_record(tmp_path: Path) -> None:
    """The condition on a verify step's journaled record (the verify itself needs brokers)."""
    journal = Journal(tmp_path, "p")
    gate = Requirement(step="verify", mismatches=0)
    assert requirement_problem(gate, journal) == "step verify has not run"
    journal.start("verify", "check", 3, "verify", action="verify")
    journal.finish("verify", FAILED, {"matched": 4, "mismatched": 2}, error="2 differ")
    assert requirement_problem(gate, journal) == (
        "step verify found 2 mismatched partitions, at most 0 allowed"
    )
    assert requirement_problem(Requirement(step="verify", mismatches=2), journal) is None
    journal.start("verify", "check", 3, "verify", action="verify")
    journal.finish("verify", SUCCEEDED, {"matched": 6, "mismatched": 0})
    assert requirement_problem(gate, journal) is None
    assert requirement_problem(Requirement(step="verify", status="failed"), journal) == (
        "step verify is succeeded, expected failed"
    )


def test_a_failed_step_fixed_in_the_plan_runs_with_its_new_definition(tmp_path: Path) -> None:
    """The normal case after a failure: fix the step (explicit id keeps it the same step)."""
    plan = write(
        tmp_path, one_phase("      - {id: switch, shell: 'echo try1 >> log.txt; false'}\n")
    )
    assert run("execute", str(plan), "--phase", "1").exit_code == 1
    plan = write(tmp_path, one_phase("      - {id: switch, shell: 'echo try2 >> log.txt'}\n"))

    fixed = run("execute", str(plan), "--phase", "1")

    assert fixed.exit_code == 0, fixed.output
    assert "running it again with the plan's changed definition (shell: " in fixed.output
    assert log(tmp_path) == ["try1", "try2"]
    step = rows(plan)["switch"]
    assert (step["status"], step["attempts"], step["definition_changed"]) == (SUCCEEDED, 2, False)
    assert [r for r in rows(plan).values() if r["orphaned"]] == []


def test_an_override_is_journaled_only_when_every_gate_passes(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    today = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[datetime.now(UTC).weekday()]
    other = "sun" if today != "sun" else "mon"
    plan = write(
        tmp_path,
        f"""\
        phases:
          - name: one
            steps:
              - {{id: a, shell: "echo a >> log.txt"}}
          - name: two
            window: {{days: [{other}], start: "00:00", end: "00:01"}}
            steps:
              - {{id: b, shell: "echo b >> log.txt"}}
        """,
    )

    refused = run("execute", str(plan), "--phase", "two", "--force")

    assert refused.exit_code == 1
    assert "refused to run phase 2 (two) outside its window" in refused.output
    assert not (tmp_path / "state" / "journal.json").exists()  # no 'forced' event written
    both = run("execute", str(plan), "--phase", "two", "--force", "--ignore-window")
    assert both.exit_code == 0, both.output
    assert [e["event"] for e in status_json(plan)["events"]] == ["forced", "ignored-window"]
    assert log(tmp_path) == ["b"]

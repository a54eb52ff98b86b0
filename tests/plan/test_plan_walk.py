"""Tests for kmigrate.plan.identity: ids from what a step is, definitions, plan checks
(and kmigrate.runtime.rerun's advice)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kmigrate.errors import PlanError
from kmigrate.plan.identity import (
    definition_hash,
    derived_id,
    diff_definitions,
    spec_from_definition,
    walk,
)
from kmigrate.plan.loader import parse_plan
from kmigrate.runtime.rerun import missing_topics_advice, rerun_command
from tests.conftest import offline_plan_head

HEADER = offline_plan_head("walk")


def plan_of(phases: str, path: Path = Path("p.yaml")):  # noqa: ANN201 - LoadedPlan
    return parse_plan(HEADER + textwrap.dedent(phases), path)


def errors_of(phases: str) -> str:
    with pytest.raises(PlanError) as info:
        plan_of(phases)
    return str(info.value)


def test_ids_do_not_depend_on_position() -> None:
    before = plan_of("""\
        phases:
          - name: a
            steps:
              - action: mirror
              - shell: ./switch.sh --to target
                rollback: ./switch.sh --to source
        """)
    after = plan_of("""\
        phases:
          - name: first
            steps:
              - manual: Tell the on-call team
          - name: a
            steps:
              - shell: ./switch.sh --to target
                rollback: ./switch.sh --to source
              - action: verify
              - action: mirror
        """)
    ids_before = {s.id: (s.definition_hash, s.description) for s in walk(before.model)}
    ids_after = {s.id: (s.definition_hash, s.description) for s in walk(after.model)}
    assert set(ids_before) <= set(ids_after)
    assert all(ids_after[k] == v for k, v in ids_before.items())
    assert ids_before.keys() == {
        "mirror",
        "shell-switch-sh-to-target-" + _hex6("./switch.sh --to target"),
    }


def _hex6(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:6]


def test_derived_ids_are_typeable_slugs() -> None:
    plan = plan_of("""\
        phases:
          - name: a
            steps:
              - shell: "  KAFKA_URL=$(cat url) ./Deploy.SH   --now "
              - manual: "!!!"
              - action: export-topics
        """)
    ids = [s.id for s in walk(plan.model)]
    assert ids[0] == "shell-kafka-url-cat-url-" + _hex6(
        "  KAFKA_URL=$(cat url) ./Deploy.SH   --now "
    )
    assert ids[1] == "manual-" + _hex6("!!!")
    assert ids[2] == "export-topics"
    assert derived_id(walk(plan.model)[2].spec) == "export-topics"


def test_definition_covers_rollback_but_not_id_or_defaults() -> None:
    plan = plan_of("""\
        phases:
          - name: a
            steps:
              - {id: sw, shell: "./a", rollback: "./b"}
        """)
    step = walk(plan.model)[0]
    assert step.definition == {"shell": "./a", "rollback": "./b"}
    assert step.definition_hash == definition_hash({"rollback": "./b", "shell": "./a"})
    assert spec_from_definition(step.definition).rollback == "./b"
    assert spec_from_definition(step.definition).timeout_s == 600
    assert diff_definitions(step.definition, {**step.definition, "rollback": None}) == [
        'rollback: "./b" -> null'
    ]
    assert diff_definitions({"a": 1}, {"b": 1}) == ["a: 1 -> (default)", "b: (default) -> 1"]
    same = plan_of("""\
        phases:
          - name: a
            steps:
              - {id: sw, shell: "./a", rollback: "./b", timeout_s: 600}
        """)
    assert walk(same.model)[0].definition_hash == step.definition_hash


def test_duplicate_explicit_ids_name_both_lines() -> None:
    text = errors_of("""\
        phases:
          - name: a
            steps:
              - {id: switch, shell: "./a"}
          - name: b
            steps:
              - id: switch
                shell: "./b"
        """)
    assert text == (
        "p.yaml:14: phases[2].steps[1].id: expected a unique step id; found 'switch' again "
        "(line 11 has it)"
    )


def test_the_same_derived_id_twice_needs_an_explicit_id() -> None:
    text = errors_of("""\
        phases:
          - name: a
            steps:
              - action: verify
              - action: mirror
              - action: verify
        """)
    assert text == (
        "p.yaml:13: phases[1].steps[3]: two steps get the same id 'verify' (lines 11 and 13); "
        "give one an explicit 'id:' (letters, digits, . _ -)"
    )
    fixed = plan_of("""\
        phases:
          - name: a
            steps:
              - action: verify
              - action: mirror
              - {action: verify, id: verify-again}
        """)
    assert [s.id for s in walk(fixed.model)] == ["verify", "mirror", "verify-again"]


def test_an_id_that_is_not_a_slug_is_refused() -> None:
    text = errors_of("""\
        phases:
          - name: a
            steps:
              - {id: "Switch DNS", shell: "./a"}
        """)
    assert text == (
        "p.yaml:11: phases[1].steps[1].id: expected a step id of lower-case letters, digits, "
        "'.', '_' or '-', starting with a letter or digit; found 'Switch DNS'"
    )


def test_requires_must_name_a_step_of_an_earlier_phase() -> None:
    text = errors_of("""\
        phases:
          - name: a
            requires: [{step: verify}]
            steps:
              - action: verify
          - name: b
            requires:
              - {step: verfy}
              - {step: mirror, mismatches: 0}
            steps:
              - action: mirror
          - name: c
            requires: [{step: mirror, mismatches: 0}]
            steps:
              - shell: "true"
        """)
    assert text.splitlines() == [
        "p.yaml:10: phases[1].requires[1].step: expected a step of an earlier phase; "
        "'verify' is in phase 1 (a)",
        "p.yaml:15: phases[2].requires[1].step: expected the id of a step of an earlier "
        "phase; found 'verfy' (the step ids are: verify, mirror, shell-true-b5bea4)",
        "p.yaml:16: phases[2].requires[2].step: expected a step of an earlier phase; "
        "'mirror' is in phase 2 (b)",
        "p.yaml:20: phases[3].requires[1].mismatches: 'mismatches' applies to verify steps; "
        "'mirror' is a mirror step",
    ]


def test_missing_topics_advice_reruns_export_and_provision_quoted() -> None:
    plan = plan_of(
        """\
        phases:
          - name: provision now
            steps:
              - action: export-topics
              - action: provision-topics
          - name: copy
            steps:
              - action: mirror
        """,
        Path("my plans/p.yaml"),
    )
    assert missing_topics_advice(plan) == (
        "create them with: kmigrate execute 'my plans/p.yaml' --phase 'provision now' "
        "--rerun export-topics --rerun provision-topics; then run this step again"
    )
    assert rerun_command(plan, ["mirror", "export-topics"]) == (
        "kmigrate execute 'my plans/p.yaml' --phase 'provision now' --rerun export-topics; "
        "then kmigrate execute 'my plans/p.yaml' --phase copy --rerun mirror"
    )
    assert rerun_command(plan, ["verify"]) is None


def test_missing_topics_advice_with_a_reviewed_snapshot_asks_to_update_it_first() -> None:
    plan = plan_of("""\
        phases:
          - name: prep
            steps:
              - action: export-topics
              - {action: provision-topics, snapshot: snapshots/reviewed.yaml, id: provision}
          - name: copy
            steps:
              - action: mirror
        """)
    assert missing_topics_advice(plan) == (
        f"add them to the snapshot {plan.state_dir / 'snapshots/reviewed.yaml'} that "
        "provision reads (kmigrate export … -o that file, and review it), then create them "
        "with: kmigrate execute p.yaml --phase prep --rerun provision; then run this step again"
    )

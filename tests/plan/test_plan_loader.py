"""Tests for the plan loader, schema and ``${…}`` references (kmigrate.plan)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmigrate.errors import PlanError, UsageError
from kmigrate.plan.loader import LoadedPlan, load_plan, parse_plan
from kmigrate.plan.refs import is_sensitive, resolve
from kmigrate.plan.schema import (
    CheckConnectivityStep,
    ExportTopicsStep,
    ManualStep,
    MirrorStep,
    PlanModel,
    ProvisionTopicsStep,
    ShellStep,
    VerifyStep,
    describe_step,
)
from kmigrate.plan.yaml_reader import format_loc

# --------------------------------------------------------------------------- #
# A full valid plan
# --------------------------------------------------------------------------- #

FULL_PLAN = textwrap.dedent(
    """\
    version: 1
    name: orders-to-managed
    state_dir: state/run-1
    clusters:
      source:
        type: kafka
        bootstrap_servers: "old-1:9092, old-2:9092"
        config:
          security.protocol: SASL_SSL
          sasl.mechanism: PLAIN
          sasl.username: ${SRC_USER}
          sasl.password: ${file:secret.txt}
          retries: 5
          enable.idempotence: true
          client.id: kmigrate-${SRC_USER}-1
      target:
        type: kafka
        bootstrap_servers: new-1:9092
    topics:
      include: ["orders.*", payments]
      exclude: ["__*", "orders.tmp"]
    phases:
      - name: preflight
        steps:
          - action: check-connectivity
          - action: export-topics
            output: snapshots/topics.yaml
      - name: provision
        steps:
          - action: provision-topics
      - name: mirror
        window:
          days: [sat, sun]
          start: "22:00"
          end: "04:00"
          timezone: Europe/Berlin
        steps:
          - action: mirror
          - action: verify
      - name: cutover
        steps:
          - manual: Point the producers at the target cluster
            rollback: Point the producers back at the source cluster
          - shell: ./switch-dns.sh new
            rollback: ./switch-dns.sh old
            timeout_s: 30
    """
)


@pytest.fixture
def full_plan(tmp_path: Path) -> LoadedPlan:
    path = tmp_path / "plan.yaml"
    path.write_text(FULL_PLAN, encoding="utf-8")
    return load_plan(path)


def test_full_plan_loads_as_typed_model(full_plan: LoadedPlan, tmp_path: Path) -> None:
    model = full_plan.model
    assert isinstance(model, PlanModel)
    assert full_plan.path == tmp_path / "plan.yaml"
    assert model.version == 1
    assert model.name == "orders-to-managed"
    # bootstrap servers are normalised: blanks after commas dropped
    assert model.clusters.source.bootstrap_servers == "old-1:9092,old-2:9092"
    assert model.clusters.source.type == "kafka"
    assert model.clusters.target.type == "kafka"
    assert model.clusters.target.bootstrap_servers == "new-1:9092"
    assert model.clusters.target.config == {}
    assert model.clusters.source.config["retries"] == 5
    assert model.clusters.source.config["enable.idempotence"] is True
    assert model.topics.include == ["orders.*", "payments"]
    assert model.topics.exclude == ["__*", "orders.tmp"]
    assert [p.name for p in model.phases] == ["preflight", "provision", "mirror", "cutover"]
    assert [[type(s) for s in p.steps] for p in model.phases] == [
        [CheckConnectivityStep, ExportTopicsStep],
        [ProvisionTopicsStep],
        [MirrorStep, VerifyStep],
        [ManualStep, ShellStep],
    ]


def test_full_plan_step_fields_and_defaults(full_plan: LoadedPlan) -> None:
    preflight, provision, mirror, cutover = full_plan.model.phases
    export = preflight.steps[1]
    assert isinstance(export, ExportTopicsStep)
    assert export.output == "snapshots/topics.yaml"
    assert export.consumer_groups is True
    prov = provision.steps[0]
    assert isinstance(prov, ProvisionTopicsStep)
    assert prov.snapshot is None
    verify = mirror.steps[1]
    assert isinstance(verify, VerifyStep)
    assert verify.report == "reports/verify.json"
    manual, shell = cutover.steps
    assert isinstance(manual, ManualStep)
    assert manual.manual == "Point the producers at the target cluster"
    assert manual.rollback == "Point the producers back at the source cluster"
    assert isinstance(shell, ShellStep)
    assert shell.shell == "./switch-dns.sh new"
    assert shell.rollback == "./switch-dns.sh old"
    assert shell.timeout_s == 30
    assert [describe_step(s) for s in cutover.steps] == [
        "manual: Point the producers at the target cluster",
        "shell: ./switch-dns.sh new",
    ]
    assert describe_step(verify) == "verify"


def test_full_plan_window(full_plan: LoadedPlan) -> None:
    phases = full_plan.model.phases
    assert [p.window is None for p in phases] == [True, True, False, True]
    window = phases[2].window
    assert window is not None
    assert window.days == ["sat", "sun"]
    assert (window.start, window.end, window.timezone) == ("22:00", "04:00", "Europe/Berlin")


def test_window_defaults_to_every_day_in_utc(tmp_path: Path) -> None:
    text = FULL_PLAN.replace("      days: [sat, sun]\n", "").replace(
        "      timezone: Europe/Berlin\n", ""
    )
    assert text != FULL_PLAN
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    window = load_plan(path).model.phases[2].window
    assert window is not None
    assert window.days == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert window.timezone == "UTC"


def test_state_dir_is_relative_to_plan_file(
    full_plan: LoadedPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert full_plan.model.state_dir == "state/run-1"
    assert full_plan.base_dir == tmp_path
    assert full_plan.state_dir == (tmp_path / "state" / "run-1").resolve()


def test_default_state_dir_next_to_plan_loaded_by_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "plans"
    sub.mkdir()
    (sub / "p.yaml").write_text(FULL_PLAN.replace("state_dir: state/run-1\n", ""), "utf-8")
    monkeypatch.chdir(tmp_path)
    plan = load_plan("plans/p.yaml")
    assert plan.model.state_dir == ".kmigrate"
    assert plan.state_dir == (tmp_path / "plans" / ".kmigrate").resolve()
    assert plan.state_dir.is_absolute()


def test_phase_index_by_number_and_name(full_plan: LoadedPlan) -> None:
    assert full_plan.phase_index("1") == 0
    assert full_plan.phase_index("3") == 2
    assert full_plan.phase_index("mirror") == 2
    assert full_plan.phase_index("cutover") == 3
    assert full_plan.phase_index("4") == 3


def test_phase_index_number_and_name_agree(tmp_path: Path) -> None:
    # phases: preflight, mirror -- "2" and "mirror" both name the second phase
    path = tmp_path / "plan.yaml"
    path.write_text(BASE, encoding="utf-8")
    plan = load_plan(path)
    assert plan.phase_index("2") == 1
    assert plan.phase_index("mirror") == 1


@pytest.mark.parametrize("selector", ["9", "0", "mirorr", "", "-1"])
def test_phase_index_unknown_raises_usage_error(full_plan: LoadedPlan, selector: str) -> None:
    with pytest.raises(UsageError) as info:
        full_plan.phase_index(selector)
    assert info.value.exit_code == 2
    assert str(info.value) == (
        f"--phase {selector!r}: no such phase in {full_plan.path}; expected a number "
        "from 1 to 4 or a name; the phases are: "
        "1 (preflight), 2 (provision), 3 (mirror), 4 (cutover)"
    )


def test_where_names_file_line_and_key_path(full_plan: LoadedPlan) -> None:
    assert full_plan.where(("phases", 2, "window", "start")) == (
        f"{full_plan.path}:34: phases[3].window.start"
    )
    # a path the file does not spell out falls back to its nearest parent
    assert full_plan.where(("phases", 3, "steps", 0, "nope")) == (
        f"{full_plan.path}:42: phases[4].steps[1].nope"
    )


def test_format_loc_counts_from_one() -> None:
    assert format_loc(("phases", 0, "steps", 1)) == "phases[1].steps[2]"
    assert format_loc(()) == "(top level)"
    assert format_loc(("clusters", "source", "config", "sasl.password")) == (
        "clusters.source.config.sasl.password"
    )


def test_missing_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert info.value.exit_code == 2
    assert str(info.value) == f"{path}: no such plan file"


def test_plan_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == (
        f"{path}:1:10: cannot read the plan: not UTF-8 text (save the file as UTF-8)"
    )


# --------------------------------------------------------------------------- #
# Malformed plans
# --------------------------------------------------------------------------- #

# A small valid plan; the malformed cases below are edits of it.  Lines:
#  1 version  2 name  3 clusters  4 source  5 type  6 bootstrap_servers  7 target
#  8 type  9 bootstrap_servers  10 topics  11 include  12 phases  13 - name: preflight
#  14 steps  15 - action  16 - name: mirror  17 window  18 start  19 end  20 steps
#  21 - action: mirror
BASE = textwrap.dedent(
    """\
    version: 1
    name: demo
    clusters:
      source:
        type: kafka
        bootstrap_servers: old:9092
      target:
        type: kafka
        bootstrap_servers: new:9092
    topics:
      include: [orders]
    phases:
      - name: preflight
        steps:
          - action: check-connectivity
      - name: mirror
        window:
          start: "22:00"
          end: "04:00"
        steps:
          - action: mirror
    """
)

TARGET_SERVERS = "    bootstrap_servers: new:9092\n"
PHASES = BASE[BASE.index("phases:") :]


def edit(old: str, new: str) -> str:
    """BASE with the first ``old`` replaced by ``new`` (``old`` must occur)."""
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def target_config(*lines: str) -> str:
    """BASE with a ``config`` mapping under the target cluster, starting on line 10."""
    body = "".join(f"      {line}\n" for line in lines)
    return edit(TARGET_SERVERS, TARGET_SERVERS + "    config:\n" + body)


ALL_KINDS = (
    "'check-connectivity', 'consumers-on-target', 'dual-write-check', 'export-topics', "
    "'manual', 'mirror', 'provision-acls', 'provision-topics', 'shell', 'source-quiet', "
    "'translate-offsets', 'verify'"
)
TOP = "expected a mapping with version, name, clusters, topics, phases"
P = "<tmp>/plan.yaml"

MALFORMED = [
    pytest.param(
        edit("  target:\n", " target:\n"),
        f"{P}:7:2: not valid YAML: expected <block end>, but found '<block mapping start>'",
        id="yaml-bad-indentation",
    ),
    pytest.param(
        edit("include: [orders]", "include: [orders"),
        f"{P}:12:7: not valid YAML: expected ',' or ']', but got ':'",
        id="yaml-unclosed-bracket",
    ),
    pytest.param(
        edit("  include", "\tinclude"),
        f"{P}:11:1: not valid YAML: found character '\\t' that cannot start any token",
        id="yaml-tab-indent",
    ),
    pytest.param(
        edit("name: demo", "name: !vault demo"),
        f"{P}:2:7: not valid YAML: a tag (!name) that the safe loader does not accept",
        id="yaml-unknown-tag",
    ),
    pytest.param(
        edit("name: demo", "name: !!python/name:os.system ''"),
        f"{P}:2:7: not valid YAML: a tag (!name) that the safe loader does not accept",
        id="yaml-python-tag",
    ),
    pytest.param(
        edit("name: demo", "name:\n  ? [a, b]\n  : c"),
        f"{P}:3:5: not valid YAML: found unhashable key",
        id="yaml-unhashable-key",
    ),
    pytest.param(
        "",
        f"{P}:1: (top level): {TOP}; found an empty file",
        id="empty-file",
    ),
    pytest.param(
        "# only a comment\n",
        f"{P}:1: (top level): {TOP}; found an empty file",
        id="comment-only-file",
    ),
    pytest.param(
        "- version: 1\n- name: demo\n",
        f"{P}:1: (top level): {TOP}; found a list",
        id="top-level-list",
    ),
    pytest.param(
        edit("version: 1\n", ""),
        f"{P}:1: (top level): missing required key 'version'",
        id="missing-version",
    ),
    pytest.param(
        edit("version: 1", "version: 2"),
        f"{P}:1: version: expected one of 1; found 2 (int)",
        id="version-2",
    ),
    pytest.param(
        edit("version: 1", "version: true"),
        f"{P}:1: version: expected 1 (the schema version); found True",
        id="version-boolean",
    ),
    pytest.param(
        edit("  target:\n    type: kafka\n" + TARGET_SERVERS, ""),
        f"{P}:3: clusters: missing required key 'target'",
        id="missing-clusters-target",
    ),
    pytest.param(
        edit("phases:", "phase:"),
        f"{P}:1: (top level): missing required key 'phases'\n"
        f"{P}:12: phase: unknown key 'phase' (did you mean 'phases'?)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        edit("    bootstrap_servers: old", "    boostrap_servers: old"),
        f"{P}:4: clusters.source: missing required key 'bootstrap_servers'\n"
        f"{P}:6: clusters.source.boostrap_servers: unknown key 'boostrap_servers' "
        "(did you mean 'bootstrap_servers'?)",
        id="unknown-cluster-key",
    ),
    pytest.param(
        edit("type: kafka", "type: kafak"),
        f"{P}:5: clusters.source.type: expected one of 'kafka', 'redpanda', 'msk', 'eventhubs' "
        "or 'confluent-cloud'; found 'kafak'",
        id="bad-cluster-type",
    ),
    pytest.param(
        edit("type: kafka", "type: msk"),
        f"{P}:5: clusters.source.type: expected a source type kmigrate reads from (kafka, "
        "redpanda); found 'msk' (managed services are targets)",
        id="managed-type-as-source",
    ),
    pytest.param(
        edit("old:9092", "old-1:9092,old-2"),
        f"{P}:6: clusters.source.bootstrap_servers: expected a comma-separated list of "
        "host:port; found 'old-1:9092,old-2'",
        id="bootstrap-without-port",
    ),
    pytest.param(
        edit("[orders]", "[]"),
        f"{P}:11: topics.include: expected at least 1 item(s); found none",
        id="empty-topics-include",
    ),
    pytest.param(
        edit("action: mirror", "action: mirorr"),
        f"{P}:21: phases[2].steps[1].action: expected one of {ALL_KINDS}; "
        "found 'mirorr' (did you mean 'mirror'?)",
        id="unknown-action",
    ),
    pytest.param(
        edit("action: mirror", "action: [mirror]"),
        f"{P}:21: phases[2].steps[1].action: expected one of {ALL_KINDS}; found a list",
        id="action-is-a-list",
    ),
    pytest.param(
        edit("      - action: mirror", "      - manual: Stop the producers\n        shell: ./stop"),
        f"{P}:21: phases[2].steps[1]: expected exactly one of action, manual, shell; "
        "found manual, shell",
        id="step-manual-and-shell",
    ),
    pytest.param(
        edit("      - action: check-connectivity", "      - check-connectivity"),
        f"{P}:15: phases[1].steps[1]: expected a mapping with one of action, manual, shell; "
        "found 'check-connectivity'",
        id="step-is-a-string",
    ),
    pytest.param(
        edit("action: mirror", "action: mirror\n        output: out.yaml"),
        f"{P}:22: phases[2].steps[1].output: unknown key 'output'",
        id="key-of-another-step",
    ),
    pytest.param(
        edit('"22:00"', '"25:00"'),
        f"{P}:18: phases[2].window.start: expected a time as HH:MM (24-hour); found '25:00'",
        id="window-start-25h",
    ),
    pytest.param(
        edit("    window:\n", "    window:\n      days: [sat, sunday]\n"),
        f"{P}:18: phases[2].window.days[2]: expected one of 'mon', 'tue', 'wed', 'thu', "
        "'fri', 'sat' or 'sun'; found 'sunday'",
        id="window-day-sunday",
    ),
    pytest.param(
        edit('      end: "04:00"\n', '      end: "04:00"\n      timezone: Mars/Olympus\n'),
        f"{P}:20: phases[2].window.timezone: expected an IANA time zone such as 'UTC' or "
        "'Europe/Berlin'; found 'Mars/Olympus'",
        id="window-bad-timezone",
    ),
    pytest.param(
        edit("name: mirror", "name: preflight"),
        f"{P}:16: phases[2].name: expected a unique phase name; found 'preflight' again "
        "(phase 1 has it)",
        id="duplicate-phase-name",
    ),
    pytest.param(
        edit("name: mirror", 'name: "2"'),
        f"{P}:16: phases[2].name: expected a name that is not a number (--phase N means "
        "the Nth phase); found '2'",
        id="numeric-phase-name",
    ),
    pytest.param(
        edit("name: demo\n", "name: demo\nname: other\n"),
        f"{P}:3: name: duplicate key (first given on line 2)",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        edit("name: demo\n", "name: demo\n3: three\n"),
        f"{P}:1: (top level): expected string keys; found the key 3 (int)",
        id="integer-key",
    ),
    pytest.param(
        target_config("sasl.password: hunter2"),
        f"{P}:10: clusters.target.config: expected a ${{ENV_VAR}} or ${{file:path}} "
        "reference for secret key 'sasl.password'; found a literal value (not shown)",
        id="literal-secret",
    ),
    pytest.param(
        target_config("sasl.username: ${SRC_USER"),
        f"{P}:11: clusters.target.config.sasl.username: expected ${{ENV_VAR}} or "
        "${file:path}; found a malformed reference",
        id="malformed-reference",
    ),
    pytest.param(
        edit(PHASES, "phases: []\n"),
        f"{P}:12: phases: expected at least 1 item(s); found none",
        id="empty-phases",
    ),
    pytest.param(
        edit("      - action: mirror", "      - shell: ./copy.sh\n        timeout_s: 0"),
        f"{P}:22: phases[2].steps[1].timeout_s: expected a number greater than 0; found 0 (int)",
        id="shell-timeout-zero",
    ),
    pytest.param(
        target_config("retries: [1, 2]"),
        f"{P}:11: clusters.target.config.retries: expected a string, number or true/false; "
        "found a list",
        id="config-value-list",
    ),
    pytest.param(
        edit("    steps:\n      - action: mirror\n", ""),
        f"{P}:16: phases[2]: missing required key 'steps'",
        id="phase-without-steps",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_plan_is_rejected_with_breadcrumbs(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert info.value.exit_code == 2
    assert str(info.value).replace(str(tmp_path), "<tmp>") == expected


def test_malformed_cases_are_edits_of_a_valid_plan(tmp_path: Path) -> None:
    # guards the table above: BASE itself must load, so each case fails for its edit
    path = tmp_path / "plan.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert [p.name for p in load_plan(path).model.phases] == ["preflight", "mirror"]
    assert len(MALFORMED) >= 20


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sasl.password", "hunter2"),
        ("ssl.key.password", "9172634"),
        ("sasl.oauthbearer.client.secret", "${CLIENT_ID}-s3cr3tv4lue"),
        ("sasl.jaas.config", "'org.apache.kafka.PlainLoginModule required password=pw77;'"),
    ],
    ids=["password", "int-password", "partly-a-reference", "jaas"],
)
def test_literal_secret_is_rejected_without_showing_it(
    tmp_path: Path, key: str, value: str
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(target_config(f"{key}: {value}"), encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    message = str(info.value)
    assert message.startswith(f"{path}:10: clusters.target.config: ")
    assert repr(key) in message
    secret = yaml.safe_load(f"v: {value}")["v"]
    assert str(secret) not in message
    assert "(not shown)" in message


def test_every_problem_is_reported(tmp_path: Path) -> None:
    text = edit("old:9092", "old").replace("[orders]", "[]").replace("kafka", "kafak")
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value).replace(str(tmp_path), "<tmp>").splitlines() == [
        f"{P}:5: clusters.source.type: expected one of 'kafka', 'redpanda', 'msk', 'eventhubs' "
        "or 'confluent-cloud'; found 'kafak'",
        f"{P}:6: clusters.source.bootstrap_servers: expected a comma-separated list of "
        "host:port; found 'old'",
        f"{P}:8: clusters.target.type: expected one of 'kafka', 'redpanda', 'msk', 'eventhubs' "
        "or 'confluent-cloud'; found 'kafak'",
        f"{P}:11: topics.include: expected at least 1 item(s); found none",
    ]


# --------------------------------------------------------------------------- #
# ${VAR} and ${file:path} references
# --------------------------------------------------------------------------- #

# In FULL_PLAN the source config keys sit on lines 9-15; sasl.password is line 12.


def test_resolved_config_reads_env_and_files(
    full_plan: LoadedPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secret.txt").write_text("pa55word\n", encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("wrong-file\n", encoding="utf-8")
    monkeypatch.chdir(elsewhere)  # ${file:…} is relative to the plan, not the cwd
    config = full_plan.resolved_config("source", environ={"SRC_USER": "alice"})
    assert config == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": "pa55word",
        "retries": "5",
        "enable.idempotence": "true",
        "client.id": "kmigrate-alice-1",
    }
    assert full_plan.resolved_config("target", environ={}) == {}


def test_resolved_config_uses_os_environ_by_default(
    full_plan: LoadedPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secret.txt").write_text("pw", encoding="utf-8")
    monkeypatch.setenv("SRC_USER", "bob")
    assert full_plan.resolved_config("source")["sasl.username"] == "bob"


def test_model_keeps_references_unresolved(full_plan: LoadedPlan) -> None:
    config = full_plan.model.clusters.source.config
    assert config["sasl.username"] == "${SRC_USER}"
    assert config["sasl.password"] == "${file:secret.txt}"


def test_unset_variable_names_variable_file_and_line_only(
    full_plan: LoadedPlan, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("topsecretfilevalue\n", encoding="utf-8")
    environ = {"SRC_PASSWORD": "envsecretvalue", "OTHER": "othervalue"}
    with pytest.raises(PlanError) as info:
        full_plan.resolved_config("source", environ=environ)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert message == (
        f"{tmp_path / 'plan.yaml'}:11: clusters.source.config.sasl.username: "
        "environment variable SRC_USER is not set"
    )
    for value in ("envsecretvalue", "othervalue", "topsecretfilevalue"):
        assert value not in message


def test_unreadable_secret_file_names_the_file(full_plan: LoadedPlan, tmp_path: Path) -> None:
    with pytest.raises(PlanError) as info:
        full_plan.resolved_config("source", environ={"SRC_USER": "alice"})
    message = str(info.value)
    assert message.startswith(
        f"{tmp_path / 'plan.yaml'}:12: clusters.source.config.sasl.password: "
        f"secret file {tmp_path / 'secret.txt'} cannot be read: "
    )
    assert "alice" not in message


def test_resolve_absolute_file_and_several_references(tmp_path: Path) -> None:
    secret = tmp_path / "abs.txt"
    secret.write_text("line1\nline2\n\n", encoding="utf-8")
    # one trailing newline is stripped, no more
    assert resolve(f"${{file:{secret}}}", {}, Path("/nonexistent")) == "line1\nline2\n"
    assert resolve("${A}:${B}/${A}", {"A": "x", "B": "y"}, tmp_path) == "x:y/x"
    assert resolve("no references", {}, tmp_path) == "no references"


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("sasl.password", True),
        ("ssl.keystore.password", True),
        ("sasl.oauthbearer.client.SECRET", True),
        ("sasl.jaas.config", True),
        ("sasl.oauthbearer.token.endpoint.url", True),
        ("sasl.username", False),
        ("bootstrap.servers", False),
    ],
)
def test_is_sensitive(key: str, sensitive: bool) -> None:
    assert is_sensitive(key) is sensitive


# --------------------------------------------------------------------------- #
# Fuzzing: any input gives a LoadedPlan or a PlanError, nothing else
# --------------------------------------------------------------------------- #

FUZZ_PATH = Path("fuzz.yaml")
YAML_CHARS = list(" \n\t:-[]{},#&*!|>'\"%@`?~$\\0123456789abcdefkmnpstvy._/")


def check_parses_or_plan_error(text: str) -> None:
    try:
        result = parse_plan(text, FUZZ_PATH)
    except PlanError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml:"), message
        assert all(line.startswith("fuzz.yaml:") for line in message.splitlines()), message
    else:
        assert isinstance(result, LoadedPlan)
        assert isinstance(result.model, PlanModel)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["1", "mirror", "kafka", "msk", "${X}", "${file:x}", "${", "22:00"])
)
keys = (
    st.text(max_size=12)
    | st.integers()
    | st.booleans()
    | st.sampled_from(
        ["version", "name", "clusters", "topics", "phases", "steps", "action", "window"]
    )
)
nested = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)

# Plan-shaped documents: the right keys with arbitrary values, to reach the validator.
cluster = st.fixed_dictionaries(
    {"type": st.sampled_from(["kafka", "redpanda", "msk", "kafak"]) | nested},
    optional={
        "bootstrap_servers": st.sampled_from(["h:1", "h", "a:1,b:2"]) | nested,
        "config": st.dictionaries(st.text(max_size=15), nested, max_size=3),
    },
)
step = st.one_of(
    st.fixed_dictionaries(
        {"action": st.sampled_from(["mirror", "verify", "export-topics", "mirorr"]) | nested},
        optional={"output": nested},
    ),
    st.fixed_dictionaries({"manual": nested}, optional={"rollback": nested}),
    st.fixed_dictionaries({"shell": nested}, optional={"timeout_s": nested}),
    nested,
)
phase = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "2"]) | nested},
    optional={
        "steps": st.lists(step, max_size=3),
        "window": st.fixed_dictionaries(
            {"start": nested, "end": nested},
            optional={"days": nested, "timezone": nested},
        )
        | nested,
    },
)
plan_shaped = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from([1, 2, "1"]) | nested,
        "name": st.text(max_size=10) | nested,
        "state_dir": nested,
        "clusters": st.fixed_dictionaries({"source": cluster}, optional={"target": cluster})
        | nested,
        "topics": st.fixed_dictionaries({"include": nested}, optional={"exclude": nested}),
        "phases": st.lists(phase, max_size=3) | nested,
    },
)

FUZZ_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ_SETTINGS
@given(st.text() | st.text(alphabet=YAML_CHARS))
def test_fuzz_arbitrary_text(text: str) -> None:
    check_parses_or_plan_error(text)


@FUZZ_SETTINGS
@given(nested)
def test_fuzz_arbitrary_yaml_structures(data: object) -> None:
    check_parses_or_plan_error(yaml.safe_dump(data))


@FUZZ_SETTINGS
@given(plan_shaped)
def test_fuzz_plan_shaped_structures(data: object) -> None:
    check_parses_or_plan_error(yaml.safe_dump(data, sort_keys=False))


@FUZZ_SETTINGS
@given(st.data())
def test_fuzz_line_edits_of_a_valid_plan(data: st.DataObject) -> None:
    lines = FULL_PLAN.splitlines(keepends=True)
    index = data.draw(st.integers(0, len(lines) - 1), label="line")
    replacement = data.draw(st.text(alphabet=YAML_CHARS, max_size=40), label="new line")
    lines[index] = replacement + "\n"
    check_parses_or_plan_error("".join(lines))


@pytest.mark.parametrize(
    "text",
    [
        "[" * 2000,
        "a: " + "{b: " * 600 + "1" + "}" * 600,
        "name: !!int abc\n",
        "a: \x00\n",
        "--- 1\n--- 2\n",
    ],
    ids=["deep-flow", "deep-mapping", "bad-int-tag", "nul-char", "two-documents"],
)
def test_hostile_yaml_gives_plan_error(text: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(text, FUZZ_PATH)
    assert all(line.startswith("fuzz.yaml:") for line in str(info.value).splitlines())


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_plan_exits_2_through_the_cli(tmp_path: Path, text: str, expected: str) -> None:
    """The same plans through ``kmigrate plan``: exit 2, the message, no traceback."""
    from click.testing import CliRunner

    from kmigrate.cli import cli

    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", str(path), "--offline"])
    assert result.exit_code == 2
    assert result.output.replace(str(tmp_path), "<tmp>") == f"invalid input:\n{expected}\n"

"""Secrets masked in every output and only where they stand as values; one list of secret
keys; control characters escaped; files that are not plans described, never quoted (issue 19).

Secrets used: ``a`` (one character), ``9092`` (a substring of ordinary output such as
``127.0.0.1:19092``) and ``Pw$(x)[.*]+?`` (regular-expression characters).  Shell-step
plans need no broker (the clusters are never dialled).  Each test says whether it fails
on the code before issue 19.
"""

from __future__ import annotations

import io
import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kmigrate import redact
from kmigrate.adapters import probe
from kmigrate.cli import cli
from kmigrate.context import parse_settings
from kmigrate.errors import UsageError
from kmigrate.ui import UI
from kmigrate.verify.dual_write import printable_key
from tests.conftest import Brokers, create_on_both, produce

REGEX_SECRET = "Pw$(x)[.*]+?"
TITLE = "\x1b]0;title\x07"


@pytest.fixture(autouse=True)
def fresh_masker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no remembered secret (they are per process)."""
    for name, empty in (("_values", set()), ("_pattern", None), ("_warned", set())):
        monkeypatch.setattr(redact, name, empty, raising=False)
    monkeypatch.setattr(redact, "_short_sources", [], raising=False)
    yield


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


def printed(do: object) -> str:
    """What a UI writes when ``do(ui)`` is called."""
    out = io.StringIO()
    do(UI(out=out, interactive=False))  # type: ignore[operator]
    return out.getvalue()


# -- 5. the masker -----------------------------------------------------------------------


def test_a_secret_that_is_part_of_ordinary_output_does_not_garble_it() -> None:
    """Fails before issue 19: ``127.0.0.1:19092`` became ``127.0.0.1:1(secret not shown)``."""
    redact.remember("9092", "${PORTISH}")
    assert redact.redact("connected to 127.0.0.1:19092 in 9092ms") == (
        "connected to 127.0.0.1:19092 in 9092ms"
    )
    assert redact.redact("sasl.password=9092 and 'x': '9092' at [9092]") == (
        f"sasl.password={redact.MASK} and 'x': '{redact.MASK}' at [{redact.MASK}]"
    )


def test_a_one_character_secret_is_masked_as_a_whole_value_and_warned_about_once() -> None:
    """Fails before issue 19: a secret under 4 characters was not remembered, so shown."""
    redact.remember("a", "${SHORT}")
    out = printed(
        lambda ui: (
            ui.line("a"),
            ui.line('password="a" user=a'),
            ui.warn("the password was a"),
        )
    )
    lines = out.splitlines()
    assert lines[0] == (
        "warning: the secret from ${SHORT} is shorter than 8 characters: it is masked "
        "wherever it stands as a whole word or value, also where it means something else; "
        "use a longer one"
    )
    assert lines[1:] == [
        redact.MASK,
        f'password="{redact.MASK}" user={redact.MASK}',  # "password" keeps its "a"
        f"warning: the password was {redact.MASK}",
    ]
    assert "shorter than 8" not in printed(lambda ui: ui.line("again"))


def test_a_secret_with_regex_characters_is_masked_in_every_kind_of_line() -> None:
    """Fails before issue 19: ui.line, ui.warn, ui.ok, tables and JSON printed it as given."""
    redact.remember(REGEX_SECRET, "${file:pw.txt}")
    out = printed(
        lambda ui: (
            ui.line(f"got {REGEX_SECRET} back"),
            ui.warn(f"'{REGEX_SECRET}'"),
            ui.ok(f"x={REGEX_SECRET}"),
            ui.fail(REGEX_SECRET),
            ui.heading(REGEX_SECRET),
            ui.table([[REGEX_SECRET]], ["value"]),
        )
    )
    assert REGEX_SECRET not in out
    assert out.count(redact.MASK) == 6
    assert f"x{REGEX_SECRET}" == redact.redact(f"x{REGEX_SECRET}")  # inside other text: left


def test_shell_step_output_is_masked_and_secret_variables_are_not_inherited(
    tmp_path: Path,
) -> None:
    """Fails before issue 19: the step's output and log showed the secrets, and the command
    saw ``$KM19_PW``."""
    (tmp_path / "pw.txt").write_text(REGEX_SECRET + "\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        textwrap.dedent(
            """\
            version: 1
            name: masking
            state_dir: state
            clusters:
              source:
                type: kafka
                bootstrap_servers: "127.0.0.1:1"
                config: {sasl.username: "${KM19_USER}", sasl.password: "${file:pw.txt}"}
              target:
                type: kafka
                bootstrap_servers: "127.0.0.1:2"
                config: {sasl.password: "${KM19_PW}"}
            topics:
              include: ["*"]
            phases:
              - name: one
                steps:
                  - shell: cat pw.txt; echo "pw=[$KM19_PW] user=[$KM19_USER] 127.0.0.1:19092"
                  - shell: echo "inherited=[$KM19_PW]"
                    env: inherit-secrets
            """
        )
    )
    env = {"KM19_PW": "9092", "KM19_USER": "a"}
    result = run("execute", str(plan), "--phase", "1", env=env)
    assert result.exit_code == 0, result.output
    logs = "".join(p.read_text() for p in sorted((tmp_path / "state" / "logs").iterdir()))
    for text in (result.output, logs):
        assert REGEX_SECRET not in text
        assert "| (secret not shown)" in text or "\n(secret not shown)\n" in text
        assert "pw=[] user=[] 127.0.0.1:19092" in text  # not inherited; the address intact
    assert "inherited=[(secret not shown)]" in logs  # inherited (env: inherit-secrets), masked
    assert "inherited=[9092]" not in result.output + logs
    assert "warning: the secret from ${KM19_PW} is shorter than 8 characters" in result.output


# -- 4. one list of secret keys ----------------------------------------------------------


PLAN_WITH = """\
version: 1
name: keys
clusters:
  source: {{type: kafka, bootstrap_servers: "127.0.0.1:1"}}
  target:
    type: kafka
    bootstrap_servers: "127.0.0.1:2"
    config:
      {key}: "{value}"
topics:
  include: ["*"]
phases:
  - name: one
    steps:
      - shell: "true"
"""


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ssl.key.pem", "-----BEGIN PRIVATE KEY----- MIIEvQ"),
        ("sasl.oauthbearer.config", "clientId=app clientSecret=s3cr3t-v4lue"),
        ("ssl.keystore.password", "changeit-now"),
        ("sasl.oauthbearer.token.endpoint.url.token", "tok-3n-v4lue"),
        (
            "client.id",
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=x",
        ),
    ],
    ids=["ssl.key.pem", "oauthbearer.config", "keystore.password", "token", "eventhubs-conn"],
)
def test_a_literal_value_of_any_secret_key_is_refused_at_load(
    tmp_path: Path, key: str, value: str
) -> None:
    """Fails before issue 19 for ``ssl.key.pem``, ``sasl.oauthbearer.config`` and an Event
    Hubs connection string: ``plan --offline`` accepted them."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_WITH.format(key=key, value=value))
    result = run("plan", str(plan), "--offline")
    assert result.exit_code == 2, result.output
    assert f"{plan}:8: clusters.target.config: " in result.output
    assert "found a literal value (not shown)" in result.output
    assert value not in result.output
    with pytest.raises(UsageError, match="found a literal value"):
        parse_settings((f"{key}={value}",), "-Y", {})


def test_the_probe_and_the_argv_log_mask_every_key_of_the_one_list() -> None:
    """Fails before issue 19: the probe's list lacked ``jaas`` and ``token``; the argv log's
    lacked ``ssl.key.pem`` and ``sasl.oauthbearer.config``."""
    config = {
        "sasl.jaas.config": "org.apache.kafka.Plain required password=pw-jaas-77;",
        "sasl.oauthbearer.token": "tok-3n-v4lue",
        "client.id": "app",
    }
    message = probe.redact(
        "refused: sasl.jaas.config=org.apache.kafka.Plain required password=pw-jaas-77; "
        "token 'tok-3n-v4lue' for app",
        config,
    )
    assert "pw-jaas-77" not in message and "tok-3n-v4lue" not in message
    assert message.endswith(f"token '{redact.MASK}' for app")
    argv = [
        "-X",
        "ssl.key.pem=-----BEGIN",
        "--target-config=sasl.oauthbearer.config=clientSecret=abc",
        "-X",
        "client.id=app",
    ]
    assert redact.redact_argv(argv) == (
        f"-X ssl.key.pem={redact.MASK} --target-config=sasl.oauthbearer.config={redact.MASK} "
        "-X client.id=app"
    )


# -- 7. terminal safety --------------------------------------------------------------------


def test_control_characters_in_keys_and_names_are_escaped_before_the_terminal() -> None:
    """Fails before issue 19: the escape sequence reached the terminal raw (it set the window
    title), in lines, tables and the dual-write check's printable keys."""
    out = printed(
        lambda ui: (
            ui.line(f"first differing key: {TITLE}"),
            ui.warn(f"group {TITLE}\x9b2J is active"),
            ui.table([[f"orders{TITLE}", "a\nb"]], ["topic", "key"]),
        )
    )
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "first differing key: \\x1b]0;title\\x07" in out
    assert "group \\x1b]0;title\\x07\\x9b2J is active" in out
    assert "a\\x0ab" in out  # a newline inside a cell does not start a row of its own
    assert printable_key(TITLE.encode()) == "\\x1b]0;title\\x07"


# -- 6. errors describe, never quote -----------------------------------------------------------


SHADOW = (
    "root:$6$Zx9Q1w$abcdEFGHijklMNOPqrstUVWXyz0123456789abcdefghijkl/mnopqrstuv.wxyz:19700:0:"
    "99999:7:::\n"
    "daemon:*:19700:0:99999:7:::\n"
    "svc:$6$short$Hh1:19700:0:99999:7:::\n"
)


def test_a_shadow_like_file_given_as_plan_or_snapshot_is_described_not_quoted(
    tmp_path: Path,
) -> None:
    """Fails before issue 19: every line came back as an "unknown key" (hashes included)."""
    shadow = tmp_path / "shadow"
    shadow.write_text(SHADOW)
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_WITH.format(key="client.id", value="app"))
    for args in (
        ["plan", str(shadow)],
        ["plan", str(plan), "--offline", "--snapshot", str(shadow)],
    ):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert f"{shadow}:1: (top level): expected a" in result.output
        assert "found a mapping of 3 keys" in result.output
        for word in ("Zx9Q1w", "daemon", "svc", "$6$", "19700"):
            assert word not in result.output, (word, result.output)


def test_keys_that_are_not_names_are_described_in_a_plan(tmp_path: Path) -> None:
    """Fails before issue 19: a key of up to 60 characters was quoted, whatever it held."""
    plan = tmp_path / "plan.yaml"
    text = PLAN_WITH.format(key="client.id", value="app")
    plan.write_text(text.replace("topics:\n", "svc:$6$short$Hh1:1:: x\ntopics:\n"))
    result = run("plan", str(plan), "--offline")
    assert result.exit_code == 2, result.output
    assert "unknown key (a key of 19 characters, not shown)" in result.output
    assert "$6$" not in result.output
    typo = PLAN_WITH.format(key="client.id", value="app").replace("topics:", "topcs:")
    plan.write_text(typo)
    assert "unknown key 'topcs' (did you mean 'topics'?)" in run("plan", str(plan)).output


def test_json_output_is_masked_and_valid() -> None:
    """Fails before issue 19: JSON documents were printed unmasked."""
    redact.remember(REGEX_SECRET)
    out = io.StringIO()
    ui = UI(json_mode=True, out=out)
    runner = CliRunner()
    with runner.isolation() as (stdout, _err, _):
        ui.emit_json({"seen": REGEX_SECRET})
        data = json.loads(stdout.getvalue())
    assert data == {"seen": redact.MASK}


@pytest.mark.broker
def test_a_record_key_with_a_terminal_escape_reaches_neither_terminal_nor_report_raw(
    brokers: Brokers, prefix: str, tmp_path: Path
) -> None:
    """A key ``\\x1b]0;title\\x07`` (and a C1 CSI) written to the real source broker only: the
    dual-write check names it, escaped, on the terminal and in its JSON report.

    Fails before issue 19: the key reached the terminal raw (it set the window title)."""
    topic = f"{prefix}keys"
    create_on_both(brokers, topic, 1)
    base = int(time.time() * 1000) - 60_000
    evil = f"{TITLE}\x9b2J".encode()
    produce(brokers.source, topic, [{"key": evil, "value": b"v", "timestamp": base + 100}])
    report = tmp_path / "dw.json"
    result = run(
        "verify", "--mode", "dual-write", "--source", brokers.source, "--target",
        brokers.target, "--topic", topic, "--from", str(base), "--to", str(base + 30_000),
        "--report", str(report),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    for raw in ("\x1b", "\x07", "\x9b"):
        assert raw not in result.output
        assert raw not in report.read_text()
    assert "\\x1b]0;title\\x07\\x9b2J" in result.output
    (entry,) = json.loads(report.read_text())["topics"]
    assert entry["first_only_on_source"] == ["\\x1b]0;title\\x07\\x9b2J"]

"""Issue 18, part 4: one vocabulary on every command, with examples.

Each test names the defect it pins and failed on the main branch before the
fix (checked against commit 2d5dc72).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from kmigrate.cli import cli
from tests.conftest import Brokers, create_topic


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[Any]:
    """Every command as ``(path, command)``, sub-commands of groups included."""
    out: list[Any] = []
    for name, cmd in sorted(group.commands.items()):
        out.append(((*path, name), cmd))
        if isinstance(cmd, click.Group):
            out += commands(cmd, (*path, name))
    return out


def _kind(param: click.Option) -> tuple[Any, ...]:
    choices = tuple(getattr(param.type, "choices", ()) or ())
    return (type(param.type).__name__, choices, param.is_flag, param.multiple)


def test_no_option_name_means_two_things_across_commands() -> None:
    """An option name takes one kind of value on every command that has it.

    On main: ``--output`` was a file on ``export`` and a format (text|json)
    elsewhere; ``--until`` a stop mode on ``mirror`` and a timestamp on ``verify``.
    """
    kinds: dict[str, dict[tuple[Any, ...], list[str]]] = {}
    for path, cmd in commands():
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                for name in param.opts + param.secondary_opts:
                    kinds.setdefault(name, {}).setdefault(_kind(param), []).append(" ".join(path))
    clashes = {name: found for name, found in kinds.items() if len(found) > 1}
    assert clashes == {}


@pytest.mark.broker
@pytest.mark.parametrize("spelling", ["--source", "--bootstrap-server", "-b"])
def test_one_cluster_is_named_the_kafka_topics_and_kcat_ways_too(
    brokers: Brokers, prefix: str, tmp_path: Path, spelling: str
) -> None:
    """``export`` takes ``--source``, kafka-topics' ``--bootstrap-server`` and
    kcat's ``-b``; the file is ``-o/--out``.  On main ``--bootstrap-server``,
    ``-b`` and ``--out`` were unknown options (exit 2)."""
    topic = f"{prefix}orders"
    create_topic(brokers.source, topic, 3)
    snapshot = tmp_path / "topics.yaml"

    result = run("export", spelling, brokers.source, "--topic", topic, "--out", str(snapshot))

    assert result.exit_code == 0, result.output
    data = yaml.safe_load(snapshot.read_text())
    assert {name: t["partitions"] for name, t in data["topics"].items()} == {topic: 3}


def test_export_output_is_not_a_file_and_says_so(tmp_path: Path) -> None:
    """``--output`` is only ever a format: ``export --output FILE`` is refused
    (exit 2) naming ``-o/--out``, and writes nothing.  On main it wrote the file."""
    target = tmp_path / "topics.yaml"

    result = run("export", "--source", "127.0.0.1:9", "--output", str(target))

    assert result.exit_code == 2, result.output
    assert "-o/--out" in result.output
    assert not target.exists()


def test_deprecated_bootstrap_servers_still_works_with_a_warning(tmp_path: Path) -> None:
    """The old ``--bootstrap-servers`` spelling is hidden but accepted, with a
    warning naming the new one (it is validated like the new one: a bad value
    is exit 2).  On main no warning was given."""
    result = run("sandbox", "seed", "--bootstrap-servers", "no-port-here")

    assert result.exit_code == 2
    assert "--bootstrap-servers is deprecated; use --source" in result.output
    with mock.patch("kmigrate.commands.sandbox.seed", return_value=0) as seed:
        used = run("sandbox", "seed", "--bootstrap-servers", "127.0.0.1:5555")
    assert used.exit_code == 0, used.output
    assert seed.call_args.kwargs["bootstrap_servers"] == "127.0.0.1:5555"  # not the default


def test_verify_window_is_from_to_and_until_is_the_follow_stop_mode() -> None:
    """verify's dual-write window is ``--from``/``--to``; ``--until`` is the stop
    mode of ``--follow``, the same choices as mirror's (issue 17), so the old
    ``--until TIME`` spelling of ``--to`` is refused naming them; ``--since``
    warns and still works.  On main ``--from``/``--to`` did not exist."""
    shown = run("verify", "--help").output
    assert "--from TIME" in shown and "--to TIME" in shown
    assert "--since" not in shown
    assert "--until [caught-up|stopped]" in shown
    assert "--until [caught-up|stopped]" in run("mirror", "--help").output

    clusters = ["--source", "127.0.0.1:1", "--target", "127.0.0.1:2"]
    old = run("verify", *clusters, "--since", "5", "--to", "1")
    assert "verify --since is deprecated; use --from" in old.output
    assert old.exit_code == 2
    assert "--from and --to need --mode dual-write" in old.output
    gone = run("verify", *clusters, "--until", "1")
    assert gone.exit_code == 2
    assert "'caught-up'" in gone.output and "'stopped'" in gone.output


@pytest.mark.parametrize(
    "path",
    [p for p, c in commands() if not isinstance(c, click.Group)] + [("sandbox",), ()],
    ids=lambda path: " ".join(path) or "kmigrate",
)
def test_every_help_ends_with_examples(path: tuple[str, ...]) -> None:
    """``--help`` of every command ends with runnable examples, each line within
    80 columns (a long one continued with a backslash).  On main no command had
    examples."""
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)

    assert result.exit_code == 0
    tail = result.output.rstrip().split("Examples:")
    assert len(tail) == 2, result.output
    assert max(len(line) for line in tail[1].splitlines()) <= 80, tail[1]
    examples = [line.strip() for line in tail[1].strip().replace("\\\n", " ").splitlines()]
    assert examples and all(line.startswith("kmigrate") for line in examples), examples
    assert all(line.startswith("kmigrate " + " ".join(path)) for line in examples) or not path


def test_the_command_list_shows_whole_sentences() -> None:
    """The command list shows each command's short help whole, a sentence
    ending with a full stop, never cut with "...".  On main click cut them
    ("Write the evidence report (HTML and JSON):...")."""
    for group_path in ((), ("sandbox",)):
        listing = run(*group_path, "--help").output.split("Commands:", 1)[1]
        listing = listing.split("Examples:", 1)[0]
        entries = re.split(r"\n  (?=\S)", "\n" + listing.rstrip())
        texts = [" ".join(e.split()[1:]) for e in entries if e.strip()]
        assert texts, listing
        for text in texts:
            assert text.endswith(".") and "..." not in text, text


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "#compdef kmigrate"), ("fish", "complete")],
)
def test_completion_prints_the_shell_script(shell: str, marker: str) -> None:
    """``kmigrate completion SHELL`` prints click's completion script for the
    console script.  On main there was no such command (exit 2)."""
    result = run("completion", shell)

    assert result.exit_code == 0, result.output
    assert "_KMIGRATE_COMPLETE" in result.output
    assert marker in result.output


def test_all_unset_variables_of_a_plan_are_named_at_once(tmp_path: Path) -> None:
    """A plan referencing three unset variables (on both clusters) names all
    three in one run, each with its file, line and key.  On main only the
    first was named, one per run."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\n"
        "name: secrets\n"
        "clusters:\n"
        "  source:\n"
        "    type: kafka\n"
        "    bootstrap_servers: 127.0.0.1:9\n"
        "    config:\n"
        "      sasl.username: ${KM18_SRC_USER}\n"
        "      sasl.password: ${KM18_SRC_PASSWORD}\n"
        "  target:\n"
        "    type: kafka\n"
        "    bootstrap_servers: 127.0.0.1:10\n"
        "    config:\n"
        "      sasl.password: ${KM18_TGT_PASSWORD}\n"
        "topics: {include: ['*']}\n"
        "phases:\n"
        "  - name: one\n"
        "    steps:\n"
        "      - action: check-connectivity\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KM18_")}

    result = run("execute", str(plan), "--phase", "1", env=env)

    assert result.exit_code == 2, result.output
    assert "3 environment variables are not set" in result.output
    for line, key, name in (
        (8, "clusters.source.config.sasl.username", "KM18_SRC_USER"),
        (9, "clusters.source.config.sasl.password", "KM18_SRC_PASSWORD"),
        (14, "clusters.target.config.sasl.password", "KM18_TGT_PASSWORD"),
    ):
        assert f"{plan}:{line}: {key}: environment variable {name} is not set" in result.output


def test_all_unset_variables_of_command_line_settings_are_named_at_once() -> None:
    """``-X``/``-Y`` settings naming two unset variables: both named in one run.
    On main only the first was."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KM18_")}
    result = run(
        "verify",
        "--source",
        "127.0.0.1:1",
        "--target",
        "127.0.0.1:2",
        "-X",
        "sasl.password=${KM18_A}",
        "-Y",
        "sasl.password=${KM18_B}",
        env=env,
    )

    assert result.exit_code == 2, result.output
    assert "KM18_A" in result.output and "KM18_B" in result.output

"""The command line: parses arguments, calls a command function, exits with its code.

Only this module and :mod:`kmigrate.ui` import click.  Every command is a plain
function in :mod:`kmigrate.commands` that returns an exit code, so it can be
called from Python and from tests.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from kmigrate import __version__, error_handler
from kmigrate.commands import demo as demo_cmd
from kmigrate.commands import dual_write as dual_write_cmd
from kmigrate.commands import execute as execute_cmd
from kmigrate.commands import export as export_cmd
from kmigrate.commands import mirror as mirror_cmd
from kmigrate.commands import mm2_config as mm2_config_cmd
from kmigrate.commands import plan as plan_cmd
from kmigrate.commands import provision as provision_cmd
from kmigrate.commands import report as report_cmd
from kmigrate.commands import rollback as rollback_cmd
from kmigrate.commands import sandbox as sandbox_cmd
from kmigrate.commands import status as status_cmd
from kmigrate.commands import translate_offsets as translate_cmd
from kmigrate.commands import verify as verify_cmd
from kmigrate.plan.loader import bootstrap_problem
from kmigrate.ui import UI


def _bootstrap(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check a bootstrap-servers option with the plan's own rule (``host:port[,…]``)."""
    if value is None:
        return value
    why = bootstrap_problem(value)
    if why:
        raise click.BadParameter(why)
    return ",".join(part.strip() for part in value.split(","))


def _same_cluster(first: str, second: str) -> bool:
    """True when two bootstrap lists share a host:port (the same cluster, most likely)."""
    return bool(
        {p.strip().lower() for p in first.split(",")}
        & {p.strip().lower() for p in second.split(",")}
    )


def _refuse_same_cluster(source: str, target: str) -> None:
    if _same_cluster(source, target):
        raise click.BadOptionUsage(
            "target",
            f"--target {target!r} names the same broker as --source {source!r}; "
            "kmigrate never writes to the source, and a cluster compared with itself "
            "proves nothing",
        )


def _refuse_yes_with_dry_run(yes: bool, dry_run: bool) -> None:
    if yes and dry_run:
        raise click.BadOptionUsage(
            "yes", "--yes has no effect with --dry-run: a dry run asks no confirmation"
        )


def _examples(*commands: str) -> str:
    """A command's ``--help`` epilog: its examples, one per line; a long one is
    continued shell-style (``\\`` then an indented line) before an option, so
    that each line stays within 80 columns."""
    lines = []
    for command in commands:
        words = command.split(" ")
        groups: list[str] = []
        for word in words:  # an option stays with its value
            if groups and not word.startswith("-"):
                groups[-1] += " " + word
            else:
                groups.append(word)
        rows = [groups[0]]
        for group in groups[1:]:
            if len(rows[-1]) + 1 + len(group) > 70:
                rows.append(group)
            else:
                rows[-1] += " " + group
        lines.append("  " + " \\\n      ".join(rows))
    return "\b\nExamples:\n" + "\n".join(lines)


def _deprecated(old: str, new: str) -> None:
    click.echo(f"warning: {old} is deprecated; use {new}", err=True)


def _one_cluster(role: str, value: str | None, old: str | None) -> str:
    """The bootstrap servers of the one cluster a command talks to: ``--{role}``
    (or ``--bootstrap-server`` / ``-b``), or the deprecated ``--bootstrap-servers``.

    Raises:
        click.MissingParameter: none given.
    """
    if old is not None:
        _deprecated("--bootstrap-servers", f"--{role} (or --bootstrap-server, -b)")
        ctx = click.get_current_context()
        checked = _bootstrap(ctx, None, old)  # type: ignore[arg-type]
        if ctx.get_parameter_source("bootstrap") in (None, ParameterSource.DEFAULT):
            value = checked  # the old spelling wins over a default, not over --{role}
    if value is None:
        raise click.MissingParameter(param_type="option", param_hint=f"'--{role}'")
    return value


def one_cluster_option(role: str, default: str | None = None) -> Any:
    """``--source``/``--target`` with kafka-topics' ``--bootstrap-server`` and
    kcat's ``-b`` as other names, plus the deprecated ``--bootstrap-servers``
    (hidden; warns)."""

    def decorate(func: Any) -> Any:
        func = click.option(
            "--bootstrap-servers",
            "old_bootstrap",
            hidden=True,
            default=None,
            help="Deprecated spelling of --bootstrap-server.",
        )(func)
        return click.option(
            f"--{role}",
            "--bootstrap-server",
            "-b",
            "bootstrap",
            default=default,
            show_default=default is not None,
            metavar="HOST:PORT[,…]",
            callback=_bootstrap,
            help=f"{role.capitalize()} bootstrap servers.",
        )(func)

    return decorate


PLAN = click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
OUTPUT = click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the same facts for machines.",
)
TOPICS = click.option(
    "--topic",
    "topics",
    multiple=True,
    default=("*",),
    show_default=True,
    help="Topic glob to include (repeatable).",
)
EXCLUDE = click.option(
    "--exclude",
    multiple=True,
    default=("__*", "_schemas"),
    show_default=True,
    help="Topic glob to exclude (repeatable).",
)
SOURCE = click.option(
    "--source",
    required=True,
    metavar="HOST:PORT[,…]",
    callback=_bootstrap,
    help="Source bootstrap servers.",
)
TARGET = click.option(
    "--target",
    required=True,
    metavar="HOST:PORT[,…]",
    callback=_bootstrap,
    help="Target bootstrap servers.",
)

SOURCE_CONFIG = click.option(
    "--source-config",
    "-X",
    "source_config",
    multiple=True,
    metavar="KEY=VALUE",
    help="librdkafka setting for the source (repeatable); secrets as ${ENV_VAR}.",
)
TARGET_CONFIG = click.option(
    "--target-config",
    "-Y",
    "target_config",
    multiple=True,
    metavar="KEY=VALUE",
    help="librdkafka setting for the target (repeatable); secrets as ${ENV_VAR}.",
)


SHARED_STATE = click.option(
    "--allow-shared-state",
    is_flag=True,
    help="Use a state folder another user owns or group/others may write (journaled).",
)
DETAILS = click.option(
    "--details",
    is_flag=True,
    help="Every row (default: a summary per topic and every row that differs or lags).",
)


def _ui(
    output_format: str = "text",
    yes: bool = False,
    yes_recorded: bool = False,
    details: bool = False,
) -> UI:
    return UI(
        json_mode=output_format == "json",
        assume_yes=yes,
        assume_yes_recorded=yes_recorded,
        details=details,
    )


def _exit(func: Any) -> None:
    sys.exit(error_handler.run(func))


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_examples(
        "kmigrate demo",
        "kmigrate plan plans/my-migration.yaml",
        "kmigrate execute plans/my-migration.yaml --phase 1",
        "kmigrate COMMAND --help",
    ),
)
@click.version_option(__version__, prog_name="kmigrate")
def cli() -> None:
    """Plan, execute, roll back and verify a Kafka migration."""


@cli.command(
    short_help="Show the checklist and what provisioning would do; changes nothing.",
    epilog=_examples(
        "kmigrate plan plans/my-migration.yaml",
        "kmigrate plan plans/my-migration.yaml --output json",
        "kmigrate plan plans/redpanda-to-msk.yaml --offline "
        "--snapshot plans/snapshots/redpanda-shop.yaml",
    ),
)
@PLAN
@OUTPUT
@click.option(
    "--offline",
    is_flag=True,
    help="No cluster access: with --snapshot, translate from it and the plan's declared facts.",
)
@click.option(
    "--snapshot",
    "snapshot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="An export snapshot to translate (with --offline; no network, no credentials).",
)
def plan(plan_path: str, output_format: str, offline: bool, snapshot_path: str | None) -> None:
    """Show the checklist and the translation table (what provisioning would do).

    Changes nothing.
    """
    _exit(
        lambda: plan_cmd.plan(
            plan_path, _ui(output_format), offline=offline, snapshot_path=snapshot_path
        )
    )


@cli.command(
    short_help="Run one phase of the plan, resuming where a run stopped.",
    epilog=_examples(
        "kmigrate execute plans/my-migration.yaml --phase 1",
        "kmigrate execute plans/my-migration.yaml --phase provision --dry-run",
        "kmigrate execute plans/my-migration.yaml --phase copy --rerun verify",
    ),
)
@PLAN
@click.option("--phase", required=True, help="Phase number (from 1) or name.")
@click.option("--force", is_flag=True, help="Run although an earlier phase is incomplete.")
@click.option("--ignore-window", is_flag=True, help="Run outside the phase's window.")
@click.option("--yes", "-y", is_flag=True, help="Answer confirmations with yes.")
@click.option("--dry-run", is_flag=True, help="Describe what would happen; change nothing.")
@click.option(
    "--rerun",
    "rerun",
    multiple=True,
    metavar="STEP_ID",
    help="Run this step of the phase again although it succeeded (repeatable; journaled).",
)
@SHARED_STATE
def execute(
    plan_path: str,
    phase: str,
    force: bool,
    ignore_window: bool,
    yes: bool,
    dry_run: bool,
    rerun: tuple[str, ...],
    allow_shared_state: bool,
) -> None:
    """Run one phase of the plan (resumes where an earlier run stopped)."""
    _refuse_yes_with_dry_run(yes, dry_run)
    _exit(
        lambda: execute_cmd.execute(
            plan_path,
            phase,
            _ui(yes=yes),
            force=force,
            ignore_window=ignore_window,
            dry_run=dry_run,
            rerun=rerun,
            allow_shared_state=allow_shared_state,
        )
    )


@cli.command(
    short_help="Undo what kmigrate did, newest first, from the journal.",
    epilog=_examples(
        "kmigrate rollback plans/my-migration.yaml --dry-run",
        "kmigrate rollback plans/my-migration.yaml --phase 2",
        "kmigrate rollback plans/my-migration.yaml --yes",
    ),
)
@PLAN
@click.option("--phase", default=None, help="Only this phase (number or name).")
@click.option("--dry-run", is_flag=True, help="Show the exact reverse actions; change nothing.")
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Do not ask: a rollback that deletes target topics or consumer groups or runs "
    "shell rollbacks otherwise shows what it will do and asks (without a terminal: exit 2).",
)
@click.option(
    "--use-plan-rollback",
    is_flag=True,
    help="Use the plan's rollback commands/texts, not those recorded when steps ran (journaled).",
)
@click.option(
    "--yes-recorded-commands",
    is_flag=True,
    help="Also run, unasked, shell rollback commands recorded in the journal but not in the plan.",
)
@SHARED_STATE
def rollback(
    plan_path: str,
    phase: str | None,
    dry_run: bool,
    yes: bool,
    use_plan_rollback: bool,
    yes_recorded_commands: bool,
    allow_shared_state: bool,
) -> None:
    """Undo what kmigrate did, newest first, from the journal.

    A shell rollback command recorded in the journal but not in the plan is
    shown and asked about even with --yes; --yes-recorded-commands answers it.
    """
    _refuse_yes_with_dry_run(yes, dry_run)
    _exit(
        lambda: rollback_cmd.rollback(
            plan_path,
            _ui(yes=yes, yes_recorded=yes_recorded_commands),
            phase=phase,
            dry_run=dry_run,
            use_plan_rollback=use_plan_rollback,
            allow_shared_state=allow_shared_state,
        )
    )


@cli.command(
    short_help="Show each step's outcome, when and by whom, from the journal.",
    epilog=_examples(
        "kmigrate status plans/my-migration.yaml",
        "kmigrate status plans/my-migration.yaml --output json",
    ),
)
@PLAN
@OUTPUT
@SHARED_STATE
def status(plan_path: str, output_format: str, allow_shared_state: bool) -> None:
    """Show the journal: each step, its outcome, when and by whom."""
    _exit(
        lambda: status_cmd.status(
            plan_path, _ui(output_format), allow_shared_state=allow_shared_state
        )
    )


@cli.command(
    short_help="Write the evidence report (HTML and JSON) from the journal.",
    epilog=_examples(
        "kmigrate report plans/my-migration.yaml",
        "kmigrate report plans/my-migration.yaml --output-dir evidence/",
    ),
)
@PLAN
@OUTPUT
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for evidence.html and evidence.json (default: STATE_DIR/reports).",
)
@SHARED_STATE
def report(
    plan_path: str, output_format: str, output_dir: Path | None, allow_shared_state: bool
) -> None:
    """Write the evidence report (HTML and JSON): verdict, steps, overrides, per-partition proof.

    Exit 0 when written, whatever the verdict; the verdict is printed and heads the report.
    """
    _exit(
        lambda: report_cmd.report(
            plan_path,
            _ui(output_format),
            output_dir=output_dir,
            allow_shared_state=allow_shared_state,
        )
    )


@cli.command(
    short_help="Snapshot topic configs and consumer group offsets as YAML.",
    epilog=_examples(
        "kmigrate export --source 127.0.0.1:19092 -o topics.yaml",
        "kmigrate export -b kafka-1:9092 --topic 'orders-*' --no-consumer-groups",
        "kmigrate export -b kafka-1:9093 -X 'sasl.password=${KAFKA_PW}' -o topics.yaml",
    ),
)
@one_cluster_option("source")
@TOPICS
@EXCLUDE
@click.option(
    "--type",
    "source_type",
    type=click.Choice(["kafka", "redpanda"]),
    default="kafka",
    show_default=True,
    help="Source type (decides stock defaults).",
)
@click.option(
    "--out", "-o", "output", default=None, metavar="FILE", help="Snapshot file (default: print it)."
)
@click.option(
    "--output",
    "output_format",
    hidden=True,
    default=None,
    help="Not a file here: --output is a format elsewhere; the file is -o/--out.",
)
@click.option("--no-consumer-groups", is_flag=True, help="Leave consumer groups out.")
@SOURCE_CONFIG
def export(
    bootstrap: str | None,
    old_bootstrap: str | None,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    source_type: str,
    output: str | None,
    output_format: str | None,
    no_consumer_groups: bool,
    source_config: tuple[str, ...],
) -> None:
    """Snapshot topic configs and consumer group offsets as YAML."""
    if output_format is not None:
        raise click.BadOptionUsage(
            "output",
            "--output is a format (text or json) on other commands; "
            f"write the snapshot to a file with -o/--out {output_format}",
        )
    source = _one_cluster("source", bootstrap, old_bootstrap)
    _exit(
        lambda: export_cmd.export(
            source,
            topics,
            exclude,
            output,
            _ui(),
            source_type=source_type,
            consumer_groups=not no_consumer_groups,
            source_config=source_config,
        )
    )


@cli.command(
    short_help="Create a snapshot's topics on a target; never alters existing ones.",
    epilog=_examples(
        "kmigrate provision topics.yaml --target 127.0.0.1:29092 --dry-run",
        "kmigrate provision topics.yaml -b 127.0.0.1:29092 --replication-factor 1",
    ),
)
@click.argument("snapshot", type=click.Path(dir_okay=False))
@one_cluster_option("target")
@click.option("--dry-run", is_flag=True, help="Show what would be created; change nothing.")
@TARGET_CONFIG
@click.option(
    "--replication-factor",
    type=click.IntRange(1),
    default=None,
    help="Replication factor for every topic created (default: the source's).",
)
@DETAILS
@OUTPUT
def provision(
    snapshot: str,
    bootstrap: str | None,
    old_bootstrap: str | None,
    dry_run: bool,
    target_config: tuple[str, ...],
    replication_factor: int | None,
    details: bool,
    output_format: str,
) -> None:
    """Create a snapshot's topics on a target (never alters existing ones)."""
    target = _one_cluster("target", bootstrap, old_bootstrap)
    _exit(
        lambda: provision_cmd.provision(
            snapshot,
            target,
            _ui(output_format, details=details),
            dry_run=dry_run,
            target_config=target_config,
            replication_factor=replication_factor,
        )
    )


WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes to shard the partitions over (default: the number of CPUs).",
)


@cli.command(
    short_help="Copy the source's records to the same partitions of the target.",
    epilog=_examples(
        "kmigrate mirror --source src:9092 --target tgt:9092",
        "kmigrate mirror --source src:9092 --target tgt:9092 --topic 'orders-*' --dry-run",
        "kmigrate mirror --source src:9092 --target tgt:9092 --follow --until stopped",
        "kmigrate mirror --source src:9092 --target tgt:9092 --details",
    ),
)
@SOURCE
@TARGET
@TOPICS
@EXCLUDE
@click.option("--dry-run", is_flag=True, help="Show what would be copied; change nothing.")
@click.option(
    "--append", is_flag=True, help="Copy although target partitions already hold records."
)
@click.option(
    "--follow",
    is_flag=True,
    help="Keep copying new records until --until says stop (default: copy what is there).",
)
@click.option(
    "--until",
    type=click.Choice(["caught-up", "stopped"]),
    default="caught-up",
    show_default=True,
    help="With --follow: stop once lag is 0 for --settle-s, or only on Ctrl-C / SIGTERM.",
)
@click.option(
    "--settle-s",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="With --until caught-up: seconds of lag 0 on every partition before stopping.",
)
@click.option(
    "--max-duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --follow: stop after this many seconds.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=".kmigrate",
    show_default=True,
    help="Where the offset map (offset-map.json) is kept; a re-run resumes from it.",
)
@SHARED_STATE
@WORKERS
@DETAILS
@OUTPUT
@SOURCE_CONFIG
@TARGET_CONFIG
def mirror(
    source: str,
    target: str,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    dry_run: bool,
    append: bool,
    follow: bool,
    until: str,
    settle_s: float,
    max_duration: float | None,
    state_dir: str,
    allow_shared_state: bool,
    workers: int | None,
    details: bool,
    output_format: str,
    source_config: tuple[str, ...],
    target_config: tuple[str, ...],
) -> None:
    """Copy the source's records to the same partitions (resuming from --state-dir)."""
    _refuse_same_cluster(source, target)
    _exit(
        lambda: mirror_cmd.mirror(
            source,
            target,
            topics,
            exclude,
            _ui(output_format, details=details),
            dry_run=dry_run,
            append=append,
            follow=follow,
            until=until,
            settle_s=settle_s,
            max_duration=max_duration,
            state_dir=state_dir,
            allow_shared_state=allow_shared_state,
            workers=workers,
            source_config=source_config,
            target_config=target_config,
        )
    )


@cli.command(
    short_help="Compare both clusters partition by partition; exit 1 on a difference.",
    epilog=_examples(
        "kmigrate verify --source src:9092 --target tgt:9092",
        "kmigrate verify --source src:9092 --target tgt:9092 --report verify.json --details",
        "kmigrate verify --source src:9092 --target tgt:9092 --mode dual-write "
        "--from 2026-12-04T20:00:00Z --to 2026-12-04T20:10:00Z",
    ),
)
@SOURCE
@TARGET
@TOPICS
@EXCLUDE
@click.option("--report", default=None, help="Write the JSON report here.")
@WORKERS
@SOURCE_CONFIG
@TARGET_CONFIG
@click.option(
    "--mode",
    type=click.Choice(["copy", "dual-write"]),
    default="copy",
    show_default=True,
    help="copy: partitions in offset order; dual-write: the records both received in a window.",
)
@click.option(
    "--from",
    "window_from",
    metavar="TIME",
    default=None,
    help="dual-write: window start (epoch ms or ISO-8601).",
)
@click.option(
    "--to", "window_to", metavar="TIME", default=None, help="dual-write: window end, exclusive."
)
@click.option("--since", hidden=True, default=None, help="Deprecated spelling of --from.")
@click.option("--until", hidden=True, default=None, help="Deprecated spelling of --to.")
@click.option(
    "--tolerance-s",
    type=float,
    default=0.0,
    show_default=True,
    help="dual-write: ignore one-sided records this close (s) to the window's edges.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".kmigrate"),
    show_default=True,
    help="dual-write: the report goes to STATE_DIR/reports without --report.",
)
@DETAILS
@OUTPUT
def verify(
    source: str,
    target: str,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    report: str | None,
    workers: int | None,
    source_config: tuple[str, ...],
    target_config: tuple[str, ...],
    mode: str,
    window_from: str | None,
    window_to: str | None,
    since: str | None,
    until: str | None,
    tolerance_s: float,
    state_dir: Path,
    details: bool,
    output_format: str,
) -> None:
    """Compare counts, offsets and digests per partition; exit 1 on a difference.

    With --mode dual-write: compare, per topic, the records both clusters
    received between --from and --to, independent of partition, order and
    timestamps; exit 1 on a difference.
    """
    _refuse_same_cluster(source, target)
    if since is not None:
        _deprecated("verify --since", "--from")
        window_from = window_from or since
    if until is not None:
        _deprecated("verify --until", "--to (mirror's --until is its stop mode)")
        window_to = window_to or until
    if mode == "dual-write":
        _exit(
            lambda: dual_write_cmd.verify_dual_write(
                source,
                target,
                topics,
                exclude,
                _ui(output_format),
                since=window_from,
                until=window_to,
                tolerance_s=tolerance_s,
                state_dir=state_dir,
                report=report,
                source_config=source_config,
                target_config=target_config,
            )
        )
    if window_from is not None or window_to is not None:
        raise click.UsageError("--from and --to need --mode dual-write")
    _exit(
        lambda: verify_cmd.verify(
            source,
            target,
            topics,
            exclude,
            _ui(output_format, details=details),
            report=report,
            workers=workers,
            source_config=source_config,
            target_config=target_config,
        )
    )


@cli.command(
    "translate-offsets",
    short_help="Set consumer groups' offsets on the target at the next record.",
    epilog=_examples(
        "kmigrate translate-offsets --source src:9092 --target tgt:9092 --dry-run",
        "kmigrate translate-offsets --source src:9092 --target tgt:9092 --group 'billing-*'",
    ),
)
@SOURCE
@TARGET
@click.option(
    "--group",
    "groups",
    multiple=True,
    default=("*",),
    show_default=True,
    help="Consumer group glob to include (repeatable).",
)
@click.option(
    "--exclude-group", "exclude_groups", multiple=True, help="Group glob to exclude (repeatable)."
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".kmigrate"),
    show_default=True,
    help="Where the mirror wrote its offset map (offset-map.json).",
)
@click.option("--dry-run", is_flag=True, help="Show the translation table; change nothing.")
@OUTPUT
@SOURCE_CONFIG
@TARGET_CONFIG
def translate_offsets(
    source: str,
    target: str,
    groups: tuple[str, ...],
    exclude_groups: tuple[str, ...],
    state_dir: Path,
    dry_run: bool,
    output_format: str,
    source_config: tuple[str, ...],
    target_config: tuple[str, ...],
) -> None:
    """Set consumer groups' offsets on the target at exactly the next record."""
    _refuse_same_cluster(source, target)
    _exit(
        lambda: translate_cmd.translate_offsets(
            source,
            target,
            _ui(output_format),
            groups=groups,
            exclude_groups=exclude_groups,
            state_dir=state_dir,
            dry_run=dry_run,
            source_config=source_config,
            target_config=target_config,
        )
    )


@cli.group(
    short_help="Start, fill or stop two local brokers (source and target).",
    epilog=_examples(
        "kmigrate sandbox up",
        "kmigrate sandbox seed --records 500",
        "kmigrate sandbox produce --rate 200 --duration 30",
        "kmigrate sandbox down",
    ),
)
def sandbox() -> None:
    """Two local brokers (source and target) on loopback."""


SANDBOX_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=sandbox_cmd.DEFAULT_DIR,
    show_default=True,
)


@sandbox.command(
    "up",
    short_help="Start the two brokers on loopback.",
    epilog=_examples(
        "kmigrate sandbox up", "kmigrate sandbox up --source-port 19093 --target-port 29093"
    ),
)
@click.option("--source-port", type=click.IntRange(1, 65535), default=19092, show_default=True)
@click.option(
    "--target-port",
    type=click.IntRange(1, 65535),
    default=29092,
    show_default=True,
    help="The target's port (apache-kafka: its first node's; the others take the next ports).",
)
@click.option(
    "--broker",
    type=click.Choice(sandbox_cmd.BROKER_KINDS),
    default="tansu",
    show_default=True,
    help="tansu: two in-memory brokers in a second.  apache-kafka: real Apache Kafka "
    "from Maven Central (java and mvn needed): a ZooKeeper-mode source and a 3-node "
    "KRaft target with SASL_SSL, ACLs, RF 3.",
)
@SANDBOX_DIR
def sandbox_up(source_port: int, target_port: int, broker: str, state_dir: Path) -> None:
    """Start the two brokers."""
    if source_port == target_port:
        raise click.BadOptionUsage(
            "target_port", f"--target-port {target_port} is the same as --source-port"
        )
    _exit(
        lambda: sandbox_cmd.up(
            _ui(),
            source_port=source_port,
            target_port=target_port,
            state_dir=state_dir,
            broker=broker,
        )
    )


@sandbox.command(
    "seed",
    short_help="Fill the source with realistic records and a consumer group.",
    epilog=_examples(
        "kmigrate sandbox seed", "kmigrate sandbox seed -b 127.0.0.1:19093 --records 500"
    ),
)
@one_cluster_option("source", default="127.0.0.1:19092")
@click.option(
    "--records", type=click.IntRange(1), default=2000, show_default=True, help="Records per topic."
)
def sandbox_seed(bootstrap: str | None, old_bootstrap: str | None, records: int) -> None:
    """Fill the source with realistic traffic."""
    source = _one_cluster("source", bootstrap, old_bootstrap)
    _exit(lambda: sandbox_cmd.seed(_ui(), bootstrap_servers=source, records=records))


@sandbox.command(
    "produce",
    short_help="Produce live records to the seed topics until stopped.",
    epilog=_examples(
        "kmigrate sandbox produce --rate 200", "kmigrate sandbox produce --rate 1000 --duration 60"
    ),
)
@one_cluster_option("source", default="127.0.0.1:19092")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=100.0,
    show_default=True,
    help="Records per second, over all seed topics.",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds (default: until Ctrl-C).",
)
def sandbox_produce(
    bootstrap: str | None, old_bootstrap: str | None, rate: float, duration_s: float | None
) -> None:
    """Produce live records to the seed topics (until Ctrl-C or --duration)."""
    source = _one_cluster("source", bootstrap, old_bootstrap)
    _exit(
        lambda: sandbox_cmd.produce(
            _ui(), bootstrap_servers=source, rate=rate, duration_s=duration_s
        )
    )


@sandbox.command(
    "down", short_help="Stop the two brokers.", epilog=_examples("kmigrate sandbox down")
)
@SANDBOX_DIR
def sandbox_down(state_dir: Path) -> None:
    """Stop the two brokers."""
    _exit(lambda: sandbox_cmd.down(_ui(), state_dir=state_dir))


@cli.command(
    short_help="Run a whole migration between two throwaway local brokers.",
    epilog=_examples("kmigrate demo", "kmigrate demo --records 500 --keep demo-state/"),
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Sandbox plan (default: the one shipped in the package, kmigrate/data/sandbox.yaml).",
)
@click.option(
    "--records",
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Records seeded per topic.",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the journal and reports in this folder.",
)
def demo(plan_path: Path | None, records: int, keep: Path | None) -> None:
    """Run a whole migration between two throwaway local brokers."""
    _exit(lambda: demo_cmd.demo(_ui(yes=True), plan_path=plan_path, records=records, keep=keep))


@cli.command(
    "mm2-config",
    short_help="Write the plan's MirrorMaker 2 connector configs (Connect, Strimzi, MSK Connect).",
    epilog=_examples(
        "kmigrate mm2-config plans/my-migration.yaml --format connect-rest",
        "kmigrate mm2-config plans/my-migration.yaml --format strimzi -o mm2.yaml",
        "kmigrate mm2-config plans/my-migration.yaml --format msk-connect "
        "--msk-role-arn ARN --msk-plugin-arn ARN --msk-subnet subnet-1",
    ),
)
@PLAN
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["connect-rest", "strimzi", "msk-connect"]),
    required=True,
    help="connect-rest: connector JSON; strimzi: a KafkaMirrorMaker2; msk-connect: "
    "create_connector requests.",
)
@click.option("-o", "--out", default=None, help="Write to this file (0600), not stdout.")
@click.option(
    "--tasks-max",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Tasks of the source connector (each copies a share of the partitions).",
)
@click.option("--checkpoints", is_flag=True, help="Add the MirrorCheckpointConnector.")
@click.option("--exactly-once", is_flag=True, help="The Connect cluster has EOS (KIP-618).")
@click.option("--msk-role-arn", default=None, help="msk-connect: service execution role.")
@click.option("--msk-plugin-arn", default=None, help="msk-connect: plugin with connect-mirror.")
@click.option("--msk-subnet", multiple=True, help="msk-connect: a subnet (repeat).")
@click.option("--msk-security-group", multiple=True, help="msk-connect: a group (repeat).")
@click.option("--msk-secret-id", default="kmigrate", show_default=True, help="Secrets Manager id.")
def mm2_config(plan_path: str, fmt: str, **options: Any) -> None:
    """Print the plan's MirrorMaker 2 connector configs in a format for GitOps; secrets
    stay references.  Touches no cluster."""
    for key in ("msk_subnet", "msk_security_group"):
        options[key + "s"] = tuple(options.pop(key))
    _exit(lambda: mm2_config_cmd.mm2_config(plan_path, fmt, _ui("json"), click.echo, **options))


@cli.command(
    short_help="Print the shell completion script for bash, zsh or fish.",
    epilog=_examples(
        "kmigrate completion bash >> ~/.bashrc",
        "kmigrate completion zsh > ~/.zfunc/_kmigrate",
        "kmigrate completion fish > ~/.config/fish/completions/kmigrate.fish",
    ),
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script of SHELL (click's shell completion): put it
    where the shell reads it at start."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the choice lists only shells click knows
    click.echo(cls(cli, {}, "kmigrate", "_KMIGRATE_COMPLETE").source())


def main() -> None:
    """Entry point: click usage errors exit 2, like invalid plans."""
    cli(prog_name="kmigrate")

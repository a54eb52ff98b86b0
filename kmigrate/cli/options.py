"""What the command modules share: option declarations, the checks of bootstrap
servers and option combinations, ``--help`` examples, and how a command's UI is made
and its exit code returned."""

from __future__ import annotations

import sys
from typing import Any

import click
from click.core import ParameterSource

from kmigrate import error_handler
from kmigrate.plan.checks import bootstrap_problem
from kmigrate.ui import UI


def check_bootstrap(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check a bootstrap-servers option with the plan's own rule (``host:port[,…]``)."""
    if value is None:
        return value
    why = bootstrap_problem(value)
    if why:
        raise click.BadParameter(why)
    return ",".join(part.strip() for part in value.split(","))


def same_cluster(first: str, second: str) -> bool:
    """True when two bootstrap lists share a host:port (the same cluster, most likely)."""
    return bool(
        {p.strip().lower() for p in first.split(",")}
        & {p.strip().lower() for p in second.split(",")}
    )


def refuse_same_cluster(source: str, target: str) -> None:
    """Refuse a ``--target`` that names a broker of ``--source``.

    Raises:
        click.BadOptionUsage: they share a host:port.
    """
    if same_cluster(source, target):
        raise click.BadOptionUsage(
            "target",
            f"--target {target!r} names the same broker as --source {source!r}; "
            "kmigrate never writes to the source, and a cluster compared with itself "
            "proves nothing",
        )


def refuse_yes_with_dry_run(yes: bool, dry_run: bool) -> None:
    """Refuse ``--yes`` with ``--dry-run`` (a dry run asks nothing).

    Raises:
        click.BadOptionUsage: both given.
    """
    if yes and dry_run:
        raise click.BadOptionUsage(
            "yes", "--yes has no effect with --dry-run: a dry run asks no confirmation"
        )


def examples(*commands: str) -> str:
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


def deprecated(old: str, new: str) -> None:
    """Warn on stderr that option ``old`` is deprecated in favour of ``new``."""
    click.echo(f"warning: {old} is deprecated; use {new}", err=True)


def one_cluster(role: str, value: str | None, old: str | None) -> str:
    """The bootstrap servers of the one cluster a command talks to: ``--{role}``
    (or ``--bootstrap-server`` / ``-b``), or the deprecated ``--bootstrap-servers``.

    Raises:
        click.MissingParameter: none given.
    """
    if old is not None:
        deprecated("--bootstrap-servers", f"--{role} (or --bootstrap-server, -b)")
        ctx = click.get_current_context()
        checked = check_bootstrap(ctx, None, old)  # type: ignore[arg-type]
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
            callback=check_bootstrap,
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


def source_type_option(*names: str) -> Any:
    """The source's type, ``kafka`` (the default) or ``redpanda``, under ``names``
    (click's option declarations: the flag, and the parameter name where it differs)."""
    return click.option(
        *names,
        type=click.Choice(["kafka", "redpanda"]),
        default="kafka",
        show_default=True,
        help="Source type (decides stock defaults).",
    )


SOURCE = click.option(
    "--source",
    required=True,
    metavar="HOST:PORT[,…]",
    callback=check_bootstrap,
    help="Source bootstrap servers.",
)
TARGET = click.option(
    "--target",
    required=True,
    metavar="HOST:PORT[,…]",
    callback=check_bootstrap,
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


def make_ui(
    output_format: str = "text",
    yes: bool = False,
    yes_recorded: bool = False,
    details: bool = False,
) -> UI:
    """The :class:`~kmigrate.ui.UI` for a command's output options."""
    return UI(
        json_mode=output_format == "json",
        assume_yes=yes,
        assume_yes_recorded=yes_recorded,
        details=details,
    )


def exit_with(func: Any) -> None:
    """Run ``func`` (a command returning an exit code) and exit with that code
    (errors as :func:`kmigrate.error_handler.run` maps them)."""
    sys.exit(error_handler.run(func))


WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Processes to shard the partitions over (default: the number of CPUs).",
)


#: ``--settle-s``'s default (seconds); a command that refuses ``--settle-s`` without
#: ``--follow`` tells a given value from this one.
SETTLE_S_DEFAULT = 5.0


def follow_options(
    *, follow_help: str, until_default: str | None, until_help: str, settle_help: str
) -> Any:
    """``--follow``, ``--until caught-up|stopped``, ``--settle-s`` (seconds, default
    :data:`SETTLE_S_DEFAULT`) and ``--max-duration`` (seconds), in that order, as
    ``mirror`` and ``verify`` declare them; each command keeps its own help texts and
    ``--until`` default (shown in ``--help`` when not None)."""
    stacked = (
        click.option("--follow", is_flag=True, help=follow_help),
        click.option(
            "--until",
            type=click.Choice(["caught-up", "stopped"]),
            default=until_default,
            show_default=until_default is not None,
            help=until_help,
        ),
        click.option(
            "--settle-s",
            type=click.FloatRange(min=0),
            default=SETTLE_S_DEFAULT,
            show_default=True,
            help=settle_help,
        ),
        click.option(
            "--max-duration",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="With --follow: stop after this many seconds.",
        ),
    )

    def decorate(func: Any) -> Any:
        for option in reversed(stacked):
            func = option(func)
        return func

    return decorate


#: On a command that writes a file: ``--output`` given as that file is refused, naming
#: ``-o/--out`` (``--output`` is a format, text or json, on every command).
OUTPUT_IS_NOT_A_FILE = click.option(
    "--output",
    "output_format",
    hidden=True,
    default=None,
    help="Not a file here: --output is a format elsewhere; the file is -o/--out.",
)


def refuse_output_file(value: str | None, what: str) -> None:
    """Refuse (exit 2) ``--output VALUE`` on a command whose file is ``-o/--out``."""
    if value is not None:
        raise click.BadOptionUsage(
            "output",
            "--output is a format (text or json) on other commands; "
            f"write {what} to a file with -o/--out {value}",
        )

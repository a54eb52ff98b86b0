"""The commands that run one step's code without a plan or journal: ``export``,
``provision``, ``mirror``, ``verify`` (and its dual-write mode) and ``translate-offsets``."""

from __future__ import annotations

from pathlib import Path

import click

from kmigrate.cli.group import cli
from kmigrate.cli.options import (
    DETAILS,
    EXCLUDE,
    OUTPUT,
    OUTPUT_IS_NOT_A_FILE,
    SETTLE_S_DEFAULT,
    SHARED_STATE,
    SOURCE,
    SOURCE_CONFIG,
    TARGET,
    TARGET_CONFIG,
    TOPICS,
    WORKERS,
    deprecated,
    examples,
    exit_with,
    follow_options,
    make_ui,
    one_cluster,
    one_cluster_option,
    refuse_output_file,
    refuse_same_cluster,
    source_type_option,
)
from kmigrate.commands import dual_write as dual_write_cmd
from kmigrate.commands import export as export_cmd
from kmigrate.commands import mirror as mirror_cmd
from kmigrate.commands import provision as provision_cmd
from kmigrate.commands import translate_offsets as translate_cmd
from kmigrate.commands import verify as verify_cmd


@cli.command(
    short_help="Snapshot topic configs and consumer group offsets as YAML.",
    epilog=examples(
        "kmigrate export --source 127.0.0.1:19092 -o topics.yaml",
        "kmigrate export -b kafka-1:9092 --topic 'orders-*' --no-consumer-groups",
        "kmigrate export -b kafka-1:9093 -X 'sasl.password=${KAFKA_PW}' -o topics.yaml",
    ),
)
@one_cluster_option("source")
@TOPICS
@EXCLUDE
@source_type_option("--type", "source_type")
@click.option(
    "--out", "-o", "output", default=None, metavar="FILE", help="Snapshot file (default: print it)."
)
@OUTPUT_IS_NOT_A_FILE
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
    """Snapshot topic configs, consumer group offsets and ACL bindings as YAML."""
    refuse_output_file(output_format, "the snapshot")
    source = one_cluster("source", bootstrap, old_bootstrap)
    exit_with(
        lambda: export_cmd.export(
            source,
            topics,
            exclude,
            output,
            make_ui(),
            source_type=source_type,
            consumer_groups=not no_consumer_groups,
            source_config=source_config,
        )
    )


@cli.command(
    short_help="Create a snapshot's topics on a target; never alters existing ones.",
    epilog=examples(
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
    target = one_cluster("target", bootstrap, old_bootstrap)
    exit_with(
        lambda: provision_cmd.provision(
            snapshot,
            target,
            make_ui(output_format, details=details),
            dry_run=dry_run,
            target_config=target_config,
            replication_factor=replication_factor,
        )
    )


@cli.command(
    short_help="Copy the source's records to the same partitions of the target.",
    epilog=examples(
        "kmigrate mirror --source src:9092 --target tgt:9092",
        "kmigrate mirror --source src:9092 --target tgt:9092 --topic 'orders-*' --dry-run",
        "kmigrate mirror --source src:9092 --target tgt:9092 --follow --until stopped",
        "kmigrate mirror --source src:9092 --target tgt:9092 --details",
        "kmigrate mirror --source src:9092 --target tgt:9092 --engine mirrormaker2 "
        "--connect-url http://connect:8083 --tasks-max 4",
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
@follow_options(
    follow_help="Keep copying new records until --until says stop (default: copy what is there).",
    until_default="caught-up",
    until_help="With --follow: stop once lag is 0 for --settle-s, or only on Ctrl-C / SIGTERM.",
    settle_help="With --until caught-up: seconds of lag 0 on every partition before stopping.",
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
@click.option(
    "--engine",
    type=click.Choice(["native", "mirrormaker2"]),
    default="native",
    show_default=True,
    help="native: kmigrate copies; mirrormaker2: MirrorMaker 2 connectors on --connect-url.",
)
@click.option(
    "--connect-url",
    default=None,
    help="With --engine mirrormaker2: the Kafka Connect REST API (http://host:8083).",
)
@click.option(
    "--tasks-max",
    type=click.IntRange(min=1),
    default=None,
    help="With --engine mirrormaker2: tasks of the MirrorSourceConnector (default 1).",
)
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
    engine: str,
    connect_url: str | None,
    tasks_max: int | None,
) -> None:
    """Copy the source's records to the same partitions (resuming from --state-dir)."""
    refuse_same_cluster(source, target)
    exit_with(
        lambda: mirror_cmd.mirror(
            source,
            target,
            topics,
            exclude,
            make_ui(output_format, details=details),
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
            engine=(engine, connect_url, tasks_max),
        )
    )


@cli.command(
    short_help="Compare both clusters partition by partition; exit 1 on a difference.",
    epilog=examples(
        "kmigrate verify --source src:9092 --target tgt:9092",
        "kmigrate verify --source src:9092 --target tgt:9092 --report verify.json --details",
        "kmigrate verify --source src:9092 --target tgt:9092 --mode dual-write "
        "--from 2026-12-04T20:00:00Z --to 2026-12-04T20:10:00Z",
        "kmigrate verify --source src:9092 --target tgt:9092 --state-dir .kmigrate "
        "--follow --until stopped",
        "kmigrate verify --source src:9092 --target tgt:9092 --state-dir .kmigrate",
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
@follow_options(
    follow_help="Verify behind a running mirror, checkpointing the proven ranges in --state-dir.",
    until_default=None,
    until_help="With --follow: stop once every partition is proven up to both high watermarks "
    "for --settle-s (caught-up, the default), or only on Ctrl-C / SIGTERM (stopped).",
    settle_help="With --until caught-up: seconds every partition stays proven to its end.",
)
@click.option(
    "--full",
    is_flag=True,
    help="With --state-dir: read everything again instead of reusing the proven ranges.",
)
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
    help="Reuse and extend the proven ranges kept here (verify-proof.json), through the "
    "mirror's offset map when it holds one; dual-write: the report goes to STATE_DIR/reports.",
)
@SHARED_STATE
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
    follow: bool,
    until: str | None,
    settle_s: float,
    max_duration: float | None,
    full: bool,
    tolerance_s: float,
    state_dir: Path,
    allow_shared_state: bool,
    details: bool,
    output_format: str,
) -> None:
    """Compare counts, offsets and digests per partition; exit 1 on a difference.

    With --mode dual-write: compare, per topic, the records both clusters
    received between --from and --to, independent of partition, order and
    timestamps; exit 1 on a difference.

    With --state-dir: read only what the proven ranges kept there do not
    cover (after re-checking them); with --follow: verify behind the mirror.
    """
    refuse_same_cluster(source, target)
    if since is not None:
        deprecated("verify --since", "--from")
        window_from = window_from or since
    explicit = _follow_options_checked(follow, until, settle_s, max_duration, full)
    if mode == "dual-write":
        exit_with(
            lambda: dual_write_cmd.verify_dual_write(
                source,
                target,
                topics,
                exclude,
                make_ui(output_format),
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
    exit_with(
        lambda: verify_cmd.verify(
            source,
            target,
            topics,
            exclude,
            make_ui(output_format, details=details),
            report=report,
            workers=workers,
            source_config=source_config,
            target_config=target_config,
            state_dir=state_dir if explicit or follow else None,
            full=full,
            follow=follow,
            until=until or "caught-up",
            settle_s=settle_s,
            max_duration=max_duration,
            allow_shared_state=allow_shared_state,
        )
    )


def _follow_options_checked(
    follow: bool, until: str | None, settle_s: float, max_duration: float | None, full: bool
) -> bool:
    """Refuse verify's follow options without ``--follow`` and ``--full`` without an
    explicit ``--state-dir``; returns whether ``--state-dir`` was given.

    Raises:
        click.UsageError: an option given without the one it needs (exit 2).
    """
    given = click.get_current_context().get_parameter_source("state_dir")
    explicit = given is not None and given != click.core.ParameterSource.DEFAULT
    if not follow:
        for name, used in (
            ("--until", until is not None),
            ("--settle-s", settle_s != SETTLE_S_DEFAULT),
            ("--max-duration", max_duration is not None),
        ):
            if used:
                raise click.UsageError(f"{name} needs --follow")
    if full and not explicit:
        raise click.UsageError("--full needs --state-dir (without it verify reads everything)")
    return explicit


@cli.command(
    "translate-offsets",
    short_help="Set consumer groups' offsets on the target at the next record.",
    epilog=examples(
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
    refuse_same_cluster(source, target)
    exit_with(
        lambda: translate_cmd.translate_offsets(
            source,
            target,
            make_ui(output_format),
            groups=groups,
            exclude_groups=exclude_groups,
            state_dir=state_dir,
            dry_run=dry_run,
            source_config=source_config,
            target_config=target_config,
        )
    )

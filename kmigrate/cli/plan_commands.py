"""The commands that work from a plan: ``init`` (which writes one), ``plan``,
``execute``, ``rollback``, ``status``, ``report`` and ``mm2-config``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kmigrate.cli.group import cli
from kmigrate.cli.options import (
    EXCLUDE,
    OUTPUT,
    OUTPUT_IS_NOT_A_FILE,
    PLAN,
    SHARED_STATE,
    SOURCE_CONFIG,
    TOPICS,
    examples,
    exit_with,
    make_ui,
    one_cluster,
    one_cluster_option,
    refuse_output_file,
    refuse_yes_with_dry_run,
    source_type_option,
)
from kmigrate.commands import execute as execute_cmd
from kmigrate.commands import init as init_cmd
from kmigrate.commands import mm2_config as mm2_config_cmd
from kmigrate.commands import plan as plan_cmd
from kmigrate.commands import report as report_cmd
from kmigrate.commands import rollback as rollback_cmd
from kmigrate.commands import status as status_cmd


@cli.command(
    short_help="Write a commented plan (and a snapshot) from a live source cluster.",
    epilog=examples(
        "kmigrate init --source 127.0.0.1:19092 --target-type msk -o plan.yaml",
        "kmigrate init -b kafka-1:9093 -X security.protocol=SASL_SSL "
        "-X 'sasl.password=${KAFKA_PW}' --target-type confluent-cloud",
    ),
)
@one_cluster_option("source")
@TOPICS
@EXCLUDE
@source_type_option("--source-type")
@click.option(
    "--target-type",
    type=click.Choice(["msk", "eventhubs", "confluent-cloud", "kafka"]),
    required=True,
    help="The managed service (or Kafka) to migrate to.",
)
@click.option(
    "--out",
    "-o",
    "output",
    default="plan.yaml",
    show_default=True,
    metavar="FILE",
    help="The plan file; the snapshot goes beside it (NAME.snapshot.yaml).",
)
@OUTPUT_IS_NOT_A_FILE
@click.option("--force", is_flag=True, help="Replace an existing plan and snapshot.")
@SOURCE_CONFIG
def init(
    bootstrap: str | None,
    old_bootstrap: str | None,
    topics: tuple[str, ...],
    exclude: tuple[str, ...],
    source_type: str,
    target_type: str,
    output: str,
    output_format: str | None,
    force: bool,
    source_config: tuple[str, ...],
) -> None:
    """Write a commented plan, every phase with its rollback, and a snapshot beside it,
    from what a live source holds (topics, configs, consumer groups, ACLs)."""
    refuse_output_file(output_format, "the plan")
    source = one_cluster("source", bootstrap, old_bootstrap)
    exit_with(
        lambda: init_cmd.init(
            source,
            target_type,
            output,
            make_ui(),
            source_type=source_type,
            source_config=source_config,
            topics=topics,
            exclude=exclude,
            force=force,
        )
    )


@cli.command(
    short_help="Show the checklist and what provisioning would do; changes nothing.",
    epilog=examples(
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
    exit_with(
        lambda: plan_cmd.plan(
            plan_path, make_ui(output_format), offline=offline, snapshot_path=snapshot_path
        )
    )


@cli.command(
    short_help="Run one phase of the plan, resuming where a run stopped.",
    epilog=examples(
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
    refuse_yes_with_dry_run(yes, dry_run)
    exit_with(
        lambda: execute_cmd.execute(
            plan_path,
            phase,
            make_ui(yes=yes),
            force=force,
            ignore_window=ignore_window,
            dry_run=dry_run,
            rerun=rerun,
            allow_shared_state=allow_shared_state,
        )
    )


@cli.command(
    short_help="Undo what kmigrate did, newest first, from the journal.",
    epilog=examples(
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
    refuse_yes_with_dry_run(yes, dry_run)
    exit_with(
        lambda: rollback_cmd.rollback(
            plan_path,
            make_ui(yes=yes, yes_recorded=yes_recorded_commands),
            phase=phase,
            dry_run=dry_run,
            use_plan_rollback=use_plan_rollback,
            allow_shared_state=allow_shared_state,
        )
    )


@cli.command(
    short_help="Show each step's outcome, when and by whom, from the journal.",
    epilog=examples(
        "kmigrate status plans/my-migration.yaml",
        "kmigrate status plans/my-migration.yaml --output json",
    ),
)
@PLAN
@OUTPUT
@SHARED_STATE
def status(plan_path: str, output_format: str, allow_shared_state: bool) -> None:
    """Show the journal: each step, its outcome, when and by whom."""
    exit_with(
        lambda: status_cmd.status(
            plan_path, make_ui(output_format), allow_shared_state=allow_shared_state
        )
    )


@cli.command(
    short_help="Write the evidence report (HTML and JSON) from the journal.",
    epilog=examples(
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
    exit_with(
        lambda: report_cmd.report(
            plan_path,
            make_ui(output_format),
            output_dir=output_dir,
            allow_shared_state=allow_shared_state,
        )
    )


@cli.command(
    "mm2-config",
    short_help="Write the plan's MirrorMaker 2 connector configs (Connect, Strimzi, MSK Connect).",
    epilog=examples(
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
    exit_with(
        lambda: mm2_config_cmd.mm2_config(plan_path, fmt, make_ui("json"), click.echo, **options)
    )

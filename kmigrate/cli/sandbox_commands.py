"""The commands around two local brokers: ``sandbox up|seed|produce|down`` and ``demo``."""

from __future__ import annotations

from pathlib import Path

import click

from kmigrate.cli.group import cli
from kmigrate.cli.options import (
    examples,
    exit_with,
    make_ui,
    one_cluster,
    one_cluster_option,
)
from kmigrate.commands import demo as demo_cmd
from kmigrate.commands import sandbox as sandbox_cmd


@cli.group(
    short_help="Start, fill or stop two local brokers (source and target).",
    epilog=examples(
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
    epilog=examples(
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
    exit_with(
        lambda: sandbox_cmd.up(
            make_ui(),
            source_port=source_port,
            target_port=target_port,
            state_dir=state_dir,
            broker=broker,
        )
    )


@sandbox.command(
    "seed",
    short_help="Fill the source with realistic records and a consumer group.",
    epilog=examples(
        "kmigrate sandbox seed", "kmigrate sandbox seed -b 127.0.0.1:19093 --records 500"
    ),
)
@one_cluster_option("source", default="127.0.0.1:19092")
@click.option(
    "--records", type=click.IntRange(1), default=2000, show_default=True, help="Records per topic."
)
def sandbox_seed(bootstrap: str | None, old_bootstrap: str | None, records: int) -> None:
    """Fill the source with realistic traffic."""
    source = one_cluster("source", bootstrap, old_bootstrap)
    exit_with(lambda: sandbox_cmd.seed(make_ui(), bootstrap_servers=source, records=records))


@sandbox.command(
    "produce",
    short_help="Produce live records to the seed topics until stopped.",
    epilog=examples(
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
    source = one_cluster("source", bootstrap, old_bootstrap)
    exit_with(
        lambda: sandbox_cmd.produce(
            make_ui(), bootstrap_servers=source, rate=rate, duration_s=duration_s
        )
    )


@sandbox.command(
    "down", short_help="Stop the two brokers.", epilog=examples("kmigrate sandbox down")
)
@SANDBOX_DIR
def sandbox_down(state_dir: Path) -> None:
    """Stop the two brokers."""
    exit_with(lambda: sandbox_cmd.down(make_ui(), state_dir=state_dir))


@cli.command(
    short_help="Run a whole migration between two throwaway local brokers.",
    epilog=examples("kmigrate demo", "kmigrate demo --records 500 --keep demo-state/"),
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
    exit_with(
        lambda: demo_cmd.demo(make_ui(yes=True), plan_path=plan_path, records=records, keep=keep)
    )

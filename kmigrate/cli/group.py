"""The ``kmigrate`` command group, its shell completion and the entry point."""

from __future__ import annotations

import click

from kmigrate import __version__
from kmigrate.cli.options import examples


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=examples(
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
    short_help="Print the shell completion script for bash, zsh or fish.",
    epilog=examples(
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

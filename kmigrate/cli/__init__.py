"""The command line: parses arguments, calls a command function, exits with its code.

Only this package and :mod:`kmigrate.ui` import click.  Every command is a plain
function in :mod:`kmigrate.commands` that returns an exit code, so it can be
called from Python and from tests.  One module per group of commands:
:mod:`.plan_commands` (from a plan), :mod:`.data_commands` (one step's code without
a plan), :mod:`.sandbox_commands` (local brokers, the demo); :mod:`.group` holds the
``kmigrate`` group, completion and :func:`main`; :mod:`.options` what they share.
"""

from __future__ import annotations

# Importing the command modules registers their commands on the group.
from kmigrate.cli import data_commands, plan_commands, sandbox_commands
from kmigrate.cli.group import cli, main

__all__ = ["cli", "data_commands", "main", "plan_commands", "sandbox_commands"]

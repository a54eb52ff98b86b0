"""The ``kmigrate`` console script's entry point.

It imports the command line (click, the plan schema, every command: about
0.3-0.7 s) inside its own Ctrl-C handling, so that an operator who presses
Ctrl-C while it loads gets one line and exit code 130, as at any later
moment (:mod:`kmigrate.error_handler`), never a traceback.  Nothing has
started then: no cluster was contacted and the journal was not opened.
"""

from __future__ import annotations

import sys

#: Exit code of an interrupted command (128 + SIGINT), as ``error_handler.INTERRUPTED``.
INTERRUPTED = 130


def main() -> None:
    """Import :mod:`kmigrate.cli` and run it; Ctrl-C while importing exits 130."""
    try:
        from kmigrate.cli import main as cli_main
    except KeyboardInterrupt:
        print("interrupted while starting: nothing was done", file=sys.stderr)
        sys.exit(INTERRUPTED)
    cli_main()

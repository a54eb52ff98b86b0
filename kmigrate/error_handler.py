"""The one place where outcomes become exit codes.

0 ok; 1 a step failed or verification found a difference; 2 invalid plan or
usage; 3 internal error (traceback written to a log file, whose path is
printed); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import textwrap
import traceback
from collections.abc import Callable
from pathlib import Path

from kmigrate import safefs
from kmigrate.errors import KmigrateError, PlanError, UsageError
from kmigrate.escape import escape_controls
from kmigrate.logs import log_path
from kmigrate.redact import redact, redact_argv, take_short_warnings

INTERRUPTED = 130
INTERNAL = 3


def _say(text: str) -> None:
    """Print to stderr: secret values resolved in this process masked, control characters
    escaped, wrapped to the terminal's width when stderr is one (a log keeps whole
    lines); a warning about a short secret first."""
    for warning in take_short_warnings():
        print(f"warning: {warning}", file=sys.stderr)
    text = escape_controls(redact(text), keep_lines=True)
    if sys.stderr.isatty():
        width = max(shutil.get_terminal_size((100, 24)).columns, 40)
        text = "\n".join(
            textwrap.fill(line, width, subsequent_indent="    ", break_on_hyphens=False)
            if len(line) > width
            else line
            for line in text.split("\n")
        )
    print(text, file=sys.stderr)


def run(func: Callable[[], int]) -> int:
    """Call ``func`` and map its outcome to an exit code, printing one clear message."""
    try:
        return func()
    except PlanError as exc:
        _say(f"invalid input:\n{exc}")
        return exc.exit_code
    except UsageError as exc:
        _say(f"usage error: {exc}")
        return exc.exit_code
    except KmigrateError as exc:
        # An outcome with exit code 0 (a requested stop) is not a failure.
        _say(f"{'stopped' if exc.exit_code == 0 else 'FAILED'}: {exc}")
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (``kmigrate status | head``): stop quietly.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - flushed at exit
        return 1
    except KeyboardInterrupt:
        _say("interrupted (the journal records where it stopped)")
        return INTERRUPTED
    except Exception as exc:
        path = log_path()
        try:
            # 0600 in a folder created 0700; never through a symlink, FIFO or another's file.
            with safefs.open_append(path) as log:
                log.write(f"--- kmigrate {redact_argv(sys.argv[1:])}\n")
                log.write(redact(traceback.format_exc()))
        except safefs.UnsafeFileError as unsafe:
            path = Path(f"(log not written: {unsafe})")
        except OSError:
            path = Path("(log not writable)")
        _say(
            f"internal error: {type(exc).__name__}: {exc}\n"
            f"the traceback is in {path}; please report it"
        )
        return INTERNAL

"""All terminal output: status lines, tables, progress bars, confirmations, JSON.

Commands and steps never print directly; they call a :class:`UI`.  With
``json_mode`` the human lines go to stderr and the command prints one JSON
document on stdout, with the same facts.

Every text passes through :func:`clean` on its way out: secret values resolved
in this process are masked (:func:`kmigrate.redact.redact`) and control
characters escaped (:func:`kmigrate.escape.escape_controls`), so neither a
secret nor a record key's terminal escape reaches the terminal.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import click
from tabulate import tabulate

from kmigrate import redact
from kmigrate.escape import escape_controls


def clean(text: str, *, keep_lines: bool = True) -> str:
    """``text`` as it may be shown: secrets masked, control characters escaped."""
    return escape_controls(redact.redact(text), keep_lines=keep_lines)


def human_bytes(n: float) -> str:
    """``1536`` → ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class Progress:
    """A progress bar over records: shows records, bytes and records/s."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self.records = 0
        self.bytes = 0
        self._t0 = time.monotonic()
        self._pending = 0
        #: Extra text after the counts (e.g. a following mirror's lag per topic).
        self.note = ""
        #: Without a bar (not a terminal): where :meth:`show` writes a line,
        #: at most every ``echo_every_s`` seconds.
        self.echo: Any = None
        self.echo_every_s = 10.0
        self._echoed = time.monotonic()

    def advance(self, records: int, nbytes: int) -> None:
        """Count ``records`` more records of ``nbytes`` bytes."""
        self.records += records
        self.bytes += nbytes
        self._pending += records
        if self._bar is not None and self._pending >= 2000:
            self._bar.update(self._pending)
            self._pending = 0

    def show(self, note: str) -> None:
        """Set the note (``lag: orders 120 records, 0.4 s``) and redraw the bar.

        Meant for a few calls per second, not one per record.
        """
        self.note = note
        if self._bar is not None:
            self._bar.update(self._pending)
            self._pending = 0
        elif self.echo is not None and time.monotonic() - self._echoed >= self.echo_every_s:
            self._echoed = time.monotonic()
            self.echo(self.text())

    def finish(self) -> None:
        """Move the bar to what was counted but not drawn yet."""
        if self._bar is not None and self._pending:
            self._bar.update(self._pending)
            self._pending = 0

    def rate(self) -> float:
        """Records per second so far."""
        return self.records / max(time.monotonic() - self._t0, 1e-9)

    def text(self) -> str:
        """``12,000 records, 2.3 MiB, 85,000 rec/s``."""
        size = f", {human_bytes(self.bytes)}" if self.bytes else ""
        note = f"; {self.note}" if self.note else ""
        return f"{self.records:,} records{size}, {self.rate():,.0f} rec/s{note}"


class UI:
    """Terminal output of one command run.

    Args:
        json_mode: print facts as JSON on stdout; human lines go to stderr.
        assume_yes: answer every confirmation with yes (``--yes``).
        assume_yes_recorded: also answer :meth:`confirm_recorded` with yes
            (``--yes-recorded-commands``).
        interactive: whether a person can answer prompts (stdin is a TTY).
        out: where human output goes (default stdout, or stderr in JSON mode).
    """

    def __init__(
        self,
        *,
        json_mode: bool = False,
        assume_yes: bool = False,
        assume_yes_recorded: bool = False,
        interactive: bool | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.assume_yes = assume_yes
        self.assume_yes_recorded = assume_yes_recorded
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self._out = out

    @property
    def out(self) -> TextIO:
        """Where human lines go: stdout, or stderr in JSON mode."""
        if self._out is not None:
            return self._out
        return sys.stderr if self.json_mode else sys.stdout

    def _echo(self, text: str, prefix: str = "") -> None:
        """The one way out: warnings about short secrets first, then ``prefix`` + clean text."""
        for warning in redact.take_short_warnings():
            click.echo(click.style("warning: ", fg="yellow") + warning, file=self.out)
        click.echo(prefix + clean(text), file=self.out)

    def line(self, text: str = "") -> None:
        """A plain status line."""
        self._echo(text)

    def heading(self, text: str) -> None:
        """A section heading."""
        self._echo("", click.style(f"\n== {clean(text)}", bold=True))

    def ok(self, text: str) -> None:
        """A success line (``ok …``)."""
        self._echo(text, click.style("ok ", fg="green"))

    def warn(self, text: str) -> None:
        """A warning line (``warning: …``)."""
        self._echo(text, click.style("warning: ", fg="yellow"))

    def fail(self, text: str) -> None:
        """A failure line (``FAILED: …``)."""
        self._echo(text, click.style("FAILED: ", fg="red"))

    def table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
        """A table (tabulate, ``simple`` format); each cell on one line, cleaned."""
        if rows:
            cells = [
                [c if not isinstance(c, str) else clean(c, keep_lines=False) for c in row]
                for row in rows
            ]
            self._echo(
                tabulate(cells, headers=list(headers), tablefmt="simple", disable_numparse=True)
            )
        else:
            self._echo("(none)")

    def emit_json(self, data: Any) -> None:
        """The command's facts as one JSON document on stdout (JSON mode only).

        JSON escapes control characters itself; secret values are masked.
        """
        if self.json_mode:
            click.echo(redact.redact(json.dumps(data, indent=2, sort_keys=True, default=str)))

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Progress]:
        """A progress bar over about ``total`` records (an estimate is fine)."""
        if self.json_mode or not self.out.isatty():
            progress = Progress(None)
            progress.echo = lambda text: self.line(f"{label}: {text}")
            yield progress
            self.line(f"{label}: {progress.text()}")
            return
        with click.progressbar(
            length=max(total, 1), label=clean(label), file=self.out, show_pos=True, width=30
        ) as bar:
            progress = Progress(bar)
            bar.item_show_func = lambda _item: clean(progress.text(), keep_lines=False)
            yield progress
            progress.finish()
        self.line(f"{label}: {progress.text()}")

    def confirm(self, prompt: str) -> bool:
        """Ask a yes/no question; ``--yes`` answers yes.

        Returns False when no one can answer (stdin is not a terminal and no
        ``--yes``), so a step that needs a person never passes unattended.
        """
        return self._ask(prompt, self.assume_yes, "--yes", "pass --yes")

    def confirm_recorded(self, prompt: str) -> bool:
        """Ask before running a command recorded in the journal but not in the plan.

        ``--yes`` does not answer this one (a journal can be changed by whoever
        can write the state folder); ``--yes-recorded-commands`` does.  False
        when no one can answer.
        """
        option, hint = "--yes-recorded-commands", "--yes does not answer this"
        return self._ask(prompt, self.assume_yes_recorded, option, hint)

    def _ask(self, prompt: str, answered: bool, option: str, hint: str) -> bool:
        """Yes when ``answered`` (by ``option``); no when no one can answer (``hint`` why)."""
        if answered:
            self.line(f"{prompt} [yes: {option}]")
            return True
        if not self.interactive:
            self.line(f"{prompt} [no answer: stdin is not a terminal; {hint}]")
            return False
        return click.confirm(clean(prompt), default=False, err=self.json_mode)

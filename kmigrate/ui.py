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
import re
import shutil
import sys
import textwrap
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


#: A URL in a message (footnoted on a terminal when long, see ``UI._fit``).
_URL = re.compile(r"https?://[^\s)>\]\"']+")


def human_bytes(n: float) -> str:
    """``1536`` → ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fit_columns(rows: Sequence[Sequence[Any]], headers: Sequence[str], width: int) -> list[int]:
    """Column widths (characters) that make a ``simple`` table at most ``width``
    wide: the widest column is narrowed first, none below 6 characters or its
    header's longest word (tabulate pads a header by 2).  Returns the natural
    widths when the table fits."""
    floor = [max(6, max(len(w) for w in (str(h).split() or [""])) + 2) for h in headers]
    widths = [
        max([len(str(h)) + 2] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)
    ]
    gaps = 2 * (len(widths) - 1)
    while sum(widths) + gaps > width:
        widest = max(range(len(widths)), key=lambda i: widths[i] - floor[i])
        if widths[widest] <= floor[widest]:
            break
        widths[widest] -= 1
    return widths


def stacked(rows: Sequence[Sequence[Any]], headers: Sequence[str], width: int) -> str:
    """A table too wide for ``width`` columns, as one block per row: the first
    cell, then ``header: value`` lines, each wrapped to ``width``."""
    out = []
    for row in rows:
        out.append(textwrap.fill(str(row[0]), width, break_on_hyphens=False))
        for header, cell in zip(headers[1:], row[1:], strict=False):
            out.append(
                textwrap.fill(
                    f"{header}: {cell}",
                    width,
                    initial_indent="  ",
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                )
            )
    return "\n".join(out)


class Progress:
    """A progress bar over records: shows records, bytes and records/s."""

    def __init__(self, bar: Any, total: int = 0) -> None:
        self._bar = bar
        #: Records the bar goes to (may be set again: :meth:`set_total`).
        self.total = total
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

    def set_total(self, total: int) -> None:
        """A better ``total`` found while the work runs (e.g. from a read that
        ends after the bar started); safe to call from another thread."""
        self.total = total
        if self._bar is not None:
            self._bar.length = max(total, 1)

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
        details: per-partition tables show every row (``--details``); else a
            summary per topic and the rows that differ or lag.
    """

    def __init__(
        self,
        *,
        json_mode: bool = False,
        assume_yes: bool = False,
        assume_yes_recorded: bool = False,
        interactive: bool | None = None,
        out: TextIO | None = None,
        details: bool = False,
    ) -> None:
        self.json_mode = json_mode
        self.assume_yes = assume_yes
        self.assume_yes_recorded = assume_yes_recorded
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self._out = out
        self.details = details
        self._urls: dict[str, int] = {}  # footnoted URLs, numbered (see _fit)

    @property
    def width(self) -> int | None:
        """Columns of the attached terminal; None when output goes to a file or pipe
        (then lines are not wrapped: a log keeps whole lines)."""
        if not self.out.isatty():
            return None
        return max(shutil.get_terminal_size((100, 24)).columns, 40)

    def _fit(self, text: str) -> str:
        """``text`` wrapped to the terminal's width (each line; continuation lines
        indented).  A URL longer than a third of the width becomes ``[n]``, the
        URL itself printed once, whole, on a footnote line ``[n] URL`` (the
        first time this run meets it), so that it stays one piece to copy."""
        width = self.width
        if width is None:
            return text
        notes: list[str] = []

        def footnote(match: re.Match[str]) -> str:
            url = match.group(0)
            if len(url) <= width // 3:
                return url
            if url not in self._urls:
                self._urls[url] = len(self._urls) + 1
                notes.append(f"  [{self._urls[url]}] {url}")
            return f"[{self._urls[url]}]"

        text = _URL.sub(footnote, text)
        fitted = "\n".join(
            textwrap.fill(
                part, width, subsequent_indent="    ", break_long_words=True, break_on_hyphens=False
            )
            if len(click.unstyle(part)) > width
            else part
            for part in text.split("\n")
        )
        return "\n".join([fitted, *notes])

    @property
    def out(self) -> TextIO:
        """Where human lines go: stdout, or stderr in JSON mode."""
        if self._out is not None:
            return self._out
        return sys.stderr if self.json_mode else sys.stdout

    def _echo(
        self, text: str, prefix: str = "", colour: str | None = None, *, fit: bool = True
    ) -> None:
        """The one way out: warnings about short secrets first, then ``prefix`` (in
        ``colour``) and the clean text, wrapped with it to the terminal's width when
        ``fit`` (tables are fitted by :meth:`table` itself)."""
        for warning in redact.take_short_warnings():
            click.echo(click.style("warning: ", fg="yellow") + warning, file=self.out)
        body = clean(text)
        if fit:
            body = self._fit(prefix + body)[len(prefix) :]
        click.echo((click.style(prefix, fg=colour) if prefix else "") + body, file=self.out)

    def line(self, text: str = "") -> None:
        """A plain status line (wrapped to the terminal's width when one is attached)."""
        self._echo(text)

    def heading(self, text: str) -> None:
        """A section heading."""
        click.echo(click.style(f"\n== {clean(text)}", bold=True), file=self.out)

    def ok(self, text: str) -> None:
        """A success line (``ok …``)."""
        self._echo(text, "ok ", "green")

    def warn(self, text: str) -> None:
        """A warning line (``warning: …``)."""
        self._echo(text, "warning: ", "yellow")

    def fail(self, text: str) -> None:
        """A failure line (``FAILED: …``)."""
        self._echo(text, "FAILED: ", "red")

    def table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
        """A table (tabulate, ``simple`` format), each cell cleaned and on one line;
        with a terminal attached, the widest columns are wrapped (never cut) until
        the table fits its width."""
        if not rows:
            self._echo("(none)")
            return
        # One line per cell before fitting: a newline in a value (a record key) is
        # escaped like any control character; the fitting below wraps long cells.
        rows = [[clean(c, keep_lines=False) if isinstance(c, str) else c for c in r] for r in rows]
        if self.width is not None:
            widths = fit_columns(rows, headers, self.width)
            if sum(widths) + 2 * (len(widths) - 1) > self.width:
                # Too many columns for this terminal even wrapped: one block per row.
                self._echo(stacked(rows, headers, self.width), fit=False)
                return
            headers = [
                textwrap.fill(str(h), max(w - 2, 1)) if len(str(h)) + 2 > w else str(h)
                for h, w in zip(headers, widths, strict=True)
            ]
            # Wrapped here, not with tabulate's maxcolwidths: that parses
            # "12,000" as a number even with disable_numparse (tabulate 0.10).
            rows = [
                [
                    textwrap.fill(str(cell), w, break_on_hyphens=False)
                    if len(str(cell)) > w
                    else cell
                    for cell, w in zip(row, widths, strict=False)
                ]
                for row in rows
            ]
        self._echo(
            tabulate(rows, headers=list(headers), tablefmt="simple", disable_numparse=True),
            fit=False,
        )

    def emit_json(self, data: Any) -> None:
        """The command's facts as one JSON document on stdout (JSON mode only).

        JSON escapes control characters itself; secret values are masked.
        """
        if self.json_mode:
            click.echo(redact.redact(json.dumps(data, indent=2, sort_keys=True, default=str)))

    @contextmanager
    def progress(self, total: int, label: str, *, estimate: bool = False) -> Iterator[Progress]:
        """A progress bar over ``total`` records; ``estimate``: the total is one
        (the bar's label says so).  The bar's line is kept within the terminal's
        width (its note cut with a mark ``…``); the summary line after it
        (``label: 12,000 records, …``) is whole."""
        bar_label = f"{label} (total estimated)" if estimate else label
        if self.json_mode or not self.out.isatty():
            progress = Progress(None, total)
            progress.echo = lambda text: self.line(f"{label}: {text}")
            yield progress
            self.line(f"{label}: {progress.text()}")
            return
        # The line: label, "  [" bar "]  ", "pos/length", "  ", the note.  A narrow
        # terminal gets a shorter bar, so the note keeps about 30 characters.
        width = self.width or 100
        pos = 2 * len(str(max(total, 1))) + 3  # an estimate may be passed by 10x
        bar_width = max(10, min(30, width - len(bar_label) - pos - 8 - 30))
        room = width - len(bar_label) - bar_width - pos - 8

        def info(_item: Any) -> str:
            text = progress.text()
            return text if len(text) <= room else text[: max(room - 1, 0)] + "…"

        with click.progressbar(
            length=max(total, 1),
            label=clean(bar_label),
            file=self.out,
            show_pos=True,
            show_eta=False,  # the rate is in the note; the line keeps its width
            width=bar_width,
        ) as bar:
            progress = Progress(bar, total)
            bar.item_show_func = lambda item: clean(info(item), keep_lines=False)
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

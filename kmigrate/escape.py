"""Text that is safe to show on a terminal: control characters escaped.

Record keys, header values, consumer group ids and topic names come from the
clusters, so from anyone who can produce a record or create a group.  A C0
control character (``ESC`` starts ``\\x1b]0;title\\x07``, which sets a
terminal's window title; others move the cursor or clear the screen), ``DEL``
or a C1 control character (U+0080-U+009F; ``\\x9b`` is a one-byte CSI on some
terminals) reaching a terminal or a text report would act, not show.
:func:`escape_controls` writes each as a visible ``\\xNN`` escape.  Every line
:mod:`kmigrate.ui` prints passes through it.

Source: ECMA-48 (control functions: C0 0x00-0x1F, C1 0x80-0x9F), xterm's
control sequences (OSC 0 sets the title).

This module imports nothing of kmigrate, so every module may use it.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group(0)):02x}"


def escape_controls(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every C0 and C1 control character and DEL as a visible ``\\xNN``.

    ``keep_lines``: leave newline and tab as they are (a multi-line message);
    without it they are escaped too (a record key, a table cell), so a value
    cannot start a line of its own.
    """
    pattern = _CONTROLS_BUT_LINES if keep_lines else _CONTROLS
    return pattern.sub(_escaped, text)

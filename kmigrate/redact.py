"""Secret values resolved in this process, and their removal from any text.

Secrets reach kmigrate only through ``${ENV_VAR}`` and ``${file:path}``
references (:mod:`kmigrate.plan.refs`).  Every value resolved is remembered
here, so that a message that happens to carry one (a client library that
quotes an invalid setting back, an exception text) is cleaned before it is
printed, logged or journaled: :class:`kmigrate.errors.KmigrateError` and
:mod:`kmigrate.error_handler` pass their texts through :func:`redact`.

This module imports nothing of kmigrate, so every module may use it.
"""

from __future__ import annotations

import re

#: What replaces a secret in a text.
MASK = "(secret not shown)"
#: Values shorter than this are not remembered: masking "1" or "on" everywhere
#: would garble every message, and such values are no secret.
MIN_LENGTH = 4

_values: set[str] = set()
#: ``key=value`` on a command line whose key names a secret (for the log of argv).
_SECRET_SETTING = re.compile(r"^([^=]*(?:password|secret|jaas|token)[^=]*)=.*$", re.IGNORECASE)


def remember(value: str) -> None:
    """Remember a resolved secret value (and each of its lines) for :func:`redact`."""
    for candidate in (value, *value.splitlines()):
        candidate = candidate.strip()
        if len(candidate) >= MIN_LENGTH:
            _values.add(candidate)


def redact(text: str) -> str:
    """``text`` with every remembered secret value replaced by :data:`MASK`.

    Longer values are replaced first, so a value that contains another is
    masked whole.
    """
    for value in sorted(_values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_argv(argv: list[str]) -> str:
    """A command line for a log file: secret settings (``-X sasl.password=…``) masked."""
    return " ".join(redact(_SECRET_SETTING.sub(rf"\1={MASK}", arg)) for arg in argv)

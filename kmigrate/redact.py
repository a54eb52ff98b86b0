"""Secret settings and secret values: which keys hold secrets, and their removal from text.

Secrets reach kmigrate only through ``${ENV_VAR}`` and ``${file:path}``
references (:mod:`kmigrate.plan.refs`).  This module is the one place that says:

* which client settings hold secrets (:data:`SECRET_KEY_PATTERNS`,
  :func:`is_secret_key`), used by the plan check (a literal value is refused at
  load), the ``-X``/``-Y`` settings, the connection probe and the log of argv;
* which values resolved in this process are secrets (:func:`remember`), and
  :func:`redact`, which every line kmigrate prints or logs passes through
  (:mod:`kmigrate.ui`, :mod:`kmigrate.error_handler`, shell-step logs, error
  texts of :class:`kmigrate.errors.KmigrateError`).

Masking replaces *whole values*, never a substring inside other text: a secret
is masked where it stands whole, neither preceded nor followed by a letter, a
digit or ``_`` (a quoted string, the value of ``key=value``, a token between
spaces or punctuation).  So a secret ``9092`` leaves ``127.0.0.1:19092`` alone
and masks ``port=9092``.  A secret shorter than :data:`MIN_LENGTH` characters is
masked the same way, and kmigrate warns once that it is short
(:func:`take_short_warnings`): it may stand whole where it is no secret (``a``).

This module imports nothing of kmigrate, so every module may use it.
"""

from __future__ import annotations

import fnmatch
import re

#: A plan reference to a secret: ``${ENV_VAR}`` or ``${file:path}`` (a value that is
#: wholly one reference matches with ``fullmatch``); resolved by :mod:`kmigrate.plan.refs`.
REFERENCE = re.compile(r"\$\{(?:file:(?P<file>[^}]+)|(?P<var>[A-Za-z_][A-Za-z0-9_]*))\}")
#: What replaces a secret in a text.
MASK = "(secret not shown)"
#: Secrets shorter than this are warned about once (they are masked all the same).
MIN_LENGTH = 8

#: Client settings (librdkafka / Kafka client keys, case-insensitive globs) whose
#: values are secrets: they must be ``${ENV_VAR}`` / ``${file:path}`` references
#: and are masked everywhere.  Sources: librdkafka CONFIGURATION.md (``ssl.key.pem``,
#: ``ssl.key.password``, ``ssl.keystore.password``, ``sasl.password``,
#: ``sasl.oauthbearer.config``, ``sasl.oauthbearer.client.secret``); Kafka's
#: ``sasl.jaas.config``; Azure Event Hubs for Kafka (the namespace connection string
#: as ``sasl.password``): learn.microsoft.com/azure/event-hubs/
#: azure-event-hubs-kafka-overview.
SECRET_KEY_PATTERNS: tuple[str, ...] = (
    "*password*",
    "*secret*",
    "*jaas*",
    "*token*",
    "ssl.key.pem",
    "ssl.keystore.password",
    "ssl.key.password",
    "sasl.oauthbearer.config",
    "*connection_string*",
    "*connection.string*",
    "*connectionstring*",
)
#: An Azure Event Hubs (Service Bus) connection string, whatever key holds it.
EVENTHUBS_CONNECTION_STRING = re.compile(r"Endpoint\s*=\s*sb://[^;]*;.*SharedAccessKey", re.I)

_values: set[str] = set()
_pattern: re.Pattern[str] | None = None
_short_sources: list[str] = []
_warned: set[str] = set()

#: Characters that continue a token: a secret next to one is inside other text.
_WORD = r"A-Za-z0-9_"


def is_secret_key(key: str) -> bool:
    """True when a client setting ``key`` holds a secret (see :data:`SECRET_KEY_PATTERNS`)."""
    lowered = key.strip().lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in SECRET_KEY_PATTERNS)


def is_secret_value(value: str) -> bool:
    """True when a value is a secret whatever key holds it (an Event Hubs connection string)."""
    return bool(EVENTHUBS_CONNECTION_STRING.search(value))


def remember(value: str, source: str = "a secret reference") -> None:
    """Remember a resolved secret value (and each long line of it) for :func:`redact`.

    ``source`` names where it came from (``${PW}``), for the warning about a
    short secret; never the value.
    """
    global _pattern
    whole = value.strip()
    if not whole:
        return
    candidates = {whole} | {
        line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_LENGTH
    }
    if candidates - _values:
        _values.update(candidates)
        _pattern = None
    if len(whole) < MIN_LENGTH and source not in _warned:
        _warned.add(source)
        _short_sources.append(source)


def forget_all() -> None:
    """Forget every remembered secret value: for a process that runs several kmigrate
    commands one after the other (the tests' CliRunner), so one command's secrets do
    not mask another's text (each ``kmigrate`` command is a process of its own)."""
    global _pattern
    _values.clear()
    _pattern = None


def take_short_warnings() -> list[str]:
    """Warnings (once each) about secrets shorter than :data:`MIN_LENGTH`; clears them."""
    out = [
        f"the secret from {source} is shorter than {MIN_LENGTH} characters: it is masked "
        "wherever it stands as a whole word or value, also where it means something else; "
        "use a longer one"
        for source in _short_sources
    ]
    _short_sources.clear()
    return out


def _compiled() -> re.Pattern[str] | None:
    global _pattern
    if _pattern is None and _values:
        values = sorted(_values, key=len, reverse=True)
        alternatives = "|".join(re.escape(value) for value in values)
        _pattern = re.compile(rf"(?<![{_WORD}])(?:{alternatives})(?![{_WORD}])")
    return _pattern


def redact(text: str) -> str:
    """``text`` with every remembered secret value, where it stands whole, replaced by :data:`MASK`.

    Longer values are tried first, so a value that contains another is masked whole.
    """
    pattern = _compiled()
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def redact_setting(arg: str) -> str:
    """One ``KEY=VALUE`` (or ``--option=KEY=VALUE``) with a secret value masked."""
    key, sep, value = arg.partition("=")
    if not sep:
        return arg
    if is_secret_key(key.lstrip("-")) or is_secret_value(value):
        return f"{key}={MASK}"
    if "=" in value:
        return f"{key}={redact_setting(value)}"
    return arg


def redact_argv(argv: list[str]) -> str:
    """A command line for a log file: secret settings (``-X sasl.password=…``) masked."""
    return " ".join(redact(redact_setting(arg)) for arg in argv)

"""``${ENV_VAR}`` and ``${file:path}`` references in plan values.

Secrets never sit in a plan: a plan names an environment variable or a file,
and the value is read only when a connection is made.  Resolved values are
never printed, logged or journaled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from kmigrate import redact
from kmigrate.plan.files import SECRET_MAX_BYTES, Unreadable, read_bytes
from kmigrate.redact import REFERENCE as REFERENCE  # defined beside the masking


class UnresolvedReference(Exception):
    """A reference names an unset variable or an unreadable file.

    ``args[0]`` is a message that names the variable or file, never a value.
    """


def resolve(value: str, environ: Mapping[str, str], base_dir: Path) -> str:
    """Replace every reference in ``value``.

    ``${file:path}`` reads the file (relative to ``base_dir``, the plan's
    folder) and strips one trailing newline.  Every value resolved is
    remembered by :func:`kmigrate.redact.remember`, so that no later message
    can carry it.

    Raises:
        UnresolvedReference: a variable is unset, or a file is missing, not a
            regular file (a FIFO or device is refused before it is opened),
            over :data:`~kmigrate.plan.files.SECRET_MAX_BYTES`, or not UTF-8.
    """

    def _one(match: re.Match[str]) -> str:
        if match.group("var"):
            name = match.group("var")
            if name not in environ:
                raise UnresolvedReference(f"environment variable {name} is not set")
            redact.remember(environ[name], f"${{{name}}}")
            return environ[name]
        path = Path(match.group("file"))
        if not path.is_absolute():
            path = base_dir / path
        try:
            value = read_bytes(path, SECRET_MAX_BYTES).decode("utf-8").removesuffix("\n")
        except FileNotFoundError:
            raise UnresolvedReference(f"secret file {path} cannot be read: no such file") from None
        except Unreadable as exc:
            raise UnresolvedReference(f"secret file {path} cannot be read: {exc}") from None
        except UnicodeDecodeError:
            raise UnresolvedReference(
                f"secret file {path} cannot be read: not UTF-8 text"
            ) from None
        redact.remember(value, f"${{file:{match.group('file')}}}")
        return value

    return REFERENCE.sub(_one, value)


def unset_variables(value: str, environ: Mapping[str, str]) -> list[str]:
    """Names of the ``${ENV_VAR}`` references in ``value`` that ``environ`` lacks,
    in order (so that every missing variable can be named at once)."""
    return [
        m.group("var")
        for m in REFERENCE.finditer(value)
        if m.group("var") and m.group("var") not in environ
    ]


def is_sensitive(key: str, value: object = None) -> bool:
    """True when config ``key`` (or, given, its ``value``) carries a secret.

    The one list of secret keys is :data:`kmigrate.redact.SECRET_KEY_PATTERNS`;
    a value that is an Event Hubs connection string is a secret under any key.
    """
    return redact.is_secret_key(key) or (isinstance(value, str) and redact.is_secret_value(value))

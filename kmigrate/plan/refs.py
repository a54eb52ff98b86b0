"""``${ENV_VAR}`` and ``${file:path}`` references in plan values.

Secrets never sit in a plan: a plan names an environment variable or a file,
and the value is read only when a connection is made.  Resolved values are
never printed, logged or journaled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

#: A value that is wholly one reference.
REFERENCE = re.compile(r"\$\{(?:file:(?P<file>[^}]+)|(?P<var>[A-Za-z_][A-Za-z0-9_]*))\}")
#: Config keys whose values are secrets and must be references.
SENSITIVE_KEY = re.compile(r"password|secret|jaas|token", re.IGNORECASE)


class UnresolvedReference(Exception):
    """A reference names an unset variable or an unreadable file.

    ``args[0]`` is a message that names the variable or file, never a value.
    """


def resolve(value: str, environ: Mapping[str, str], base_dir: Path) -> str:
    """Replace every reference in ``value``.

    ``${file:path}`` reads the file (relative to ``base_dir``, the plan's
    folder) and strips one trailing newline.

    Raises:
        UnresolvedReference: a variable is unset or a file cannot be read.
    """

    def _one(match: re.Match[str]) -> str:
        if match.group("var"):
            name = match.group("var")
            if name not in environ:
                raise UnresolvedReference(f"environment variable {name} is not set")
            return environ[name]
        path = Path(match.group("file"))
        if not path.is_absolute():
            path = base_dir / path
        try:
            return path.read_text(encoding="utf-8").removesuffix("\n")
        except OSError as exc:
            raise UnresolvedReference(
                f"secret file {path} cannot be read: {exc.strerror}"
            ) from None

    return REFERENCE.sub(_one, value)


def is_sensitive(key: str) -> bool:
    """True when a librdkafka config key carries a secret."""
    return bool(SENSITIVE_KEY.search(key))

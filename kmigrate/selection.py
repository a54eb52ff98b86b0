"""Topic selection: which topics a migration covers."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence


def select_topics(
    names: Iterable[str], include: Sequence[str], exclude: Sequence[str]
) -> list[str]:
    """Names matching any ``include`` glob and no ``exclude`` glob, sorted.

    Globs are shell-style (``fnmatch``), case-sensitive, as Kafka topic names are.
    """
    return sorted(
        name
        for name in set(names)
        if any(fnmatch.fnmatchcase(name, p) for p in include)
        and not any(fnmatch.fnmatchcase(name, p) for p in exclude)
    )

"""Size limits of kmigrate's code (issue 16): no module over 600 lines, no function over 80.

A module's size is its line count (as ``wc -l``); a function's is from its ``def`` line to
its last line (decorators not counted; a nested function or a method is measured on its
own, and also counts inside the function that holds it).  Prints one line per offender,
``path:line: what``, and exits 1 if there is any, else 0.  Usage::

    python .ci/sizes.py [FOLDER ...]        # default: kmigrate
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

#: Lines a module may have.
MAX_MODULE_LINES = 600
#: Lines a function (or method) may have, ``def`` line to last line.
MAX_FUNCTION_LINES = 80


def offenders(path: Path) -> list[str]:
    """The size limits one Python file breaks, as ``path:line: what`` lines (empty: none).

    Raises:
        SyntaxError: the file is not Python this interpreter parses.
    """
    text = path.read_text(encoding="utf-8")
    found: list[tuple[int, str]] = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append((1, f"{path}:1: module has {lines} lines (at most {MAX_MODULE_LINES})"))
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(
                    (
                        node.lineno,
                        f"{path}:{node.lineno}: function {node.name} has {length} lines"
                        f" (at most {MAX_FUNCTION_LINES})",
                    )
                )
    return [line for _, line in sorted(found)]


def main(argv: list[str]) -> int:
    """Check every ``*.py`` below the given folders (default ``kmigrate``); 1 if any offends."""
    folders = [Path(a) for a in argv] or [Path("kmigrate")]
    found = [line for f in folders for p in sorted(f.rglob("*.py")) for line in offenders(p)]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The size limits CI keeps (``.ci/sizes.py``, issue 16): no module over 600 lines,
no function over 80 (``def`` line to last line).

Each case writes a small tree into ``tmp_path`` and runs the script on it as CI does,
so the exit status and the lines it prints are what CI sees.  All fail before issue 16
(there was no such script).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "sizes.py"


def sizes(folder: Path) -> subprocess.CompletedProcess[str]:
    """``python .ci/sizes.py FOLDER``, its output captured."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def function(name: str, lines: int, indent: str = "") -> str:
    """Source of a function of exactly ``lines`` lines, ``def`` line included."""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 2))
    return f"{indent}def {name}() -> int:\n{body}{indent}    return 0\n"


def test_a_tree_within_the_limits_passes(tmp_path: Path) -> None:
    module = function("eighty", 80) + "\n" * (600 - 80)
    assert len(module.splitlines()) == 600
    (tmp_path / "ok.py").write_text(module)

    result = sizes(tmp_path)

    assert result.returncode == 0, result.stdout
    assert result.stdout == ""


def test_a_module_of_601_lines_fails_naming_it(tmp_path: Path) -> None:
    (tmp_path / "long.py").write_text("x = 1\n" * 601)

    result = sizes(tmp_path)

    assert result.returncode == 1
    assert result.stdout == f"{tmp_path / 'long.py'}:1: module has 601 lines (at most 600)\n"


def test_a_function_or_method_of_81_lines_fails_naming_it_and_its_line(tmp_path: Path) -> None:
    method = "class Holder:\n" + function("method", 81, indent="    ")
    (tmp_path / "funcs.py").write_text(function("short", 80) + function("long", 81) + method)

    result = sizes(tmp_path)

    assert result.returncode == 1
    path = tmp_path / "funcs.py"
    assert result.stdout.splitlines() == [
        f"{path}:81: function long has 81 lines (at most 80)",
        f"{path}:163: function method has 81 lines (at most 80)",
    ]

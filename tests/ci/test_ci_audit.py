"""The CI dependency audit (``.ci/audit.py``) says what it really audited (issue 19).

pip-audit prints "No known vulnerabilities found" and exits 0 when its service
answers "not found" for every package (seen on this network: PyPI's JSON API
is not reachable, only its simple index) or cannot be reached at all.  The
reports below have the shape pip-audit 2.10 writes with ``--format json``.
All fail before issue 19 (there was no audit).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def report(*deps: dict[str, object]) -> str:
    return json.dumps({"dependencies": list(deps), "fixes": []})


NOT_FOUND = {
    "name": "tabulate",
    "skip_reason": "Dependency not found on PyPI and could not be audited: tabulate (0.9.0)",
}


def test_a_service_that_audited_nothing_is_not_a_clean_result(audit: ModuleType) -> None:
    pypi = audit.parse("pypi", 0, report(NOT_FOUND), "No known vulnerabilities found\n")
    osv = audit.parse(
        "osv",
        1,
        "",
        "Traceback …\nrequests.exceptions.ConnectionError: Failed to resolve 'api.osv.dev'\n",
    )
    code, lines = audit.verdict([pypi, osv])
    assert code == 0  # an unreachable database does not fail CI
    assert lines[0].startswith("dependency audit NOT DONE: no vulnerability database")
    assert "no known vulnerabilities" not in " ".join(lines).lower()
    assert "  pypi: answered for none of 1 packages" in lines[1]
    assert lines[2] == (
        "  osv: unreachable: requests.exceptions.ConnectionError: Failed to resolve 'api.osv.dev'"
    )


def test_known_vulnerabilities_fail_and_partial_audits_are_said(audit: ModuleType) -> None:
    found = audit.parse(
        "osv",
        1,
        report(
            {"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "GHSA-h5c8-rqwp-cp95"}]},
            {"name": "click", "version": "8.1.7", "vulns": []},
            NOT_FOUND,
        ),
        "",
    )
    code, lines = audit.verdict([found])
    assert code == 1
    assert lines[:2] == [
        "dependency audit (osv): KNOWN VULNERABILITIES:",
        "  jinja2 3.1.2: GHSA-h5c8-rqwp-cp95",
    ]
    assert "  not audited (1):" in lines

    clean = audit.parse("pypi", 0, report({"name": "click", "version": "8.1.7", "vulns": []}), "")
    code, lines = audit.verdict([clean])
    assert (code, lines) == (
        0,
        [
            "dependency audit (pypi): no known vulnerabilities in the 1 of 1 installed "
            "packages it could audit"
        ],
    )

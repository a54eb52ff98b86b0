"""Dependency audit for CI: ``pip-audit`` of the installed environment, reported honestly.

``pip-audit`` asks a vulnerability service about every installed distribution:
PyPI's JSON API (``/pypi/NAME/VERSION/json``, its ``vulnerabilities`` field) or
OSV (``api.osv.dev``).  Where the service cannot be reached, or answers "not
found" for every package (a network that proxies only PyPI's simple index), it
still prints "No known vulnerabilities found" and exits 0.  This script runs it
with JSON output against each service in turn and says what was really audited:

* vulnerabilities found: they are listed, exit 1 (CI fails);
* every package audited by a service: "no known vulnerabilities", exit 0;
* some packages not audited: how many, and why, exit 0 (or 1 with vulnerabilities);
* no service answered for any package: "dependency audit NOT DONE", exit 0 (an
  unreachable database must not fail CI, and must not read as a clean result).

Source: pip-audit's README (github.com/pypa/pip-audit: ``--local``,
``--skip-editable``, ``--format json``, ``--vulnerability-service pypi|osv``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

SERVICES = ("pypi", "osv")
TIMEOUT_S = 600


@dataclass
class Outcome:
    """One service's answer: what was audited, skipped, found, or why it failed."""

    service: str
    audited: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    vulns: list[tuple[str, str, str]] = field(default_factory=list)  # (package, version, id)
    error: str = ""


def parse(service: str, returncode: int, stdout: str, stderr: str) -> Outcome:
    """An :class:`Outcome` from one ``pip-audit --format json`` run."""
    outcome = Outcome(service)
    try:
        report: Any = json.loads(stdout)
        deps = report["dependencies"]
    except (ValueError, KeyError, TypeError):
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        outcome.error = (lines[-1] if lines else f"pip-audit exited with {returncode}")[:300]
        return outcome
    for dep in deps:
        name = f"{dep.get('name')} {dep.get('version', '')}".strip()
        if "skip_reason" in dep:
            outcome.skipped[name] = str(dep["skip_reason"])
            continue
        outcome.audited.append(name)
        for vuln in dep.get("vulns") or []:
            outcome.vulns.append((str(dep.get("name")), str(dep.get("version")), vuln.get("id")))
    return outcome


def run_service(service: str) -> Outcome:
    """Run pip-audit on the installed environment against ``service``."""
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "pip_audit", "--local", "--skip-editable",
                "--format", "json", "--progress-spinner", "off",
                "--vulnerability-service", service,
            ],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return Outcome(service, error=f"no answer within {TIMEOUT_S} s")
    except OSError as exc:
        return Outcome(service, error=str(exc))
    return parse(service, done.returncode, done.stdout, done.stderr)


def verdict(outcomes: list[Outcome]) -> tuple[int, list[str]]:
    """The exit code and the lines to print for the services' outcomes (tried in order).

    The first service that audited any package decides; when none did, the
    audit was not done, which is said plainly and does not fail CI.
    """
    for outcome in outcomes:
        if not outcome.audited:
            continue
        total = len(outcome.audited) + len(outcome.skipped)
        lines = []
        code = 0
        if outcome.vulns:
            code = 1
            lines.append(f"dependency audit ({outcome.service}): KNOWN VULNERABILITIES:")
            lines += [f"  {pkg} {ver}: {vid}" for pkg, ver, vid in outcome.vulns]
        else:
            lines.append(
                f"dependency audit ({outcome.service}): no known vulnerabilities in the "
                f"{len(outcome.audited)} of {total} installed packages it could audit"
            )
        if outcome.skipped:
            lines.append(f"  not audited ({len(outcome.skipped)}):")
            lines += [f"    {name}: {why}" for name, why in sorted(outcome.skipped.items())]
        return code, lines
    lines = [
        "dependency audit NOT DONE: no vulnerability database could be reached, so nothing "
        "is known about vulnerabilities in the installed packages (this is not a clean result)"
    ]
    for outcome in outcomes:
        if outcome.error:
            why = f"unreachable: {outcome.error}"
        else:
            sample = next(iter(outcome.skipped.values()), "no packages listed")
            why = f"answered for none of {len(outcome.skipped)} packages (e.g. {sample!r})"
        lines.append(f"  {outcome.service}: {why}")
    return 0, lines


def main() -> int:
    """Audit with each service until one answers; print the verdict; its exit code."""
    outcomes = []
    for service in SERVICES:
        outcome = run_service(service)
        outcomes.append(outcome)
        if outcome.audited:
            break
    code, lines = verdict(outcomes)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())

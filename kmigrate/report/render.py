"""Render the evidence report model to HTML (jinja2) and JSON, and write both files.

The template ships inside the package (``kmigrate/report/templates``) and is
loaded with :class:`jinja2.PackageLoader`, so an installed kmigrate renders
without a checkout.  Autoescaping is on for every template: topic names,
record keys, command texts and error messages are user data and must never
become markup (jinja2 docs, "Autoescaping":
https://jinja.palletsprojects.com/en/3.1.x/api/#autoescaping).  The page is
self-contained: inline CSS (screen and print), no script, no external URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from kmigrate.safefs import atomic_write

TEMPLATE = "evidence.html.j2"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kmigrate.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seconds"] = _seconds
    env.filters["num"] = _number
    env.filters["dash"] = lambda v: "-" if v is None or v == "" else v
    env.filters["when"] = _when
    env.filters["words"] = words
    return env


def words(value: Any) -> str:
    """A journal value in words, never a Python dump: ``True`` -> ``yes``, ``None``
    -> ``-``, a mapping -> ``key: value; key: value`` (keys with no value left
    out), a list -> its items joined by ``; `` (mappings in brackets)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, dict):
        return (
            "; ".join(
                f"{str(k).replace('_', ' ')}: {words(v)}"
                for k, v in value.items()
                if v not in (None, "", [], {})
            )
            or "-"
        )
    if isinstance(value, list | tuple):
        parts = [f"({words(v)})" if isinstance(v, dict) else words(v) for v in value]
        return "; ".join(parts) or "-"
    return str(value)


def _seconds(value: float | None) -> str:
    """``75.0`` -> ``1 min 15 s``; None -> ``-``."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.0f} s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _when(value: Any) -> str:
    """``2026-11-24T18:01:10+00:00`` -> ``2026-11-24 18:01:10 UTC``; other offsets kept."""
    if not isinstance(value, str) or not value:
        return "-"
    text = value.replace("T", " ", 1)
    return text[:-6] + " UTC" if text.endswith("+00:00") else text


def _number(value: Any) -> str:
    """``1200`` -> ``1,200``; anything not an int shown as it is (None -> ``-``)."""
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render_html(model: dict[str, Any]) -> str:
    """The report model (:mod:`kmigrate.report.model`) as one self-contained HTML page.

    Raises:
        jinja2.TemplateError: the template does not fit the model (a bug).
    """
    return _environment().get_template(TEMPLATE).render(r=model)


def render_json(model: dict[str, Any]) -> str:
    """The report model as indented, key-sorted JSON text."""
    return json.dumps(model, indent=2, sort_keys=True, default=str) + "\n"


def write_report(model: dict[str, Any], output_dir: Path) -> tuple[Path, Path]:
    """Write ``evidence.html`` and ``evidence.json`` into ``output_dir`` (atomically each).

    Returns the two paths (HTML, JSON).

    Raises:
        OSError: the folder cannot be created or written.
    """
    html_path = output_dir / "evidence.html"
    json_path = output_dir / "evidence.json"
    atomic_write(json_path, render_json(model))
    atomic_write(html_path, render_html(model))
    return html_path, json_path

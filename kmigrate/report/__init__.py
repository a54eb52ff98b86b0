"""The evidence report: what a migration did and proved, as HTML for people and JSON for tools."""

from kmigrate.report.model import DIFFERENCES, INCOMPLETE, ROLLED_BACK, VERIFIED, build_model
from kmigrate.report.render import render_html, render_json, write_report

__all__ = [
    "DIFFERENCES",
    "INCOMPLETE",
    "ROLLED_BACK",
    "VERIFIED",
    "build_model",
    "render_html",
    "render_json",
    "write_report",
]

"""The evidence report's model and HTML, from hand-made journal rows and verify reports.

No broker: the report reads only the journal and the files steps wrote, so
these tests build those inputs by hand (shapes as in kmigrate/verify/evidence.py,
kmigrate/steps/mirror.py and kmigrate.commands.status.step_rows).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kmigrate.cli import cli
from kmigrate.report import (
    DIFFERENCES,
    INCOMPLETE,
    ROLLED_BACK,
    VERIFIED,
    build_model,
    render_html,
)

HOSTILE_TOPIC = '<script>alert(1)</script>"\' onmouseover="x'
HOSTILE_COMMAND = "echo '<img src=x onerror=alert(2)>' \"quoted\" > out.txt"
PLAN = {
    "name": "hand-made",
    "file": "/plans/p.yaml",
    "state_dir": "/plans/state",
    "journal": "/plans/state/journal.json",
    "clusters": {
        "source": {"type": "kafka", "bootstrap_servers": "127.0.0.1:19092"},
        "target": {"type": "kafka", "bootstrap_servers": "127.0.0.1:29092"},
    },
}


def side(records: int, first: int, digest: str) -> dict[str, Any]:
    return {
        "records": records,
        "first_offset": first if records else None,
        "last_offset": first + records - 1 if records else None,
        "digest": digest,
    }


def verify_report(path: Path, partitions: list[dict[str, Any]]) -> Path:
    """A verify report file as kmigrate.verify.evidence.report writes it."""
    bad = [p for p in partitions if not p["match"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "generated_at": "2026-11-24T02:10:00+00:00",
                "source": "127.0.0.1:19092",
                "target": "127.0.0.1:29092",
                "summary": {
                    "partitions": len(partitions),
                    "matched": len(partitions) - len(bad),
                    "mismatched": len(bad),
                    "source_records": sum(p["source"]["records"] for p in partitions),
                    "target_records": sum(p["target"]["records"] for p in partitions),
                },
                "partitions": partitions,
            }
        )
    )
    return path


def row(step: str, description: str, status: str | None, record: Any = None, **more: Any) -> dict:
    """One row as kmigrate.commands.status.step_rows returns it."""
    return {
        "step": step,
        "phase": "mirror",
        "description": description,
        "status": status,
        "started_at": "2026-11-24T02:00:00+00:00" if status else None,
        "ended_at": "2026-11-24T02:01:15+00:00" if status else None,
        "by": "ops@host" if status else None,
        "attempts": 1 if status else 0,
        "error": None,
        "record": record,
        "rolled_back_at": None,
        "rolled_back_by": None,
        "undone": None,
        **more,
    }


def mirror_record(topic: str) -> dict[str, Any]:
    return {
        "partitions": [
            {
                "topic": topic,
                "partition": 0,
                "source_start": 0,
                "source_end": 10,
                "target_start": 0,
                "target_end": 9,
                "records": 9,
                "bytes": 900,
                "offset_map": [[0, 0, 4], [5, 4, 5]],
            }
        ],
        "resumed": False,
    }


def model_for(tmp_path: Path, partitions: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    report = verify_report(tmp_path / "reports" / "verify.json", partitions)
    bad = sum(not p["match"] for p in partitions)
    rows = kw.pop("rows", None) or [
        row("3.1", "mirror", "succeeded", mirror_record("orders")),
        row(
            "3.2",
            "verify",
            "failed" if bad else "succeeded",
            {"report": str(report), "partitions": len(partitions), "mismatched": bad},
        ),
    ]
    return build_model(
        plan=PLAN,
        rows=rows,
        events=kw.pop("events", []),
        state_dir=tmp_path,
        generated_at="2026-11-24T03:00:00+00:00",
        version="test",
    )


MATCHED = [
    {
        "topic": "orders",
        "partition": p,
        "source": side(5, 0, f"{p}aaa"),
        "target": side(5, 0, f"{p}aaa"),
        "match": True,
        "first_difference": None,
    }
    for p in range(2)
]


def test_all_partitions_equal_and_every_step_succeeded_is_verified(tmp_path: Path) -> None:
    model = model_for(tmp_path, MATCHED)

    assert model["verdict"]["verdict"] == VERIFIED
    assert "all 2 partitions verified equal (10 records" in model["verdict"]["reasons"][0]
    (verify,) = model["verify"]
    assert [(p["topic"], p["partition"], p["match"]) for p in verify["partitions"]] == [
        ("orders", 0, True),
        ("orders", 1, True),
    ]
    assert verify["partitions"][1]["source"] == {
        "records": 5,
        "first_offset": 0,
        "last_offset": 4,
        "digest": "1aaa",
    }
    assert model["steps"][0]["duration_s"] == 75.0
    assert model["timings"]["elapsed_s"] == 75.0
    assert model["offset_maps"][0]["partitions"][0]["runs"] == [[0, 0, 4], [5, 4, 5]]


def test_a_differing_partition_makes_differences_found_and_comes_first(tmp_path: Path) -> None:
    bad = {
        "topic": "orders",
        "partition": 1,
        "source": side(5, 0, "src"),
        "target": side(6, 0, "tgt"),
        "match": False,
        "first_difference": {
            "source_offset": None,
            "target_offset": 5,
            "reason": "extra record on target",
        },
    }
    model = model_for(tmp_path, [MATCHED[0], bad])

    assert model["verdict"]["verdict"] == DIFFERENCES
    assert model["verdict"]["reasons"] == [
        "verify (step 3.2): 1 of 2 partitions differ; first: orders[1] at source offset "
        "-, target offset 5 (extra record on target)"
    ]
    assert [p["partition"] for p in model["verify"][0]["partitions"]] == [1, 0]
    html = render_html(model)
    page = Page.parse(html)
    assert page.rows_with_class("mismatch") == [("orders", "1")]
    assert "DIFFERS: extra record on target at source offset -, target offset 5" in page.text


def test_steps_not_run_and_a_missing_verify_report_make_it_incomplete(tmp_path: Path) -> None:
    rows = [
        row("3.1", "mirror", "succeeded", mirror_record("orders")),
        row("3.2", "verify", "succeeded", {"report": str(tmp_path / "gone.json")}),
        row("4.1", "shell: echo done", None),
    ]
    model = model_for(tmp_path, MATCHED, rows=rows)

    assert model["verdict"]["verdict"] == INCOMPLETE
    assert model["verdict"]["reasons"] == [
        "step 4.1 (shell: echo done) has not run",
        f"verify (step 3.2): report file {tmp_path / 'gone.json'} is missing",
    ]


def test_no_verify_step_is_incomplete_and_says_nothing_proves_the_data(tmp_path: Path) -> None:
    model = model_for(tmp_path, MATCHED, rows=[row("1.1", "check-connectivity", "succeeded")])

    assert model["verdict"]["verdict"] == INCOMPLETE
    assert model["verdict"]["reasons"] == [
        "the plan has no verify step that ran: nothing proves the target's data"
    ]
    assert model["verify"] == [] and model["offset_maps"] == [] and model["groups"] == []


def test_unknown_keys_groups_and_events_are_shown_not_fatal(tmp_path: Path) -> None:
    rows = [
        row("3.1", "mirror", "succeeded", mirror_record("orders"), id="mirror", orphaned=True),
        row(
            "3.2",
            "translate-offsets",
            "succeeded",
            {"groups": [{"group": "billing", "topic": "orders", "committed": 7, "new": 6}]},
            definition_changed=True,
        ),
        row(
            "2.2",
            "provision-topics",
            "rolled_back",
            {"created": ["orders"], "existing": [], "dropped": {"orders": {"x.y": "unknown"}}},
            rolled_back_at="2026-11-24T04:00:00+00:00",
            rolled_back_by="ops@host",
            undone=["deleted target topic orders"],
        ),
    ]
    events = [
        {"at": "2026-11-24T02:00:00+00:00", "by": "ops@host", "event": "forced", "phase": 3},
        {"at": "2026-11-24T02:00:01+00:00", "by": "ops@host", "event": "rerun", "step": "x"},
    ]
    model = model_for(tmp_path, MATCHED, rows=rows, events=events)

    assert model["steps"][0]["extra"] == {"orphaned": True}
    assert model["steps"][0]["id"] == "mirror"
    assert model["steps"][1]["extra"] == {"definition_changed": True}
    assert model["groups"] == [
        {
            "step": "translate-offsets (step 3.2)",
            "columns": ["group", "topic", "committed", "new"],
            "rows": [["billing", "orders", 7, 6]],
        }
    ]
    assert model["provision"][0]["dropped"] == [["orders", "x.y", "unknown"]]
    assert [e["event"] for e in model["events"]] == ["forced", "rerun"]
    page = Page.parse(render_html(model))
    assert "rerun" in page.text and "step: x" in page.text
    assert "step rolled back" in page.text and "deleted target topic orders" in page.text
    assert "billing" in page.text and "definition changed: yes" in page.text


def test_hostile_topic_names_and_command_texts_stay_text(tmp_path: Path) -> None:
    partitions = [dict(MATCHED[0], topic=HOSTILE_TOPIC)]
    rows = [
        row("3.2", "verify", "succeeded", {"report": str(tmp_path / "reports/verify.json")}),
        row("4.1", f"shell: {HOSTILE_COMMAND}", "failed", error=f"exit 1: {HOSTILE_COMMAND}"),
    ]
    html = render_html(model_for(tmp_path, partitions, rows=rows))
    page = Page.parse(html)

    assert page.tags_seen & {"script", "img"} == set()
    assert not any(name.startswith("on") for name, _ in page.attributes)
    assert ("data-topic", HOSTILE_TOPIC) in page.attributes
    assert HOSTILE_TOPIC in page.text and f"shell: {HOSTILE_COMMAND}" in page.text
    assert "&lt;script&gt;" in html and "&#34;quoted&#34;" in html


def test_page_loads_nothing_from_the_network_and_runs_no_script(tmp_path: Path) -> None:
    page = Page.parse(render_html(model_for(tmp_path, MATCHED)))

    assert page.tags_seen & {"script", "link", "img", "iframe", "object"} == set()
    assert [v for name, v in page.attributes if name in ("src", "href")] == []
    assert "@media print" in page.style


def test_report_command_never_writes_a_config_value(tmp_path: Path, monkeypatch: Any) -> None:
    """A plan whose source config holds a secret reference; the secret is in the environment."""
    monkeypatch.setenv("KM_REPORT_SECRET", "s3cr3t-value-1234")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\nname: secretive\nstate_dir: state\n"
        "clusters:\n"
        "  source: {type: kafka, bootstrap_servers: '127.0.0.1:1',"
        " config: {sasl.password: '${KM_REPORT_SECRET}', sasl.username: admin-user-xyz}}\n"
        "  target: {type: kafka, bootstrap_servers: '127.0.0.1:2', config: {}}\n"
        "topics: {include: ['*']}\n"
        "phases:\n  - name: only\n    steps:\n      - action: verify\n"
    )
    result = CliRunner().invoke(cli, ["report", str(plan)], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    html = tmp_path / "state" / "reports" / "evidence.html"
    data = json.loads((tmp_path / "state" / "reports" / "evidence.json").read_text())
    assert f"report: {html}" in result.output
    assert data["verdict"]["verdict"] == INCOMPLETE
    assert data["plan"]["clusters"]["source"] == {
        "type": "kafka",
        "bootstrap_servers": "127.0.0.1:1",
    }
    for text in (result.output, html.read_text(), json.dumps(data)):
        assert "s3cr3t-value-1234" not in text
        assert "KM_REPORT_SECRET" not in text
        assert "admin-user-xyz" not in text


def test_report_into_an_unwritable_place_is_a_usage_error(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\nname: p\nstate_dir: state\n"
        "clusters:\n  source: {type: kafka, bootstrap_servers: '127.0.0.1:1'}\n"
        "  target: {type: kafka, bootstrap_servers: '127.0.0.1:2'}\n"
        "topics: {include: ['*']}\n"
        "phases:\n  - name: only\n    steps:\n      - action: verify\n"
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(
        cli, ["report", str(plan), "--output-dir", str(blocker / "sub")], catch_exceptions=False
    )

    assert result.exit_code == 2
    assert f"{blocker / 'sub'}: cannot write the report there" in result.output
    assert "Traceback" not in result.output


class Page(HTMLParser):
    """What a parsed page holds: visible text, tags, attributes, table rows by class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.style = ""
        self.tags_seen: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self._rows: list[tuple[str, list[str]]] = []
        self._in_style = False

    @classmethod
    def parse(cls, html: str) -> Page:
        page = cls()
        page.feed(html)
        page.close()
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags_seen.add(tag)
        self.attributes += attrs
        self._in_style = tag == "style"
        if tag == "tr":
            self._rows.append((dict(attrs).get("class") or "", []))
        if tag == "td" and self._rows:
            self._rows[-1][1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
            return
        self.text += data
        if self._rows and self._rows[-1][1]:
            self._rows[-1][1][-1] += data

    def rows_with_class(self, name: str) -> list[tuple[str, str]]:
        """(first cell, second cell) of each table row whose class is ``name``."""
        return [
            (cells[0].strip(), cells[1].strip())
            for cls, cells in self._rows
            if name in cls.split() and len(cells) > 1
        ]


def test_verify_older_than_the_last_mirror_is_not_evidence(tmp_path: Path) -> None:
    """A mirror re-run after verify (e.g. --rerun) copied records verify never saw."""
    report = verify_report(tmp_path / "reports" / "verify.json", MATCHED)
    mirror = row("3.1", "mirror", "succeeded", mirror_record("orders"))
    mirror.update(started_at="2026-11-24T03:00:00+00:00", ended_at="2026-11-24T03:05:00+00:00")
    verify = row("3.2", "verify", "succeeded", {"report": str(report), "mismatched": 0})
    model = model_for(tmp_path, MATCHED, rows=[mirror, verify])

    assert model["verdict"] == {
        "verdict": INCOMPLETE,
        "reasons": [
            "verify (step 3.2) ended 2026-11-24T02:01:15+00:00, before the last mirror ended "
            "(2026-11-24T03:05:00+00:00): its evidence predates records copied since; "
            "run verify again"
        ],
    }


def test_rewritten_config_keys_and_mirror_totals_are_shown(tmp_path: Path) -> None:
    provision = row(
        "2.2",
        "provision-topics",
        "succeeded",
        {"created": ["orders"], "rewritten": {"orders": {"segment.ms": "capped at 7 days"}}},
    )
    rows = [provision, row("3.1", "mirror", "succeeded", mirror_record("orders"))]
    model = model_for(tmp_path, MATCHED, rows=rows)

    assert model["provision"][0]["rewritten"] == [["orders", "segment.ms", "capped at 7 days"]]
    assert (model["offset_maps"][0]["records"], model["offset_maps"][0]["bytes"]) == (9, 900)
    page = Page.parse(render_html(model))
    assert "capped at 7 days" in page.text
    assert "9 records, 900 bytes copied in 1 min 15 s." in page.text


# --------------------------------------------------------------------------- #
# Issue 18, part 7: the report reads like evidence.  Each test failed on main
# before the fix (commit 2d5dc72), as its docstring says.
# --------------------------------------------------------------------------- #

UNDONE = {"rolled_back_at": "2026-11-24T05:00:00+00:00", "rolled_back_by": "ops@host"}


def test_a_full_rollback_reads_rolled_back(tmp_path: Path) -> None:
    """Every step that changed something rolled back (read-only steps left as
    they ran): the verdict is ROLLED BACK with one reason.  On main it was
    INCOMPLETE with a bullet per rolled-back step."""
    report = verify_report(tmp_path / "reports" / "verify.json", MATCHED)
    rows = [
        row("1.1", "check-connectivity", "succeeded", {"source": {}, "target": {}}),
        row("2.1", "provision-topics", "rolled_back", {"created": ["orders"]}, **UNDONE),
        row("3.1", "mirror", "rolled_back", mirror_record("orders"), **UNDONE),
        row("3.2", "verify", "succeeded", {"report": str(report), "mismatched": 0}),
        row("4.1", "manual", "rolled_back", {"confirmed_by": "ops@host"}, **UNDONE),
    ]

    model = model_for(tmp_path, MATCHED, rows=rows)

    assert model["verdict"] == {
        "verdict": ROLLED_BACK,
        "reasons": [
            "all 3 steps that changed the target were rolled back, newest first; "
            "the last at 2026-11-24T05:00:00+00:00 by ops@host"
        ],
    }
    page = Page.parse(render_html(model))
    assert page.text.count("ROLLED BACK") >= 1 and "INCOMPLETE" not in page.text


def test_a_partial_rollback_is_not_rolled_back(tmp_path: Path) -> None:
    """A mirror still in place after the provisioning was rolled back: not
    ROLLED BACK (guards the rule above; INCOMPLETE, as on main)."""
    rows = [
        row("2.1", "provision-topics", "rolled_back", {"created": ["orders"]}, **UNDONE),
        row("3.1", "mirror", "succeeded", mirror_record("orders")),
    ]
    assert model_for(tmp_path, MATCHED, rows=rows)["verdict"]["verdict"] == INCOMPLETE


def real_mirror_record(map_file: Path) -> dict[str, Any]:
    """A mirror step's record as kmigrate journals it: the map is a file."""
    return {
        "mode": "follow",
        "ended": "caught up (lag 0 held for 2 s)",
        "offset_map": str(map_file),
        "partitions": [
            {
                "topic": "orders",
                "partition": p,
                "source_start": 0,
                "source_end": 10,
                "target_start": 0,
                "target_end": 10,
                "records": 10,
                "runs": 1,
                "copied_now": 10,
                "bytes": 100,
            }
            for p in range(2)
        ],
        "lag": {"orders": {"records": 0, "seconds": 0.0}},
    }


def test_the_offset_map_section_comes_from_the_mirror_record_and_its_file(tmp_path: Path) -> None:
    """The mirror journals its map as a file (``offset_map``): the report shows
    one row per partition with the runs read from that file.  On main the
    section was empty (``"offset_maps": []``), as in the demo's report."""
    map_file = tmp_path / "offset-map.json"
    map_file.write_text(
        json.dumps(
            {
                "version": 1,
                "partitions": [
                    {
                        "topic": "orders",
                        "partition": p,
                        "source_start": 0,
                        "target_start": 0,
                        "source_position": 10,
                        "target_position": 10,
                        "records": 10,
                        "runs": [[0, 0, 10]],
                    }
                    for p in range(2)
                ],
            }
        )
    )
    rows = [row("3.1", "mirror", "succeeded", real_mirror_record(map_file))]

    model = model_for(tmp_path, MATCHED, rows=rows)

    [section] = model["offset_maps"]
    assert [(p["partition"], p["records"], p["runs"]) for p in section["partitions"]] == [
        (0, 10, [[0, 0, 10]]),
        (1, 10, [[0, 0, 10]]),
    ]
    assert section["ended"] == "caught up (lag 0 held for 2 s)"
    page = Page.parse(render_html(model))
    assert "Offset maps" in page.text and "0 → 0 × 10" in page.text


def test_how_each_mirror_ended_is_shown(tmp_path: Path) -> None:
    """The journaled end reason (``end_reason``, else ``ended``) or the failure
    heads each mirror's section.  On main the report did not say how a mirror
    ended."""
    stopped = real_mirror_record(tmp_path / "gone.json")
    stopped["end_reason"] = "stopped by operator (SIGTERM)"
    failed = real_mirror_record(tmp_path / "gone.json")
    rows = [
        row("3.1", "mirror", "succeeded", stopped, id="mirror-a"),
        row("3.2", "mirror", "failed", failed, id="mirror-b", error="target unreachable"),
    ]

    page = Page.parse(render_html(model_for(tmp_path, MATCHED, rows=rows)))

    text = " ".join(page.text.split())
    assert "Ended: stopped by operator (SIGTERM)." in text
    assert "Ended: failed: target unreachable." in text


def mirror_row(definition_changed: bool = False, **definition: Any) -> dict[str, Any]:
    """A succeeded mirror step with its journaled definition (plus ``definition``)."""
    return row(
        "3.1",
        "mirror",
        "succeeded",
        mirror_record("orders"),
        definition={"action": "mirror", "mode": "follow", "settle_s": 2, **definition},
        definition_changed=definition_changed,
    )


def test_journal_values_are_words_not_python_dumps(tmp_path: Path) -> None:
    """Event details, step flags and definitions are shown in words: no
    ``[{'check': 'ok', …}]``, ``existed_before False`` or ``phase=None``.  On
    main they were Python reprs."""
    rows = [mirror_row(append=False, definition_changed=True)]
    events = [
        {
            "at": "2026-11-24T02:00:00+00:00",
            "by": "ops@host",
            "event": "rollback",
            "phase": None,
            "checks": [{"check": "ok", "kind": "record"}],
            "existed_before": False,
        }
    ]

    page = Page.parse(render_html(model_for(tmp_path, MATCHED, rows=rows, events=events)))

    text = " ".join(page.text.split())
    for dump in ("{'", "['", "None", "False", "True", "phase="):
        assert dump not in text, dump
    assert "checks: (check: ok; kind: record)" in text
    assert "existed before: no" in text
    assert "definition changed: yes" in text


def test_step_definitions_are_folded_in_details(tmp_path: Path) -> None:
    """Each step's definition sits in a closed ``<details>`` element (no script),
    not as chips on every step.  On main there was no ``<details>``."""
    rows = [mirror_row()]

    html = render_html(model_for(tmp_path, MATCHED, rows=rows))

    page = Page.parse(html)
    assert {"details", "summary"} <= page.tags_seen and "script" not in page.tags_seen
    folded = html.split('<details class="definition">', 1)[1].split("</details>", 1)[0]
    assert "settle s" in folded and "follow" in folded and "open" not in folded.split(">")[0]


def test_an_mm2_alignment_and_its_offset_syncs_are_shown(tmp_path: Path) -> None:
    """A mirror record with an ``alignment`` (an MM2 copy's map built by
    alignment, kmigrate.offsets.build.AlignReport.as_json): the report names its
    problems, each offset sync that disagrees among them, and the check's counts."""
    from kmigrate.offsets.align import PartitionAlignment
    from kmigrate.offsets.build import AlignReport
    from kmigrate.offsets.map import OffsetRun

    found = AlignReport([PartitionAlignment("orders", 0, 10, duplicates=[OffsetRun(3, 6, 3)])])
    found.offset_syncs = {
        "topic": "mm2-offset-syncs.source.internal",
        "read": 4,
        "checked": 3,
        "malformed": [],
        "disagreements": [
            {
                "topic": "orders",
                "partition": 0,
                "upstream": 4,
                "downstream": 7,
                "exact": 4,
                "reason": "MM2's sync points at target offset 7, a second copy",
            }
        ],
    }
    record = {**real_mirror_record(tmp_path / "offset-map.json"), "alignment": found.as_json()}
    model = model_for(tmp_path, MATCHED, rows=[row("3.1", "mirror", "succeeded", record)])
    [section] = model["offset_maps"]
    assert section["alignment"]["sync_disagreements"] == 1
    assert section["alignment"]["syncs_checked"] == 3
    page = Page.parse(render_html(model)).text
    assert (
        "3 records copied twice (first: source offsets 3..5 again at target offsets 6..8)" in page
    )
    assert "MM2's offset sync 4 -> 7 disagrees with the exact map" in page
    assert "3 checked, 1 disagree with the exact map" in page

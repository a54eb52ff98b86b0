"""Each step's typed record (issue 16): found by the journaled action, the same
JSON in the journal as before, and the one summary ``status`` and the report show.

No broker: records are built as the steps journal them (shapes from each step
module's docstring and code at the time of issue 16).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kmigrate.commands.status import summarize
from kmigrate.report.model import summarize_record
from kmigrate.steps import RECORDS, REGISTRY, read_record, record_of
from kmigrate.steps.base import StepRecord
from kmigrate.steps.mirror import MirrorRecord

#: One record per action, as the step journals it.
JOURNALED: dict[str, dict[str, Any]] = {
    "check-connectivity": {
        "source": {"cluster_id": "src", "broker_count": 1, "topic_count": 12},
        "target": {
            "cluster_id": "tgt",
            "broker_count": 3,
            "topic_count": 12,
            "type": "kafka",
            "found": {"brokers": "3"},
            "facts": {},
        },
        "permissions": {"checked": 4, "missing": [], "not_checked": []},
    },
    "export-topics": {
        "output": "state/snapshots/topics.yaml",
        "topics": ["a", "b"],
        "consumer_groups": ["g"],
        "sha256": "ab" * 32,
    },
    "provision-topics": {
        "created": ["a"],
        "existing": ["b"],
        "differences": {"b": ["partitions 3 on the target, 6 on the source"]},
        "dropped": {"a": {"x.y": "unknown key"}},
        "rewritten": {},
        "accepted": [{"topic": "a", "key": "k", "reason": "r", "rule": "rule-1"}],
        "planned_create": [],
    },
    "mirror": {
        "mode": "follow",
        "ended": "caught up (lag 0 held for 2 s)",
        "offset_map": "state/offset-map.json",
        "resumed_records": 0,
        "foreign_records": 0,
        "partitions": [
            {
                "topic": "a",
                "partition": 0,
                "source_start": 0,
                "source_end": 10,
                "target_start": 0,
                "target_end": 10,
                "records": 10,
                "runs": 1,
                "copied_now": 10,
                "bytes": 100,
            }
        ],
        "lag": {"a": {"records": 0, "seconds": 0.0}},
        "lost": [],
        "retention_warnings": [],
        "target_stamps_time": [],
        "resumed": False,
    },
    "verify": {
        "report": "state/reports/verify.json",
        "partitions": 6,
        "matched": 5,
        "mismatched": 1,
        "source_records": 1200,
        "target_records": 1199,
        "timestamps_not_compared": ["a"],
    },
    "translate-offsets": {
        "groups": [
            {"group": "g1", "status": "translated", "reason": None, "existed_before": False},
            {"group": "g2", "status": "refused", "reason": "active", "existed_before": True},
        ]
    },
    "dual-write-check": {
        "report": "state/reports/dual-write.json",
        "since": "2026-11-24T02:00:00.000Z",
        "until": "2026-11-24T03:00:00.000Z",
        "topics": 7,
        "topics_differing": 1,
        "source_records": 1200,
        "target_records": 1199,
        "only_on_source": 1,
        "only_on_target": 0,
        "differing": 0,
        "tolerated": 2,
    },
    "shell": {"command": "make deploy", "exit_code": 0, "log": "state/logs/step-x.log"},
    "manual": {
        "instruction": "Point the consumers at the target",
        "confirmed_by": "ops@host",
        "confirmed_at": "2026-11-24T02:00:00+00:00",
    },
    "provision-acls": {
        "kind": "kafka-acls",
        "counts": {"copied": 1, "converted": 1, "dropped": 0, "refused": 0},
        "created": [
            {
                "resource_type": "TOPIC",
                "name": "orders",
                "pattern_type": "LITERAL",
                "principal": "User:sa-1",
                "host": "*",
                "operation": "WRITE",
                "permission": "ALLOW",
            }
        ],
        "existing": [
            {
                "resource_type": "GROUP",
                "name": "g",
                "pattern_type": "LITERAL",
                "principal": "User:app",
                "host": "*",
                "operation": "READ",
                "permission": "ALLOW",
            }
        ],
        "output": None,
        "sha256": "",
        "assignments": [],
    },  # fmt: skip
    "source-quiet": {
        "quiet": False,
        "quiet_s": 10,
        "partitions": 6,
        "watched_s": 10.02,
        "samples": 11,
        "writing": [
            {
                "topic": "orders",
                "partition": 0,
                "first_high_watermark": 120,
                "last_high_watermark": 240,
                "records": 120,
                "records_per_s": 11.98,
            }
        ],
    },
    "consumers-on-target": {
        "holds": True,
        "timeout_s": 30,
        "waited_s": 4.2,
        "looks": 3,
        "groups": [
            {
                "group": "billing",
                "holds": True,
                "target_state": "STABLE",
                "target_members": ["rdkafka (m-1 on /10.0.0.5)"],
                "source_state": "EMPTY",
                "source_members": [],
                "behind": [],
                "problems": [],
            }
        ],
    },
}


def test_every_action_has_a_record_type() -> None:
    """The registry maps every action a plan can hold to a StepRecord type."""
    assert set(RECORDS) == set(REGISTRY) | {"manual", "shell"} == set(JOURNALED)
    assert all(issubclass(kind, StepRecord) for kind in RECORDS.values())


@pytest.mark.parametrize("action", sorted(JOURNALED))
def test_a_journaled_record_reads_back_to_the_same_json(action: str) -> None:
    """An existing journal still loads: each record read through its type
    gives back exactly the JSON the journal holds."""
    journaled = copy.deepcopy(JOURNALED[action])

    typed = read_record(action, journaled)

    assert isinstance(typed, RECORDS[action])
    assert typed.to_json() == JOURNALED[action]


@pytest.mark.parametrize("action", sorted(JOURNALED))
def test_status_and_the_report_show_the_same_summary(action: str) -> None:
    record = JOURNALED[action]

    assert summarize(action, record) == summarize_record(action, record)


def test_the_summary_follows_the_action_not_the_keys() -> None:
    """A shell step's record that happens to hold a ``created`` key is summed
    up as a shell step's.  Before issue 16 ``status`` guessed the step from the
    keys and called it a provisioning ("created 1, existing 0")."""
    record = {**JOURNALED["shell"], "created": ["x"]}

    assert summarize("shell", record) == "exit code 0"
    assert summarize_record("shell", record) == "exit code 0"


def test_summaries_say_what_each_step_recorded() -> None:
    lines = {action: summarize(action, record) for action, record in JOURNALED.items()}

    assert lines == {
        "check-connectivity": "source: 1 brokers, 12 topics, target: 3 brokers, 12 topics",
        "export-topics": "2 topics -> state/snapshots/topics.yaml",
        "provision-topics": "created 1, existing 1",
        "mirror": "1 partitions, 10 records in 1 runs; follow: caught up (lag 0 held for 2 s);"
        " lag 0 records, 0.0 s",
        "verify": "5 matched, 1 mismatched",
        "translate-offsets": "2 groups: 1 translated, 1 refused",
        "dual-write-check": "7 topics, 1 differing",
        "shell": "exit code 0",
        "manual": "confirmed by ops@host",
        "source-quiet": "NOT quiet: orders[0] 11.98 records/s",
        "consumers-on-target": "1 of 1 consumer groups resumed on the target",
        "provision-acls": "created 1 ACL bindings (1 existed)",
    }


def test_a_record_its_type_cannot_read_is_shown_as_found() -> None:
    """A mirror record from before the offset map was a file, or with odd
    partitions, is no MirrorRecord; status shows its JSON, the report its keys,
    neither fails."""
    odd = {"offset_map": "m.json", "partitions": [{"topic": "a", "unexpected": 1}]}

    assert read_record("mirror", odd) is None
    assert MirrorRecord.from_json({"partitions": []}) is None
    assert summarize("mirror", odd).startswith('{"offset_map": "m.json"')
    assert summarize_record("mirror", odd) == "offset_map, partitions"
    assert read_record("no-such-action", JOURNALED["shell"]) is None
    assert summarize("mirror", None) == summarize_record("mirror", {}) == "-"


def test_a_step_does_not_go_on_from_a_record_it_cannot_read() -> None:
    """What a step looks up (``ctx.journal_lookup``) raises on a damaged record
    instead of reading it as none: verify would otherwise compare whole
    partitions as if no mirror had run."""
    odd = {"offset_map": "m.json", "partitions": [{"topic": "a", "unexpected": 1}]}

    with pytest.raises(TypeError):
        record_of("mirror", odd)
    assert isinstance(record_of("mirror", JOURNALED["mirror"]), MirrorRecord)

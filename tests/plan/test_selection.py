"""Tests for kmigrate.selection.select_topics and kmigrate.snapshot dump/load."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmigrate.errors import PlanError
from kmigrate.selection import select_topics
from kmigrate.snapshot import Snapshot, SnapshotSource, TopicSnapshot, dump, load, write

# --------------------------------------------------------------------------- #
# select_topics
# --------------------------------------------------------------------------- #

NAMES = ["orders", "orders-dlq", "payments", "__consumer_offsets", "_schemas", "Orders"]


def test_include_glob() -> None:
    assert select_topics(NAMES, ["orders*"], []) == ["orders", "orders-dlq"]


def test_exclude_glob_wins_over_include() -> None:
    assert select_topics(NAMES, ["orders*"], ["*-dlq"]) == ["orders"]


def test_default_style_excludes_internal_topics() -> None:
    assert select_topics(NAMES, ["*"], ["__*", "_schemas"]) == [
        "Orders",
        "orders",
        "orders-dlq",
        "payments",
    ]


def test_several_includes_are_a_union() -> None:
    assert select_topics(NAMES, ["payments", "orders"], []) == ["orders", "payments"]


def test_globs_are_case_sensitive() -> None:
    assert select_topics(NAMES, ["Orders"], []) == ["Orders"]
    assert select_topics(NAMES, ["o*"], []) == ["orders", "orders-dlq"]


def test_character_class_and_single_char_globs() -> None:
    names = ["t1", "t2", "t10", "tx"]
    assert select_topics(names, ["t[0-9]"], []) == ["t1", "t2"]
    assert select_topics(names, ["t?"], ["t2"]) == ["t1", "tx"]


def test_output_is_sorted_and_deduplicated() -> None:
    names = ["b", "a", "c", "a", "b"]
    assert select_topics(names, ["*"], []) == ["a", "b", "c"]


def test_no_include_selects_nothing() -> None:
    assert select_topics(NAMES, [], []) == []


def test_accepts_a_mapping_of_names() -> None:
    """Callers pass ``cluster.topics()``, a dict keyed by topic name."""
    assert select_topics({"b": 1, "a": 2}, ["*"], []) == ["a", "b"]


topic_names = st.lists(st.text(alphabet="abAB._-1", min_size=1, max_size=5), max_size=12)
patterns = st.lists(st.text(alphabet="abAB._-1*?", min_size=1, max_size=4), max_size=3)


@given(topic_names, patterns, patterns)
def test_select_topics_properties(names: list[str], include: list[str], exclude: list[str]) -> None:
    out = select_topics(names, include, exclude)
    assert set(out) <= set(names)
    assert out == sorted(set(out))
    for name in out:
        assert any(fnmatch.fnmatchcase(name, p) for p in include)
        assert not any(fnmatch.fnmatchcase(name, p) for p in exclude)
    for name in set(names) - set(out):
        assert not any(fnmatch.fnmatchcase(name, p) for p in include) or any(
            fnmatch.fnmatchcase(name, p) for p in exclude
        )


# --------------------------------------------------------------------------- #
# snapshot dump/load
# --------------------------------------------------------------------------- #

SOURCE = SnapshotSource(type="kafka", bootstrap_servers="127.0.0.1:19092")


def build(order: int) -> Snapshot:
    topics = {
        "purchase-created": TopicSnapshot(
            partitions=3,
            replication_factor=1,
            configs={"cleanup.policy": "compact", "retention.ms": "1000"},
        ),
        "audit": TopicSnapshot(partitions=1, replication_factor=3, configs={}),
    }
    groups = {
        "billing": {"purchase-created": {0: 12, 1: 40, 2: 7}},
        "audit-reader": {"audit": {0: 1}},
    }
    if order:
        topics = dict(reversed(list(topics.items())))
        topics["purchase-created"] = TopicSnapshot(
            partitions=3,
            replication_factor=1,
            configs={"retention.ms": "1000", "cleanup.policy": "compact"},
        )
        groups = {
            "audit-reader": {"audit": {0: 1}},
            "billing": {"purchase-created": {2: 7, 1: 40, 0: 12}},
        }
    return Snapshot(source=SOURCE, topics=topics, consumer_groups=groups)


def test_dump_is_independent_of_insertion_order() -> None:
    a, b = build(0), build(1)
    assert list(a.topics) != list(b.topics)  # really built in different orders
    assert dump(a) == dump(b)


def test_dump_is_sorted() -> None:
    text = dump(build(1))
    assert text.index("audit:") < text.index("purchase-created:")
    assert text.index("cleanup.policy") < text.index("retention.ms")
    assert text.index("consumer_groups:") < text.index("source:") < text.index("topics:")
    assert "audit-reader" in text and text.index("audit-reader") < text.index("billing")


def test_dump_round_trips_through_load(tmp_path: Path) -> None:
    path = tmp_path / "snap.yaml"
    snapshot = build(0)
    write(snapshot, path)
    assert path.read_text(encoding="utf-8") == dump(snapshot)
    loaded = load(path)
    assert loaded == snapshot
    assert dump(loaded) == dump(snapshot)


def test_load_invalid_value_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "snap.yaml"
    path.write_text(
        "version: 1\n"
        "source:\n"
        "  type: kafka\n"
        "  bootstrap_servers: 127.0.0.1:19092\n"
        "topics:\n"
        "  orders:\n"
        "    partitions: 0\n"
        "    replication_factor: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(PlanError) as info:
        load(path)
    assert f"{path}:7:" in str(info.value)
    assert "partitions" in str(info.value)


def test_load_unknown_key_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "snap.yaml"
    path.write_text(
        "version: 1\nsource:\n  type: kafka\n  bootstrap_servers: a:1\n  password: x\n",
        encoding="utf-8",
    )
    with pytest.raises(PlanError) as info:
        load(path)
    assert f"{path}:5:" in str(info.value)


def test_load_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "snap.yaml"
    path.write_text("version: 1\nsource: [unclosed\n", encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}:")
    assert "not valid YAML" in str(info.value)


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(PlanError) as info:
        load(path)
    assert str(path) in str(info.value)

"""Issue 15, ``kmigrate init``'s plan writer without a broker: text read from a cluster
cannot escape the comment it is written in."""

from __future__ import annotations

from pathlib import Path

import yaml

from kmigrate.acls.model import AclBinding, Operation, PatternType, Permission, ResourceType
from kmigrate.plan.loader import parse_plan
from kmigrate.plan.writer import ACLS_READ, AclFindings, InitInputs, render_plan
from kmigrate.snapshot import Snapshot, SnapshotSource, TopicSnapshot


def test_a_principal_with_line_breaks_stays_inside_its_comment(tmp_path: Path) -> None:
    """A principal holding a newline, a carriage return and U+2028 (a line break to YAML),
    shaped to add a shell step if it left its comment or its quoted ``acls:`` key: the
    plan's data is the same as with a plain principal but for that key, which holds the
    principal exactly, and the breaks are shown escaped.  The Admin API accepts any
    principal string, so a source can hold one.  Failed before comment text was escaped
    (the injected line became plan data)."""
    evil = "User:x\n      - shell: touch /tmp/pwned\r\u2028phases: []"

    def plan_for(principal: str) -> str:
        binding = AclBinding(ResourceType.TOPIC, "orders", PatternType.LITERAL, principal, "*",
                             Operation.READ, Permission.ALLOW)  # fmt: skip
        return render_plan(
            InitInputs(
                name="m",
                source_type="kafka",
                source_bootstrap="127.0.0.1:9092",
                target_type="kafka",
                snapshot=Snapshot(
                    source=SnapshotSource(type="kafka", bootstrap_servers="127.0.0.1:9092"),
                    topics={"orders": TopicSnapshot(partitions=1, replication_factor=1)},
                ),
                snapshot_file="plan.snapshot.yaml",
                acls=AclFindings(
                    ACLS_READ,
                    authorizer="x",
                    bindings=(binding,),
                    skipped=(f"UNKNOWN {principal}",),
                ),  # fmt: skip
            )
        )

    text = plan_for(evil)

    evil_plan, plain_plan = yaml.safe_load(text), yaml.safe_load(plan_for("User:plain"))
    assert list(evil_plan.pop("acls")["principals"]) == [evil]
    assert list(plain_plan.pop("acls")["principals"]) == ["User:plain"]
    assert evil_plan == plain_plan
    assert "touch /tmp/pwned" in text and "\\x0a" in text and "\\u2028" in text
    data_lines = [ln for ln in text.splitlines() if "pwned" in ln and ln.lstrip()[:1] != "#"]
    assert len(data_lines) == 1 and data_lines[0].lstrip().startswith('"User:x\\n')
    parse_plan(text, tmp_path / "plan.yaml")  # still a valid plan

"""The verify proof file (``verify-proof.json``) as kmigrate reads it back: no broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmigrate.errors import StepFailed
from kmigrate.verify.proof import FILE_NAME, Proof


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"version": 99, "partitions": []}', "version 99, expected 1"),
        ("{not json", "Expecting property name"),
        ('{"version": 1}', "'partitions'"),
    ],
)
def test_a_proof_file_changed_by_hand_is_refused_naming_the_file(
    tmp_path: Path, text: str, reason: str
) -> None:
    """A proof another program changed is refused with the file's path, what is wrong
    and how to go on (remove it, or verify --full): never reused, never a traceback."""
    (tmp_path / FILE_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(StepFailed) as caught:
        Proof.load(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / FILE_NAME}: not a valid verify proof (")
    assert reason in message
    assert "verify --full" in message


def test_no_proof_file_is_an_empty_proof(tmp_path: Path) -> None:
    """Without a file the proof is empty and will be written where it belongs."""
    proof = Proof.load(tmp_path)
    assert proof.path == tmp_path / FILE_NAME
    assert proof.as_json()["partitions"] == []

"""kmigrate's errors cross process boundaries whole (worker pools pickle them)."""

from __future__ import annotations

import pickle

from kmigrate import errors


def test_every_error_survives_pickling_with_its_attributes() -> None:
    """A worker that raised OffsetOutOfRange broke verify's process pool
    (BrokenProcessPool, exit 3) instead of reporting the partition: pickling called
    ``__init__(message)`` alone.  Fails on the code before the fix."""
    cases = [
        errors.OffsetOutOfRange("t[0] no longer holds the records", "t", 0, 5),
        errors.RecordsLost("lost", "source", "t", 1, 3, 9),
        errors.PartialRollback("partly", ["deleted topic t"]),
        errors.ClusterError("target (127.0.0.1:9092): unreachable"),
        errors.UsageError("bad"),
    ]
    for err in cases:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert str(back) == str(err)
        assert back.__dict__ == err.__dict__
        assert back.exit_code == err.exit_code

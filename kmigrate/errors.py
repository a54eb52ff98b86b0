"""The one exception hierarchy of kmigrate, and the exit code each maps to.

Exit codes (handled in :mod:`kmigrate.error_handler`):

* 0 -- success
* 1 -- a step failed, or verification found a difference (:class:`StepFailed`,
  :class:`VerificationFailed`, :class:`ClusterError`)
* 2 -- invalid plan or usage (:class:`PlanError`, :class:`UsageError`)
* 3 -- internal error (any other exception; the traceback goes to a log file)
* 130 -- interrupted (Ctrl-C)

Vendor exceptions (``KafkaException``, botocore, azure) are translated into
these inside the adapter that called the vendor SDK.
"""

from __future__ import annotations

from typing import Any

from kmigrate.redact import redact


class KmigrateError(Exception):
    """Root of every error kmigrate expects; ``exit_code`` is what the CLI returns.

    Text arguments pass through :func:`kmigrate.redact.redact`: a secret value
    resolved from a ``${…}`` reference never survives into a message, and so
    never reaches the terminal, the log or the journal.
    """

    exit_code = 1

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its attributes, without calling ``__init__`` again: an error a
        worker process raises reaches the parent whole (by default pickling calls
        ``__init__(*args)``, which fails for a subclass with more parameters, and
        ``concurrent.futures`` then reports a broken pool instead of the error)."""
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[KmigrateError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """The inverse of :meth:`KmigrateError.__reduce__`."""
    err = Exception.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class UsageError(KmigrateError):
    """The command line asked for something impossible (exit 2)."""

    exit_code = 2


class PlanError(KmigrateError):
    """A plan (or snapshot) file is invalid (exit 2).

    The message names the file, the line, the key path, what was expected and
    what was found.
    """

    exit_code = 2


class ClusterError(KmigrateError):
    """A cluster could not be reached or refused a request (exit 1)."""


class Unreachable(ClusterError):
    """A cluster did not answer: no connection to its bootstrap servers (exit 1).

    The message is one line naming the cluster, its address, what was tried
    and librdkafka's last word on it; ``with_hint`` adds where to fix the
    address.  Attributes: ``role`` (``source`` / ``target``), ``bootstrap_servers``.
    """

    def __init__(self, message: str, role: str = "", bootstrap_servers: str = "") -> None:
        super().__init__(message)
        self.role = role
        self.bootstrap_servers = bootstrap_servers

    def with_hint(self, hint: str) -> Unreachable:
        """The same error with `` Check HINT.`` appended (e.g. the plan key)."""
        return Unreachable(f"{self} Check {hint}.", self.role, self.bootstrap_servers)


class OffsetOutOfRange(ClusterError):
    """A read position the partition no longer holds: the log start offset moved
    past it (retention, DeleteRecords), or it lies past the log end (exit 1).

    Attributes: ``topic``, ``partition``, ``offset`` (the position asked for).
    """

    def __init__(self, message: str, topic: str, partition: int, offset: int) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition
        self.offset = offset


class StepFailed(KmigrateError):
    """A step of the plan failed (exit 1)."""


class VerificationFailed(StepFailed):
    """Verification found a difference between source and target (exit 1)."""


class PartialRollback(StepFailed):
    """A step's rollback did part of its work; ``undone`` lists what it did (exit 1)."""

    def __init__(self, message: str, undone: list[str]) -> None:
        super().__init__(message)
        self.undone = undone


class RecordsLost(StepFailed):
    """Records that should have been copied are gone (exit 1).

    ``side`` is ``source`` (the log start offset passed the copy position:
    retention won the race) or ``target`` (the target no longer holds records
    the offset map says were copied).  ``start``/``end``: the lost offsets
    ``[start, end)`` on that side.
    """

    def __init__(
        self, message: str, side: str, topic: str, partition: int, start: int, end: int
    ) -> None:
        super().__init__(message)
        self.side = side
        self.topic = topic
        self.partition = partition
        self.start = start
        self.end = end


class StoppedByOperator(StepFailed):
    """A following mirror was stopped on purpose (SIGINT/SIGTERM).

    The copy is clean and resumable.  The stop is a successful end of the step:
    ``execute`` journals the step ``succeeded`` with ``record`` (its ``ended``
    says "stopped by operator (SIGTERM)") and ends the run there, naming the
    phase's remaining steps.  Exit code 0: the stop was requested, nothing failed.

    Attributes: ``record``, the step's record (plain JSON) as it ended.
    """

    exit_code = 0

    def __init__(self, message: str, record: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.record = dict(record or {})


class RefusedError(KmigrateError):
    """kmigrate refused to run: a gate (phase order, window, lock) is closed (exit 1)."""


class JournalError(KmigrateError):
    """The journal file cannot be read or trusted (exit 1).

    The message names the file, what is wrong, and where the previous good
    version is kept.
    """

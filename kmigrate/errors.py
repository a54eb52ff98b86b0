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


class StepFailed(KmigrateError):
    """A step of the plan failed (exit 1)."""


class VerificationFailed(StepFailed):
    """Verification found a difference between source and target (exit 1)."""


class PartialRollback(StepFailed):
    """A step's rollback did part of its work; ``undone`` lists what it did (exit 1)."""

    def __init__(self, message: str, undone: list[str]) -> None:
        super().__init__(message)
        self.undone = undone


class RefusedError(KmigrateError):
    """kmigrate refused to run: a gate (phase order, window, lock) is closed (exit 1)."""


class JournalError(KmigrateError):
    """The journal file cannot be read or trusted (exit 1).

    The message names the file, what is wrong, and where the previous good
    version is kept.
    """

"""kmigrate's log file, and where the Kafka client's own log goes.

librdkafka writes its log (``%3|…|FAIL|…`` lines) to stderr unless the client
is given a Python logger (confluent-kafka's ``logger`` setting; the log lines
are then handed over when the client is polled).  kmigrate gives every client
:func:`client_logger`: its lines go to kmigrate's log file only, never to the
terminal; what the operator reads are kmigrate's own messages, which quote the
last connection failure (:func:`last_failure`) where it explains an error.

The file is ``$KMIGRATE_LOG`` or ``~/.cache/kmigrate/kmigrate.log``: its
folder is created 0700, the file 0600, it is never opened through a symbolic
link (``O_NOFOLLOW``) and must belong to the user running kmigrate; when it
cannot be opened so, the client's log is dropped (nothing reaches stderr).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from kmigrate import safefs

#: The logger of librdkafka's lines; one child per cluster role
#: (``kmigrate.client.source``, ``kmigrate.client.target``).
CLIENT_LOGGER = "kmigrate.client"

_lock = threading.Lock()
_ready = False
#: The last warning or error line each role's clients logged (librdkafka's words).
_last: dict[str, str] = {}


def log_path() -> Path:
    """Where kmigrate logs: ``$KMIGRATE_LOG`` or ``~/.cache/kmigrate/kmigrate.log``."""
    configured = os.environ.get("KMIGRATE_LOG")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "kmigrate" / "kmigrate.log"


class _Last(logging.Handler):
    """Keeps each role's last warning or error line for :func:`last_failure`."""

    def emit(self, record: logging.LogRecord) -> None:
        role = record.name.rsplit(".", 1)[-1]
        with contextlib.suppress(Exception):
            _last[role] = record.getMessage()


def _setup() -> None:
    """Attach the handlers once per process: the file (when it opens), the
    last-line keeper, and a NullHandler so that nothing falls back to stderr."""
    global _ready
    with _lock:
        if _ready:
            return
        parent = logging.getLogger(CLIENT_LOGGER)
        parent.setLevel(logging.DEBUG)  # librdkafka sends debug lines only when `debug` is set
        parent.propagate = False  # never to a root handler on the terminal
        parent.addHandler(logging.NullHandler())
        keeper = _Last(logging.WARNING)
        parent.addHandler(keeper)
        try:
            stream = safefs.open_append(log_path())
        except OSError:
            stream = None
        if stream is not None:
            handler = logging.StreamHandler(stream)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
            )
            parent.addHandler(handler)
        _ready = True


def client_logger(role: str) -> logging.Logger:
    """The logger to give a Kafka client of the cluster in ``role`` (its
    ``logger`` setting): librdkafka's lines go to the log file only."""
    _setup()
    return logging.getLogger(f"{CLIENT_LOGGER}.{role}")


def last_failure(role: str) -> str | None:
    """The last warning or error librdkafka logged for ``role``'s clients in
    this process (e.g. ``…: Connect to ipv4#127.0.0.1:1 failed: Connection
    refused (after 0ms in state CONNECT)``), or None."""
    return _last.get(role)

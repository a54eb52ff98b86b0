"""Read a file kmigrate was pointed at (a plan, a topic snapshot) without trusting it.

The path may name anything: a directory, a FIFO that never delivers, a device
such as ``/dev/zero`` that never ends, a file of gigabytes, a secret file that
is not YAML at all.  :func:`read_text` refuses all of these before or while
reading, with a message that names the file and the kind of problem and never
quotes the file's content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kmigrate.errors import PlanError

#: Largest plan file read, in bytes (1 MiB: a plan is a hand-written checklist).
PLAN_MAX_BYTES = 1024 * 1024
#: Largest ``${file:path}`` secret read, in bytes (a key or certificate chain fits).
SECRET_MAX_BYTES = 1024 * 1024
#: Largest topic snapshot read, in bytes (16 MiB: thousands of topics and groups).
SNAPSHOT_MAX_BYTES = 16 * 1024 * 1024


def _kind(mode: int) -> str:
    """What a non-regular file is, in words (from its ``st_mode``)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size:,} bytes"


class Unreadable(Exception):
    """A file cannot be read; ``args[0]`` says why, without its content."""


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of regular file ``path``, at most ``max_bytes`` of them.

    Checked before opening (``os.stat``, following symlinks): the file exists
    and is a regular file, so opening never blocks on a FIFO or a device.  The
    file is opened with ``O_NONBLOCK`` all the same (it could be swapped
    between the check and the open) and at most ``max_bytes + 1`` bytes are
    read, so a file that grows without end is refused too.

    Raises:
        FileNotFoundError: no such file.
        Unreadable: not a regular file, unreadable, or over ``max_bytes``;
            the message says which, in words.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise Unreadable(_reason(exc)) from None
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable(f"{_kind(info.st_mode)}, not a file")
    if info.st_size > max_bytes:
        raise Unreadable(f"{_size_text(info.st_size)} is over the limit of {_size_text(max_bytes)}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the check
            raise Unreadable("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise Unreadable(f"over the limit of {_size_text(max_bytes)}")
    return data


def read_text(path: Path, what: str, max_bytes: int) -> str:
    """The text of regular file ``path`` (see :func:`read_bytes`), decoded as UTF-8.

    Args:
        path: the file.
        what: what the file is, for messages (``"plan"``, ``"topic snapshot"``).
        max_bytes: size limit in bytes.

    Raises:
        PlanError: missing, not a regular file, unreadable, larger than
            ``max_bytes``, or not UTF-8.  The message names the file (and the
            line and column of the first byte that is not UTF-8), never its
            content.
    """
    try:
        data = read_bytes(path, max_bytes)
    except FileNotFoundError:
        raise PlanError(f"{path}: no such {what} file") from None
    except Unreadable as exc:
        raise PlanError(f"{path}: cannot read the {what}: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PlanError(
            f"{path}:{line}:{column}: cannot read the {what}: not UTF-8 text "
            "(save the file as UTF-8)"
        ) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, ValueError):
        return "the path is not usable (it holds a NUL character)"
    return type(exc).__name__

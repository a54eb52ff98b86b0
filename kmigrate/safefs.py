"""Writing files on a shared host: private folders, no write through a symlink.

kmigrate often runs as a privileged operator (root) on a bastion or CI host
that other users share.  Every file kmigrate writes goes through this module:

* :func:`private_dir` creates a folder ``0700`` and refuses one that another
  user owns or that group or others can write (they could replace the journal
  that ``rollback`` trusts, or plant a symlink where kmigrate writes);
* :func:`atomic_write` replaces a file by a new one written under an
  unpredictable name (``mkstemp``, ``0600``) and renamed over it, so a symlink
  at the path is replaced, never followed;
* :func:`open_append` and :func:`open_lock` open a file that is written in
  place (a log, the lock) with ``O_NOFOLLOW`` and ``0600``, and refuse anything
  but a regular file of the current user;
* :func:`keep_copy` makes a second name for a file (the journal's previous
  version) through an unpredictable temporary name.

Source: ``open(2)`` (``O_NOFOLLOW``: "If the trailing component of pathname is
a symbolic link, then the open fails, with the error ELOOP"), ``rename(2)``
(a symlink at *newpath* is replaced), ``mkstemp(3)``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from kmigrate.errors import KmigrateError, StepFailed, UsageError

#: Mode of every folder kmigrate creates (owner only).
DIR_MODE = 0o700
#: Mode of every file kmigrate creates (owner read/write).
FILE_MODE = 0o600


class SharedStateError(UsageError):
    """A state folder another user could steer: not ours, or group/others may write it (exit 2)."""


class UnsafeFileError(KmigrateError):
    """A path kmigrate writes in place is a symlink, not a regular file, or not ours (exit 1)."""


def owner_name(uid: int) -> str:
    """The user name of ``uid`` (``uid 65534`` when the system has no name for it)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def dir_problem(path: Path) -> str | None:
    """Why existing folder ``path`` is not private to the current user, or None.

    Not private: it is a symlink, is owned by another user, or group or others
    may write it (mode ``& 0o022``).  The text names the path, owner and mode.
    """
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    owner = owner_name(st.st_uid)
    me = owner_name(os.geteuid())
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link (owner {owner}); kmigrate does not write through one"
    if st.st_uid != os.geteuid():
        return f"{path} is owned by {owner}, not by {me} who runs kmigrate (mode {mode:04o})"
    if mode & 0o022:
        who = " and ".join(w for w, bit in (("group", 0o020), ("others", 0o002)) if mode & bit)
        return f"{path} (owner {owner}, mode {mode:04o}) can be written by {who}"
    return None


def private_dir(path: Path, *, allow_shared: bool = False) -> bool:
    """Create folder ``path`` (and missing parents) ``0700``, or check the existing one.

    Args:
        path: the folder (a plan's ``state_dir``, the log folder).
        allow_shared: accept a folder another user owns or may write
            (``--allow-shared-state``); the caller journals that it did.

    Returns True when the folder is shared and ``allow_shared`` let it pass.

    Raises:
        SharedStateError: the folder (existing) is not private (see
            :func:`dir_problem`); the message names path, owner and mode and
            the option that overrides it.
    """
    with contextlib.suppress(FileExistsError):
        os.makedirs(path, mode=DIR_MODE)
    problem = dir_problem(path)
    if problem is None:
        return False
    if allow_shared:
        return True
    raise SharedStateError(
        f"refused to use the state folder {problem}: another user could change the journal "
        "that rollback trusts, or plant a symlink where kmigrate writes. Use a folder of your "
        "own (mode 0700), or pass --allow-shared-state (journaled)"
    )


def ensure_dir(path: Path) -> None:
    """Create folder ``path`` and missing parents with mode ``0700`` (an existing one is kept)."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)


def atomic_write(path: Path, text: str | bytes) -> None:
    """Replace ``path`` with ``text`` atomically: ``mkstemp`` (0600), fsync, rename.

    A symlink at ``path`` is replaced by the new file, never followed; the
    temporary name is unpredictable.  Missing parent folders are created 0700.
    """
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _open_private(path: Path, flags: int) -> int:
    """``os.open`` with ``O_NOFOLLOW | O_CREAT | O_NONBLOCK`` at 0600; a regular file of ours.

    Raises:
        UnsafeFileError: ``path`` is a symlink, not a regular file, or owned by another user.
    """
    try:
        fd = os.open(
            path,
            flags | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            FILE_MODE,
        )
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeFileError(
                f"{path} is a symbolic link; kmigrate does not write through one "
                "(remove it, and find out who planted it)"
            ) from None
        if exc.errno is not None and os.path.exists(path) and not os.path.isfile(path):
            raise UnsafeFileError(
                f"{path} is not a regular file; kmigrate writes only to one"
            ) from None
        raise
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = f"{path} is not a regular file; kmigrate writes only to one"
    elif st.st_uid != os.geteuid():
        problem = f"{path} is owned by {owner_name(st.st_uid)}; kmigrate writes only its own files"
    if problem:
        os.close(fd)
        raise UnsafeFileError(problem)
    os.fchmod(fd, FILE_MODE)  # one an older kmigrate created 0644 becomes 0600
    os.set_blocking(fd, True)
    return fd


def open_append(path: Path, *, binary: bool = False) -> IO[Any]:
    """Open ``path`` for appending (a log), never through a symlink, created 0600.

    Missing parent folders are created 0700.

    Raises:
        UnsafeFileError: ``path`` is a symlink, not a regular file, or another user's.
    """
    ensure_dir(path.parent)
    fd = _open_private(path, os.O_WRONLY | os.O_APPEND)
    if binary:
        return os.fdopen(fd, "ab")
    return os.fdopen(fd, "a", encoding="utf-8")


def open_lock(path: Path) -> IO[str]:
    """Open the lock file ``path`` for reading and writing, never through a symlink, 0600.

    Raises:
        UnsafeFileError: ``path`` is a symlink, not a regular file, or another user's.
    """
    fd = _open_private(path, os.O_RDWR)
    return os.fdopen(fd, "r+", encoding="utf-8")


def keep_copy(path: Path, copy: Path) -> None:
    """Make ``copy`` hold the current content of ``path``, atomically.

    A hard link under an unpredictable temporary name, renamed over ``copy``
    (a symlink at ``copy`` is replaced, not followed); where hard links are
    not possible, the content is read (``O_NOFOLLOW``) and written by
    :func:`atomic_write`.
    """
    tmp = copy.with_name(f".{copy.name}.{secrets.token_hex(8)}.tmp")
    try:
        os.link(path, tmp, follow_symlinks=False)
    except OSError:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            atomic_write(copy, handle.read())
        return
    try:
        os.replace(tmp, copy)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_T = TypeVar("_T")


def load_versioned_json(
    path: Path, version: int, what: str, parse: Callable[[dict[str, Any]], _T], hint: str = ""
) -> _T | None:
    """Read a state file kmigrate wrote with :func:`atomic_write`: a JSON object whose
    ``version`` must be ``version``, handed to ``parse``; None when there is no file.

    ``what`` names the file's kind in the error ("offset map"); ``hint`` ends it.

    Raises:
        StepFailed: unreadable, not JSON, another version, or ``parse`` refused it
            (ValueError, KeyError, TypeError, AttributeError); the message names the file.
    """
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != version:
            raise ValueError(f"version {data.get('version')!r}, expected {version}")
        return parse(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StepFailed(
            f"{path}: not a valid {what} ({exc}); it is written atomically, so this "
            f"file was changed by hand or by another program{hint}"
        ) from None

"""Processes seen through /proc (Linux): a command's children, its spawned worker
processes, and whether a process still runs."""

from __future__ import annotations

import time
from pathlib import Path


def children_of(pid: int) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append((int(entry.name), cmdline))
    return out


def worker_pids(pid: int) -> list[int]:
    """The pids of the worker processes ``pid`` spawned (multiprocessing's spawn)."""
    return [p for p, cmd in children_of(pid) if "spawn_main" in cmd]


def wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    """Wait up to ``timeout_s`` seconds for these processes to end; returns
    those still running."""
    deadline = time.monotonic() + timeout_s
    while any(is_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [p for p in pids if is_running(p)]


def is_running(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

"""glibc's mmap threshold (:mod:`kmigrate.adapters.malloc`, issue 7): with it
fixed, buffers of 1 MiB (the size of librdkafka's fetch and produce buffers)
keep mappings of their own instead of growing the C heap.  Each case runs in
a fresh interpreter, because glibc's dynamic threshold is per process state.
glibc on Linux only; elsewhere the module does nothing and the behaviour
tests are skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from kmigrate.adapters import malloc


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):  # no such name outside glibc
        return False


GLIBC = _glibc()

#: Allocates one 1 MiB block and frees it (glibc maps it, and on freeing it
#: raises its dynamic threshold to that size), then 8 more: prints whether
#: the threshold was fixed and by how many bytes the heap (``sbrk(0)``) grew.
PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from kmigrate.adapters.malloc import keep_large_buffers_mapped, reuse_large_buffers
    if sys.argv[1] == "reuse":
        reuse_large_buffers()  # then a client's own call, as in a verify worker
    fixed = keep_large_buffers_mapped() if sys.argv[1] != "default" else False
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.sbrk.restype = ctypes.c_void_p
    libc.sbrk.argtypes = [ctypes.c_long]
    size = int(sys.argv[2])
    libc.free(libc.malloc(size))
    before = libc.sbrk(0)
    blocks = [libc.malloc(size) for _ in range(8)]
    after = libc.sbrk(0)
    print(fixed, after - before)
    """
)


def _probe(mode: str, env: dict[str, str] | None = None, size: int = 1 << 20) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(size)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    fixed, grown = done.stdout.split()
    return fixed, int(grown)


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_with_the_threshold_fixed_large_buffers_do_not_grow_the_heap() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    fixed, grown = _probe("fixed", env)
    assert fixed == "True"
    assert grown < 1 << 20, f"8 blocks of 1 MiB grew the heap by {grown} bytes"
    # The control: glibc's default (dynamic) threshold puts the same blocks on the heap.
    fixed, grown = _probe("default", env)
    assert fixed == "False"
    assert grown >= 8 << 20, f"the heap grew by {grown} bytes only: no dynamic threshold?"


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_an_operators_malloc_mmap_threshold_is_left_alone() -> None:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "4194304"}
    fixed, _grown = _probe("fixed", env)
    assert fixed == "False"


def test_the_threshold_is_set_once_per_process() -> None:
    first = malloc.keep_large_buffers_mapped()
    assert malloc.keep_large_buffers_mapped() is first
    assert malloc.keep_large_buffers_mapped.cache_info().hits >= 1


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_a_verify_worker_reuses_fetch_sized_buffers_from_the_heap() -> None:
    """After :func:`malloc.reuse_large_buffers` (a verify worker's start), blocks
    the size of a 6-partition fetch response (4 MiB here) come from the heap,
    and a client's later :func:`malloc.keep_large_buffers_mapped` leaves that
    so; with the 128 KiB threshold alone they are mapped (the control)."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    fixed, grown = _probe("reuse", env, 4 << 20)
    assert fixed == "True"
    assert grown >= 32 << 20, f"8 blocks of 4 MiB grew the heap by {grown} bytes only"
    fixed, grown = _probe("fixed", env, 4 << 20)
    assert fixed == "True"
    assert grown < 4 << 20, f"8 blocks of 4 MiB grew the heap by {grown} bytes"


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_a_verify_worker_keeps_the_reuse_threshold_after_making_a_consumer() -> None:
    """The wiring: a verify worker's initializer fixes the 32 MiB threshold, and
    the consumer it then makes (whose client calls ``keep_large_buffers_mapped``)
    leaves it so.  No broker is needed: the consumer is closed unused."""
    code = textwrap.dedent(
        """
        from kmigrate.adapters import malloc
        from kmigrate.adapters.kafka import KafkaCluster
        from kmigrate.verify.pool import _verify_worker_init
        _verify_worker_init(None)
        KafkaCluster("source", "127.0.0.1:9", {})._consumer().close()
        print(malloc._fixed)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == str(malloc.REUSE_THRESHOLD_BYTES)

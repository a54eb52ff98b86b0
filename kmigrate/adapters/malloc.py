"""Keep the Kafka clients' large buffers out of the C heap, so memory stays flat.

librdkafka (inside confluent-kafka) takes its fetch responses and produce
requests from the C library's ``malloc``: buffers of up to about 1 MiB
(``max.partition.fetch.bytes``, ``batch.size``).  glibc serves a request of
128 KiB or more with a mapping of its own, returned to the system on
``free``, but its threshold is *dynamic*: after such a mapping is freed it
rises to that size (up to 32 MiB), and later buffers of that size come from
the heap, where the holes between them keep the heap large (mallopt(3),
``M_MMAP_THRESHOLD``: "the lower limit ... is adjusted upward" when a mapped
chunk is freed; setting it "disables the dynamic adjustment").  The
mirror's peak RSS then crept up for as long as it ran: a worker 67 MiB after
1.5 s, 83 MiB after 9 s (3,000,000 records), with Python's own allocations
under 1 MiB throughout (``tracemalloc``).  With the threshold fixed at
128 KiB: peak RSS of 100,000 / 1,000,000 / 3,000,000 records 60 / 68 / 70 MiB
instead of 60 / 74 / 83 MiB (bench/README.md).

A verify worker, which reads to a stop offset and drops each batch once
hashed, fixes the threshold at 32 MiB instead (:func:`reuse_large_buffers`):
there the mappings cost more CPU than the heap costs memory.

Only glibc on Linux is changed; elsewhere this does nothing.  An operator's
``MALLOC_MMAP_THRESHOLD_`` environment variable wins (glibc reads it at
start; this module then leaves the setting alone).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

#: ``M_MMAP_THRESHOLD`` in glibc's ``<malloc.h>``.
M_MMAP_THRESHOLD = -3
#: Bytes from which an allocation gets a mapping of its own: glibc's initial
#: value (``DEFAULT_MMAP_THRESHOLD_MIN``), now fixed.
MMAP_THRESHOLD_BYTES = 128 * 1024


#: The threshold of a process that only reads and hashes, one bounded read
#: (verify's worker processes, :func:`reuse_large_buffers`): glibc's largest
#: (``DEFAULT_MMAP_THRESHOLD_MAX``, 32 MiB on 64-bit; mallopt(3)).
REUSE_THRESHOLD_BYTES = 32 * 1024 * 1024

#: The threshold this process fixed (None: not yet); the first policy wins.
_fixed: int | None = None


@functools.cache
def keep_large_buffers_mapped() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD_BYTES` for this
    process (once; later calls return the first answer).  A process that
    called :func:`reuse_large_buffers` first keeps that threshold.

    Returns True when a threshold is fixed; False where there is no glibc
    (another C library or system), or when ``MALLOC_MMAP_THRESHOLD_`` is set
    in the environment.  Never raises.
    """
    return _fix_threshold(MMAP_THRESHOLD_BYTES)


def reuse_large_buffers() -> bool:
    """Fix glibc's mmap threshold at :data:`REUSE_THRESHOLD_BYTES` for this
    process, before any client is made (later :func:`keep_large_buffers_mapped`
    calls then leave it), so librdkafka's fetch responses come from the heap
    and are reused instead of being mapped, zero-filled page by page and
    unmapped for every response.

    For a process that reads to a stop offset and hashes what it reads (a
    verify worker): a fetch response is one allocation of up to
    ``max.partition.fetch.bytes`` (1 MiB by default) per partition of a broker
    in it, about 6 MiB with 6 partitions (librdkafka CONFIGURATION.md), so a
    fixed 128 KiB threshold mapped about 1 GiB per 1,000,000 records of 1 KB:
    0.35 CPU s of page faults on top of a 1.1 s raw read.  Reading 1,000,000 x
    1 KB, one side, 6 partitions: 3.2 -> 2.85 CPU s; peak RSS 55 -> 64-66 MiB;
    3,000,000 x 200 B 54 -> 57-62 MiB, no creep (bench/README.md).

    Returns as :func:`keep_large_buffers_mapped` (True once either fixed a
    threshold in this process).  Never raises.
    """
    return _fix_threshold(REUSE_THRESHOLD_BYTES)


def _fix_threshold(nbytes: int) -> bool:
    """Set ``M_MMAP_THRESHOLD`` to ``nbytes`` unless this process already fixed one."""
    global _fixed
    if _fixed is not None:
        return True
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not mallopt(M_MMAP_THRESHOLD, nbytes):
        return False
    _fixed = nbytes
    return True

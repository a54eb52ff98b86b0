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


@functools.cache
def keep_large_buffers_mapped() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD_BYTES` for this
    process (once; later calls return the first answer).

    Returns True when the threshold was set; False where there is no glibc
    (another C library or system), or when ``MALLOC_MMAP_THRESHOLD_`` is set
    in the environment.  Never raises.
    """
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
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))

"""The one record digest encoding that verify, the dual-write check and resume share.

Every proof kmigrate gives is a SHA-256 over this canonical encoding of
records, so that what two sides hold can be compared without keeping the
records:

    record = field(key) field(value) u32(len(headers)) {field(name) field(value)}*
             i64(timestamp ms)
    where field(None) = b"\\xff" and field(b) = b"\\x00" + u64(len(b)) + b

(big-endian integers), so null and empty stay distinct, and header order and
duplicates count.  A target that stamps its own time (a topic with
``message.timestamp.type=LogAppendTime``, KIP-32) is compared without the
i64.

A partition's digest chains these encodings by blocks of
:data:`BLOCK_RECORDS` records (:class:`ChainedDigest`)::

    d_0 = b""                       (so a partition of at most one block is
    d_k = SHA-256(d_{k-1} || block k)   plainly SHA-256 of its records)
    digest = d_K when the count is K full blocks (K > 0), else
             SHA-256(d_K || the last, partial block)

so the state after any whole number of blocks is 32 bytes and a record count:
a verify that proved the first K blocks (a following verify, checkpointed in
the state dir, :mod:`kmigrate.verify.proof`) goes on from ``d_K`` and ends
with exactly the digest a full read gives.

Used by: the ordered per-partition comparison (:mod:`kmigrate.verify.compare`,
its fast raw-message path :mod:`kmigrate.verify.summaries` feeding the same
bytes through the packers below), the dual-write check
(:mod:`kmigrate.verify.dual_write`: digests of single fields and of the
headers) and the copy's resume (:mod:`kmigrate.offsets.resume`:
:func:`record_digest`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import Any

from kmigrate.clusters.port import Record

#: Records per block of a partition's chained digest (module docstring; a power of two).
BLOCK_RECORDS = 1024
#: ``field(None)``: one byte that no length prefix starts with.
NULL = b"\xff"
#: ``b"\x00" + u64(len(field))``: the prefix of a present field (call with ``(0, len)``).
FIELD = struct.Struct(">BQ").pack
#: ``u32(0 headers) + i64(timestamp)``: the tail of a record without headers.
NO_HEADERS_TS = struct.Struct(">Iq").pack
#: ``u32(0 headers)``: the tail of a record without headers, no timestamp.
NO_HEADERS = struct.pack(">I", 0)
#: ``u32(n)``: a header count.
U32 = struct.Struct(">I").pack
#: ``i64(ms)``: a timestamp.
I64 = struct.Struct(">q").pack


def feed_field(h: Any, data: bytes | None) -> None:
    """Feed ``field(data)`` (module docstring) into hash ``h`` (a :mod:`hashlib` object)."""
    if data is None:
        h.update(NULL)
    else:
        h.update(b"\x00" + struct.pack(">Q", len(data)))
        h.update(data)


def feed_headers(h: Any, headers: Iterable[tuple[str, bytes | None]]) -> None:
    """Feed ``u32(len(headers)) {field(name) field(value)}*`` into hash ``h``,
    names as UTF-8, in the headers' order."""
    items = list(headers)
    h.update(struct.pack(">I", len(items)))
    for name, value in items:
        feed_field(h, name.encode("utf-8"))
        feed_field(h, value)


def digest_record(h: Any, record: Record, timestamps: bool = True) -> None:
    """Feed one record's canonical encoding (module docstring) into hash ``h``;
    without the timestamp when ``timestamps`` is False (a LogAppendTime target)."""
    feed_field(h, record.key)
    feed_field(h, record.value)
    feed_headers(h, record.headers)
    if timestamps:
        h.update(struct.pack(">q", record.timestamp_ms))


class ChainedDigest:
    """A partition's ordered digest (module docstring), record by record.

    Start it at ``records`` (a whole number of blocks) and ``chain`` (the
    32-byte ``d_K`` after them; ``b""`` at the start) to go on from a
    checkpoint.  Feed a record's encoding into :attr:`hash` and call
    :meth:`count`, or call :meth:`add`.

    Raises:
        ValueError: ``records`` is not a whole number of blocks.
    """

    __slots__ = ("chain", "hash", "records")

    def __init__(self, records: int = 0, chain: bytes = b"") -> None:
        if records % BLOCK_RECORDS or (records > 0) != bool(chain):
            raise ValueError(f"a chained digest resumes at whole blocks, not at {records} records")
        self.records = records
        self.chain = chain
        self.hash = hashlib.sha256(chain)

    def count(self) -> bytes | None:
        """Count one record fed into :attr:`hash`; at a block's end close it and
        return the new 32-byte ``d_k`` (else None)."""
        self.records += 1
        if self.records % BLOCK_RECORDS:
            return None
        self.chain = self.hash.digest()
        self.hash = hashlib.sha256(self.chain)
        return self.chain

    def add(self, record: Record, timestamps: bool = True) -> bytes | None:
        """Feed and count one record (see :meth:`count`)."""
        digest_record(self.hash, record, timestamps)
        return self.count()

    def hexdigest(self) -> str:
        """The digest of every record counted so far (module docstring), as hex."""
        return hexdigest(self.records, self.chain, self.hash)


def hexdigest(records: int, chain: bytes, h: Any) -> str:
    """The chained digest (module docstring) of ``records`` records whose last
    closed block left ``chain`` and whose open block is fed into ``h``."""
    if records and not records % BLOCK_RECORDS:
        return chain.hex()
    return str(h.hexdigest())


def record_digest(record: Record, timestamps: bool = True) -> bytes:
    """SHA-256 (32 bytes) of one record's canonical encoding (see :func:`digest_record`)."""
    h = hashlib.sha256()
    digest_record(h, record, timestamps)
    return h.digest()


def field_digest(data: bytes | None) -> bytes:
    """SHA-256 (32 bytes) of ``field(data)``: a key or a value on its own."""
    h = hashlib.sha256()
    feed_field(h, data)
    return h.digest()


def headers_digest(headers: Iterable[tuple[str, bytes | None]]) -> bytes:
    """SHA-256 (32 bytes) over the headers in order (names, values; null values stay distinct)."""
    h = hashlib.sha256()
    feed_headers(h, headers)
    return h.digest()


__all__ = [
    "BLOCK_RECORDS",
    "ChainedDigest",
    "FIELD",
    "I64",
    "NO_HEADERS",
    "NO_HEADERS_TS",
    "NULL",
    "U32",
    "digest_record",
    "feed_field",
    "feed_headers",
    "field_digest",
    "headers_digest",
    "hexdigest",
    "record_digest",
]

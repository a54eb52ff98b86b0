"""Proving the target holds what the source held: the verify domain.

- :mod:`~kmigrate.verify.digest`: the one record digest encoding (verify, the
  dual-write check and a copy's resume share it);
- :mod:`~kmigrate.verify.compare`: the ordered record-by-record comparison of
  one partition (n-th with n-th, or aligned through the offset map);
- :mod:`~kmigrate.verify.summaries`: each side's count, offsets and digest of
  many partitions in one read;
- :mod:`~kmigrate.verify.locate`: the first-difference search from the
  summaries' checkpoints;
- :mod:`~kmigrate.verify.ordered`: all of it over many partitions (``verify``),
  with :mod:`~kmigrate.verify.pool`, its worker processes;
- :mod:`~kmigrate.verify.evidence`: the table and the JSON report;
- :mod:`~kmigrate.verify.dual_write`: the dual-write check (multisets by key in
  a time window), with :mod:`~kmigrate.verify.instants`.
"""

"""Offset bookkeeping between a source and a target cluster (the persistent offset map)."""

from kmigrate.offsets.map import OffsetMap, OffsetRun, PartitionMap

__all__ = ["OffsetMap", "OffsetRun", "PartitionMap"]

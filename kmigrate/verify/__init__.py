"""Verification that is not a per-partition ordered comparison (the dual-write check)."""

"""Copy engines: the interface (:mod:`kmigrate.engines.base`), the native engine
(:mod:`kmigrate.engines.native`), the worker-process engine
(:mod:`kmigrate.engines.workers`) over the one shard pool that verify uses too
(:mod:`kmigrate.engines.pool`), and how a copy is chosen and run
(:mod:`kmigrate.engines.copying`)."""

from kmigrate.engines.base import CopyEngine, CopyJob, CopyResult, FollowSpec, TopicLag
from kmigrate.engines.native import NativeEngine

__all__ = ["CopyEngine", "CopyJob", "CopyResult", "FollowSpec", "NativeEngine", "TopicLag"]

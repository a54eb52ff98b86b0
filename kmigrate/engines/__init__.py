"""Copy engines: the interface (:mod:`kmigrate.engines.base`) and the native engine."""

from kmigrate.engines.base import CopyEngine, CopyJob, CopyResult, FollowSpec, TopicLag
from kmigrate.engines.native import NativeEngine

__all__ = ["CopyEngine", "CopyJob", "CopyResult", "FollowSpec", "NativeEngine", "TopicLag"]

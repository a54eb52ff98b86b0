"""MirrorMaker 2 on Kafka Connect: connector configs from a plan (:mod:`.config`).

The engine that creates the connectors and follows them behind the mirror step
comes after the step refactor (issue 14 builds on issue 16).
"""

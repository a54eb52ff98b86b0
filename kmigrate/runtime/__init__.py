"""The migration runtime: step identity (:mod:`.plan_walk`), the journal and the runner.

``plan_walk`` gives every step and phase of a plan its stable identity, in one
place; ``journal`` opens (and migrates) a plan's journal; ``runner`` is the one
walk that ``execute``, its dry run and ``rollback`` share.
"""

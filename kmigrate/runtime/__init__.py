"""The migration runtime: the journal, the runner and what it advises an operator.

``journal`` opens (and migrates) a plan's journal; ``runner`` is the one walk that
``execute``, its dry run and ``rollback`` share; ``rerun`` says which command re-runs
steps.  Step and phase identity is the plan's (:mod:`kmigrate.plan.identity`).
"""

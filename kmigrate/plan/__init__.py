"""The migration plan: its schema, its loader and ``${VAR}`` references."""

from kmigrate.plan.loader import LoadedPlan, load_plan

__all__ = ["LoadedPlan", "load_plan"]

"""Lazy imports of the cloud SDKs, with an error naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from kmigrate.errors import UsageError


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or explain which extra provides it.

    Args:
        module: dotted module name (``boto3``, ``azure.mgmt.eventhub``).
        extra: the kmigrate extra that installs it (``aws``, ``azure``).
        what: what needs it, for the message ("an MSK target").

    Raises:
        UsageError: the module is not installed (exit 2); the message names
            ``pip install 'kmigrate[EXTRA]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"{what} needs the Python package {module.split('.')[0]!r}, which is not installed: "
            f"pip install 'kmigrate[{extra}]'"
        ) from None

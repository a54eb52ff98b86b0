"""Create and delete Azure role assignments for Event Hubs through ARM.

The SDK boundary of the Event Hubs ACL translation (:mod:`kmigrate.acls.eventhubs`):
``azure-mgmt-authorization`` (the ``azure`` extra) is imported here only, lazily;
every azure-core error becomes a :class:`~kmigrate.errors.ClusterError` naming the
assignment, never a credential.  Calls: ``role_assignments.get(scope, name)``,
``role_assignments.create(scope, role_assignment_name, parameters)`` with
``RoleAssignmentCreateParameters(role_definition_id, principal_id,
principal_type)``, ``role_assignments.delete(scope, name)``
(https://learn.microsoft.com/rest/api/authorization/role-assignments/create;
azure-mgmt-authorization 4.0.0, whose ``principal_type`` defaults to ``User``,
so it is always passed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kmigrate.acls.eventhubs import RoleAssignment
from kmigrate.clusters._optional import require
from kmigrate.errors import ClusterError

_EXTRA_MSG = "creating Event Hubs role assignments"
CREATED, EXISTS = "created", "exists"


@dataclass(frozen=True)
class AssignmentOutcome:
    """What :meth:`RoleAssignments.create` did with one assignment: ``created`` (kmigrate
    made it: rollback may delete it) or ``exists`` (it was there before: rollback keeps it)."""

    assignment: RoleAssignment
    outcome: str


class AssignmentsFailed(ClusterError):
    """ARM refused a role assignment; ``outcomes``: those made or found before it."""

    def __init__(self, message: str, outcomes: list[AssignmentOutcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


class RoleAssignments:
    """Role assignments in one subscription, through ``AuthorizationManagementClient``."""

    def __init__(
        self,
        subscription_id: str,
        credential: Any = None,
        client: Any = None,
        **client_kwargs: Any,
    ) -> None:
        """Args:
            subscription_id: the namespace's subscription.
            credential: an azure-core ``TokenCredential`` (default ``DefaultAzureCredential``).
            client: an ``AuthorizationManagementClient`` (built when None; tests pass one).
            client_kwargs: passed to the client (``base_url=`` for another cloud).

        Raises:
            UsageError: the azure extra is not installed.
        """
        if client is None:
            mgmt = require("azure.mgmt.authorization", "azure", _EXTRA_MSG)
            if credential is None:
                credential = require("azure.identity", "azure", _EXTRA_MSG).DefaultAzureCredential()
            client = mgmt.AuthorizationManagementClient(
                credential, subscription_id, **client_kwargs
            )
        self.client = client

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, missing_ok: bool = False) -> Any:
        """``fn(*args)``; None for a 404 when ``missing_ok``; any other azure-core error (a
        404 included) as a ClusterError naming ``what``."""
        errors = require("azure.core.exceptions", "azure", _EXTRA_MSG)
        try:
            return fn(*args)
        except errors.AzureError as exc:
            if missing_ok and isinstance(exc, errors.ResourceNotFoundError):
                return None
            message = getattr(exc, "message", None) or str(exc).splitlines()[0]
            raise ClusterError(f"Azure role assignment {what} failed: {message}") from None

    def exists(self, a: RoleAssignment) -> bool:
        """Whether an assignment named ``a.name`` exists at ``a.scope``.

        Raises:
            ClusterError: ARM refused the read (other than not found).
        """
        found = self._call(
            f"read of {a.name} at {a.scope}",
            self.client.role_assignments.get,
            a.scope,
            a.name,
            missing_ok=True,
        )
        return found is not None

    def create(self, assignments: Iterable[RoleAssignment]) -> list[AssignmentOutcome]:
        """Create each assignment that does not exist yet; one outcome per assignment.

        Raises:
            AssignmentsFailed: ARM refused one (a 404 included: the hub or namespace is
                not there); its ``outcomes`` are those of the assignments before it, so
                the caller can journal what was created.
        """
        models = require("azure.mgmt.authorization.models", "azure", _EXTRA_MSG)
        outcomes: list[AssignmentOutcome] = []
        for a in assignments:
            try:
                if self.exists(a):
                    outcomes.append(AssignmentOutcome(a, EXISTS))
                    continue
                params = models.RoleAssignmentCreateParameters(
                    role_definition_id=a.role_definition_id,
                    principal_id=a.principal_id,
                    principal_type=a.principal_type,
                )
                self._call(
                    f"{a.role} for {a.principal_type} {a.principal_id} at {a.scope}",
                    self.client.role_assignments.create,
                    a.scope,
                    a.name,
                    params,
                )
            except ClusterError as exc:
                raise AssignmentsFailed(str(exc), outcomes) from None
            outcomes.append(AssignmentOutcome(a, CREATED))
        return outcomes

    def delete(self, assignments: Iterable[RoleAssignment]) -> None:
        """Delete exactly these assignments (rollback of those :meth:`create` made).

        An assignment already gone is no error (ARM answers 204).

        Raises:
            ClusterError: ARM refused a delete.
        """
        for a in assignments:
            self._call(
                f"delete of {a.name} at {a.scope}",
                self.client.role_assignments.delete,
                a.scope,
                a.name,
            )

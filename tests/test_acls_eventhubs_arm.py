"""Event Hubs role assignments through ARM, tested at the SDK boundary.

The boundary is azure-mgmt-authorization's ``AuthorizationManagementClient``:
``role_assignments.get(scope, name)``, ``role_assignments.create(scope,
role_assignment_name, parameters)`` and ``role_assignments.delete(scope, name)``
(learn.microsoft.com/rest/api/authorization/role-assignments/create;
azure-mgmt-authorization 4.0.0).  No Azure subscription is reachable from the tests,
so the client is a mock and each test asserts the exact arguments kmigrate passes it:
scope, assignment name, role definition id, principal id and principal type.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from kmigrate.acls import eventhubs
from kmigrate.acls.model import parse_binding
from kmigrate.acls.principals import PrincipalMap
from kmigrate.clusters.eventhubs_rbac import CREATED, EXISTS, AssignmentsFailed, RoleAssignments
from kmigrate.errors import ClusterError
from tests.test_clusters_eventhubs import ArmAdapter, FakeCredential

NS = eventhubs.Namespace("0000-sub", "rg-shop", "shop-ns")
OID = "7f1c2a3b-1111-2222-3333-444455556666"
HUB = (
    "/subscriptions/0000-sub/resourceGroups/rg-shop/providers/Microsoft.EventHub"
    "/namespaces/shop-ns/eventhubs/orders"
)
SENDER = (
    "/subscriptions/0000-sub/providers/Microsoft.Authorization/roleDefinitions/"
    "2b629674-e913-4c01-ae53-ef4638d8f975"
)


def assignments() -> list[eventhubs.RoleAssignment]:
    binding = parse_binding(
        {
            "resource_type": "TOPIC",
            "name": "orders",
            "pattern_type": "LITERAL",
            "principal": "User:orders-svc",
            "operation": "WRITE",
            "permission": "ALLOW",
        }
    )
    pm = PrincipalMap({"User:orders-svc": f"ServicePrincipal:{OID}"})
    return eventhubs.role_assignments(eventhubs.translate([binding], pm, NS))


def client(exists: bool = False) -> mock.Mock:
    c = mock.Mock()
    if exists:
        c.role_assignments.get.return_value = object()
    else:
        c.role_assignments.get.side_effect = ResourceNotFoundError("RoleAssignmentNotFound")
    return c


def test_create_passes_scope_role_and_principal_to_the_sdk() -> None:
    """A new assignment is created with the hub's scope, its stable name, the Data Sender
    role definition id in the subscription, the object id and ``ServicePrincipal`` (the
    SDK's default would be ``User``)."""
    c = client()
    (a,) = assignments()

    outcomes = RoleAssignments("0000-sub", client=c).create([a])

    assert [o.outcome for o in outcomes] == [CREATED]
    c.role_assignments.get.assert_called_once_with(HUB, a.name)
    c.role_assignments.create.assert_called_once()
    scope, name, params = c.role_assignments.create.call_args.args
    assert (scope, name) == (HUB, a.name)
    assert isinstance(params, RoleAssignmentCreateParameters)
    assert (params.role_definition_id, params.principal_id, params.principal_type) == (
        SENDER,
        OID,
        "ServicePrincipal",
    )


def test_an_assignment_already_there_is_kept_and_not_created_again() -> None:
    """When ARM has the assignment already, nothing is created and the outcome is
    ``exists``, so a rollback would not delete it."""
    c = client(exists=True)
    outcomes = RoleAssignments("0000-sub", client=c).create(assignments())
    assert [o.outcome for o in outcomes] == [EXISTS]
    c.role_assignments.create.assert_not_called()


def test_an_arm_refusal_names_the_assignment() -> None:
    """An ARM error (say 403 AuthorizationFailed) becomes a ClusterError naming the role,
    principal and scope."""
    c = client()
    c.role_assignments.create.side_effect = HttpResponseError(message="AuthorizationFailed")
    with pytest.raises(ClusterError) as err:
        RoleAssignments("0000-sub", client=c).create(assignments())
    assert str(err.value) == (
        f"Azure role assignment Azure Event Hubs Data Sender for ServicePrincipal {OID} "
        f"at {HUB} failed: AuthorizationFailed"
    )


def test_delete_removes_exactly_the_given_assignments() -> None:
    """Rollback deletes each given assignment by its scope and name, nothing else."""
    c = client()
    (a,) = assignments()
    RoleAssignments("0000-sub", client=c).delete([a])
    c.role_assignments.delete.assert_called_once_with(HUB, a.name)


def test_a_refusal_mid_way_keeps_the_outcomes_of_those_made_before_it() -> None:
    """Sender on ``orders`` is created, then ARM answers 404 for the Receiver on a hub
    that does not exist: the error names it and carries the one created before, so the
    step can journal it for rollback (no azure-core exception escapes)."""
    binding = {
        "resource_type": "TOPIC",
        "pattern_type": "LITERAL",
        "principal": "User:orders-svc",
        "permission": "ALLOW",
    }
    pm = PrincipalMap({"User:orders-svc": f"ServicePrincipal:{OID}"})
    made = eventhubs.role_assignments(
        eventhubs.translate(
            [
                parse_binding({**binding, "name": "orders", "operation": "WRITE"}),
                parse_binding({**binding, "name": "refunds", "operation": "READ"}),
            ],
            pm,
            NS,
        )
    )
    first = next(a for a in made if a.scope == HUB)
    c = client()
    c.role_assignments.create.side_effect = [
        object(),
        ResourceNotFoundError(message="ParentResourceNotFound"),
    ]
    with pytest.raises(AssignmentsFailed) as err:
        RoleAssignments("0000-sub", client=c).create(sorted(made, key=lambda a: a.scope != HUB))
    assert [(o.assignment, o.outcome) for o in err.value.outcomes] == [(first, CREATED)]
    assert "refunds failed: ParentResourceNotFound" in str(err.value)


def test_the_request_on_the_wire_names_scope_role_and_principal() -> None:
    """Below the mock: a real ``AuthorizationManagementClient`` whose azure-core transport
    is the tests' ARM stand-in (tests/test_clusters_eventhubs.py).  The assignment is read
    (404), then PUT at ``SCOPE/providers/Microsoft.Authorization/roleAssignments/NAME``
    with the role definition id, the object id and ``ServicePrincipal`` in its body
    (learn.microsoft.com/rest/api/authorization/role-assignments/create)."""
    (a,) = assignments()
    path = f"{HUB}/providers/Microsoft.Authorization/roleAssignments/{a.name}"

    def arm(method: str, p: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
        if method == "GET":
            return 404, {"error": {"code": "RoleAssignmentNotFound", "message": "not found"}}
        assert body is not None
        return 201, {"id": p, "name": a.name, "properties": {**body["properties"], "scope": HUB}}

    adapter = ArmAdapter(arm)
    session = requests.Session()
    session.mount("https://", adapter)
    outcomes = RoleAssignments(
        "0000-sub",
        credential=FakeCredential(),
        transport=RequestsTransport(session=session, session_owner=False),
        retry_total=0,
    ).create([a])

    assert [o.outcome for o in outcomes] == [CREATED]
    assert [(m, p) for m, p, _api, _b in adapter.calls] == [("GET", path), ("PUT", path)]
    assert adapter.calls[1][3] == {
        "properties": {
            "roleDefinitionId": SENDER,
            "principalId": OID,
            "principalType": "ServicePrincipal",
        }
    }

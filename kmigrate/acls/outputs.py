"""The output files of ACL provisioning, for the operator's IaC (and for ``apply``).

* MSK with IAM -- :func:`write_iam_policies`: ``{"kind": "msk-iam-policies",
  "cluster_arn", "policies": {principal_arn: policy document}, "warnings": [...],
  "counts": {...}}``.  Attach each document to its role, user or group (Terraform
  ``aws_iam_policy``, CloudFormation ``AWS::IAM::ManagedPolicy``, ...).
* Event Hubs -- :func:`write_role_assignments`: ``{"kind":
  "eventhubs-role-assignments", "namespace": scope, "role_assignments": [{"scope",
  "role", "role_definition_id", "principal_id", "principal_type", "name"}],
  "counts": {...}}``; :func:`read_role_assignments` reads it back for ``apply``.

Files are written atomically, 0600, never through a symlink
(:func:`kmigrate.safefs.atomic_write`); they hold identities and ARNs, no secret.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kmigrate.acls.decisions import AclTranslation
from kmigrate.acls.eventhubs import Namespace, RoleAssignment, role_assignments
from kmigrate.acls.model import AclInputError
from kmigrate.acls.msk_iam import MskCluster, policies
from kmigrate.safefs import atomic_write

IAM_KIND = "msk-iam-policies"
RBAC_KIND = "eventhubs-role-assignments"


def _dump(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_iam_policies(path: Path, translation: AclTranslation, cluster: MskCluster) -> list[str]:
    """Write one IAM policy document per principal to ``path``; returns the warnings
    (a document above the managed-policy size)."""
    result = policies(translation, cluster)
    _dump(
        path,
        {
            "kind": IAM_KIND,
            "cluster_arn": cluster.arn,
            "policies": result.documents,
            "warnings": result.warnings,
            "counts": translation.counts,
        },
    )
    return result.warnings


def write_role_assignments(
    path: Path, translation: AclTranslation, namespace: Namespace
) -> list[RoleAssignment]:
    """Write the role assignments the translation calls for to ``path``; returns them."""
    made = role_assignments(translation)
    _dump(
        path,
        {
            "kind": RBAC_KIND,
            "namespace": namespace.scope,
            "role_assignments": [a.to_dict() for a in made],
            "counts": translation.counts,
        },
    )
    return made


def read_role_assignments(path: Path) -> list[RoleAssignment]:
    """The role assignments a file of :func:`write_role_assignments` holds.

    Raises:
        AclInputError: not JSON, another kind of file, or an assignment with missing
            or unknown fields (the key path named).
        OSError: the file cannot be read.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AclInputError(str(path), f"not a JSON file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("kind") != RBAC_KIND:
        raise AclInputError(f"{path}: kind", f"expected {RBAC_KIND!r}")
    out = []
    fields = set(RoleAssignment.__dataclass_fields__)
    for i, item in enumerate(data.get("role_assignments") or []):
        if (
            not isinstance(item, dict)
            or set(item) != fields
            or not all(isinstance(v, str) for v in item.values())
        ):
            raise AclInputError(
                f"{path}: role_assignments[{i}]", f"expected the keys {', '.join(sorted(fields))}"
            )
        out.append(RoleAssignment(**item))
    return out

"""``provision-acls``: the source's ACL bindings made on the target, principals mapped.

Thin: the bindings come from the snapshot (``export-topics`` writes them), each
binding's decision from :mod:`kmigrate.acls` (the plan's ``acls:`` block maps the
principals), and what is made depends on the target (:func:`kmigrate.acls.targets.kind_of`):

* Kafka-ACL targets (``kafka``, ``redpanda``, ``msk`` with SCRAM or mTLS,
  ``confluent-cloud``): the bindings are created through the Admin API
  (:class:`kmigrate.adapters.kafka_acls.KafkaAcls`).  CreateAcls has no
  ``validate_only`` (KIP-140; confluent-kafka 2.16's ``create_acls`` takes none), so
  the target's bindings are described first and only the missing ones created; the
  missing ones are journaled before the CreateAcls call, and rollback deletes exactly
  those (one exact filter each), never a binding that was there before.
* MSK with IAM: the IAM policy documents, one per principal, are written to
  ``output`` (:func:`kmigrate.acls.outputs.write_iam_policies`); rollback removes the
  file if it is still the one written (same SHA-256).
* Event Hubs: the role assignments are written to ``output``; with the plan's
  ``acls.apply: true`` they are also created through ARM
  (:class:`kmigrate.clusters.eventhubs_rbac.RoleAssignments`), and rollback deletes
  the ones it created (those that existed are kept), then the file.

A refused binding (an unmapped principal, named; a binding the target cannot hold,
with the reason) fails the step (exit 1) before anything is made: the decisions are
known offline, so ``kmigrate plan --offline --snapshot`` shows them first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Self

from kmigrate.acls import kafka_target, msk_iam, outputs
from kmigrate.acls.decisions import REFUSED, AclTranslation
from kmigrate.acls.eventhubs import Namespace, RoleAssignment
from kmigrate.acls.model import AclInputError, parse_bindings
from kmigrate.acls.principals import PrincipalMap
from kmigrate.acls.targets import kind_of, translate_for_spec
from kmigrate.adapters.kafka_acls import CREATED, EXISTS, FAILED
from kmigrate.clusters import eventhubs_rbac
from kmigrate.errors import PlanError, StepFailed
from kmigrate.snapshot import Snapshot
from kmigrate.steps.base import JsonRecord, Step, StepContext, StepRecord
from kmigrate.steps.provision_topics import find_snapshot
from kmigrate.steps.source_acls import acls_client
from kmigrate.ui import UI

KAFKA_ACLS, MSK_IAM, EVENTHUBS = "kafka-acls", "msk-iam", "eventhubs"


@dataclass
class AclsRecord(StepRecord):
    """What provision-acls journals.

    Attributes:
        kind: ``kafka-acls``, ``msk-iam`` or ``eventhubs`` (None: nothing to provision).
        counts: the decisions, ``{"copied": n, "converted": n, "dropped": n, "refused": n}``.
        created: Kafka-ACL targets: the bindings kmigrate created (snapshot shape);
            journaled before CreateAcls, so an interrupted run's rollback still finds them.
        existing: the bindings the target held already (kept by rollback).
        output: the file written (MSK with IAM, Event Hubs), and its ``sha256`` (hex).
        assignments: Event Hubs with ``apply``: the role assignments created through ARM.
    """

    kind: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    created: list[dict[str, str]] = field(default_factory=list)
    existing: list[dict[str, str]] = field(default_factory=list)
    output: str | None = None
    sha256: str = ""
    assignments: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> JsonRecord:
        """The journal form: every attribute, by name."""
        return {
            "kind": self.kind,
            "counts": self.counts,
            "created": self.created,
            "existing": self.existing,
            "output": self.output,
            "sha256": self.sha256,
            "assignments": self.assignments,
        }

    @classmethod
    def from_json(cls, data: JsonRecord | None) -> Self | None:
        """Rebuild from the journal; None for no record."""
        if not data:
            return None
        return cls(
            data.get("kind"),
            dict(data.get("counts") or {}),
            list(data.get("created") or []),
            list(data.get("existing") or []),
            data.get("output"),
            str(data.get("sha256") or ""),
            list(data.get("assignments") or []),
        )

    def summary(self) -> str:
        """``created 12 ACL bindings (3 existed)``, ``wrote msk-iam -> acls/x.json``, ..."""
        if self.kind is None:
            return "no ACL binding to provision"
        if self.kind == KAFKA_ACLS:
            return f"created {len(self.created)} ACL bindings ({len(self.existing)} existed)"
        made = f"; {len(self.assignments)} role assignments created" if self.assignments else ""
        return f"wrote {self.kind} -> {self.output}{made}"


def show_decisions(ui: UI, translation: AclTranslation) -> None:
    """Print every binding's decision (copied / converted / dropped / refused, with the
    rule, the reason and the rule's source), as ``plan`` prints topic-config decisions."""
    ui.table(
        [
            [d.binding.describe(), d.decision, d.target_principal or "-", d.rule, d.reason]
            for d in translation.decisions
        ],
        ["source binding", "decision", "target principal", "rule", "reason"],
    )
    for name in sorted({d.rule for d in translation.decisions}):
        source = next(d.source for d in translation.decisions if d.rule == name)
        ui.line(f"  {name}: {source}")
    counts = ", ".join(f"{n} {k}" for k, n in translation.counts.items())
    ui.line(f"ACL bindings ({translation.target}): {counts}")


def decide(
    snapshot: Snapshot, principals: PrincipalMap | None, target_spec: Any
) -> AclTranslation | None:
    """Every snapshot binding's decision for the plan's target; None when the snapshot
    holds no ACL binding (not read, no authorizer on the source, or none there).

    Raises:
        PlanError: a malformed binding, or a target key the translation needs (the
            cluster ARN of MSK with IAM, the Event Hubs namespace), named.
    """
    if not snapshot.acls:
        return None
    try:
        bindings = parse_bindings(snapshot.acls, "snapshot acls")
        return translate_for_spec(target_spec, bindings, principals or PrincipalMap())
    except AclInputError as exc:
        raise PlanError(f"provision-acls: {exc.key}: {exc.message}") from None


def refusal(translation: AclTranslation) -> str:
    """Why the step refuses: the unmapped principals by name, then the other refusals."""
    parts = []
    if translation.unmapped_principals:
        parts.append(
            "unmapped principal(s) "
            + ", ".join(translation.unmapped_principals)
            + ": map each under acls.principals or list it under acls.drop"
        )
    unmapped = set(translation.unmapped_principals)
    others = [d for d in translation.by(REFUSED) if d.binding.principal not in unmapped]
    parts += [f"{d.binding.describe()}: {d.reason} ({d.rule})" for d in others[:10]]
    return f"{len(translation.by(REFUSED))} ACL binding(s) refused: " + "; ".join(parts)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ProvisionAcls(Step):
    """Create (or write, for MSK with IAM and Event Hubs) the target's permissions."""

    action = "provision-acls"
    record_type = AclsRecord
    rollback_summary = (
        "deletes exactly the ACL bindings (role assignments) it created; removes the file it wrote"
    )

    def run(self, ctx: StepContext, previous: JsonRecord) -> JsonRecord:
        snapshot = find_snapshot(ctx, self.spec.snapshot)
        translation = decide(snapshot, _principals(ctx), _target_spec(ctx))
        if translation is None:
            ctx.ui.ok(
                "the snapshot holds no ACL binding (none on the source, no authorizer, or "
                "not read: see export-topics' line): nothing to provision"
            )
            return AclsRecord().to_json()
        show_decisions(ctx.ui, translation)
        if not translation.ok:
            raise StepFailed(refusal(translation))
        kind = kind_of(translation)
        if kind == KAFKA_ACLS:
            return self._kafka(ctx, translation)
        return self._files(ctx, translation, kind)

    def _kafka(self, ctx: StepContext, translation: AclTranslation) -> JsonRecord:
        wanted = kafka_target.target_bindings(translation)
        if not wanted:
            ctx.ui.ok("no ACL binding to create on the target")
            return AclsRecord(KAFKA_ACLS, translation.counts).to_json()
        acls = acls_client(ctx.target, "target")
        present = set(acls.describe().bindings)
        missing = [b for b in wanted if b not in present]
        record = AclsRecord(
            KAFKA_ACLS,
            translation.counts,
            [b.to_dict() for b in missing],
            [b.to_dict() for b in wanted if b in present],
        )
        note = "CreateAcls has no validate_only (KIP-140): the target's bindings were described"
        if ctx.effects.before_writes(
            lambda: ctx.ui.line(
                f"would create {len(missing)} ACL bindings ({len(wanted) - len(missing)} "
                f"exist already); {note} instead"
            )
        ):
            return record.to_json()
        ctx.checkpoint(record.to_json())  # journaled before CreateAcls: rollback finds them
        outcomes = acls.create(missing)
        failed = [o for o in outcomes if o.status == FAILED]
        raced = {o.binding for o in outcomes if o.status == EXISTS}
        record.created = [o.binding.to_dict() for o in outcomes if o.status == CREATED]
        record.existing += [b.to_dict() for b in raced]
        if failed:
            ctx.checkpoint(record.to_json())
            raise StepFailed(
                f"the target refused {len(failed)} ACL binding(s): "
                + "; ".join(f"{o.binding.describe()}: {o.error}" for o in failed[:10])
            )
        ctx.ui.ok(
            f"created {len(record.created)} ACL bindings on the target "
            f"({len(record.existing)} existed already and are kept by rollback)"
        )
        return record.to_json()

    def _files(self, ctx: StepContext, translation: AclTranslation, kind: str) -> JsonRecord:
        path = ctx.state_dir / self.spec.output
        record = AclsRecord(kind, translation.counts, output=str(path))
        spec = _target_spec(ctx)
        apply = bool(ctx.acls is not None and ctx.acls.apply)

        def describe() -> None:
            ctx.ui.line(f"would write the {kind} file {path}")
            if kind == EVENTHUBS and apply:
                ctx.ui.line("would create the role assignments through ARM (acls.apply)")

        if ctx.effects.before_writes(describe):
            return record.to_json()
        if kind == MSK_IAM:
            cluster = msk_iam.MskCluster.parse(spec.cluster_arn)
            for warning in outputs.write_iam_policies(path, translation, cluster):
                ctx.ui.warn(warning)
            record.sha256 = _sha256(path)
            ctx.ui.ok(f"wrote the IAM policy documents to {path}: attach each to its principal")
            return record.to_json()
        ns = Namespace(spec.subscription_id, spec.resource_group, spec.namespace)
        made = outputs.write_role_assignments(path, translation, ns)
        record.sha256 = _sha256(path)
        ctx.ui.ok(f"wrote {len(made)} role assignments to {path}")
        if apply:
            ctx.checkpoint(record.to_json())
            self._apply(ctx, record, ns, made)
        return record.to_json()

    def _apply(
        self, ctx: StepContext, record: AclsRecord, ns: Namespace, made: list[RoleAssignment]
    ) -> None:
        try:
            outcomes = eventhubs_rbac.RoleAssignments(ns.subscription_id).create(made)
        except eventhubs_rbac.AssignmentsFailed as exc:
            record.assignments = _created(exc.outcomes)
            ctx.checkpoint(record.to_json())
            raise StepFailed(str(exc)) from None
        record.assignments = _created(outcomes)
        ctx.ui.ok(
            f"created {len(record.assignments)} role assignments through ARM "
            f"({len(outcomes) - len(record.assignments)} existed already)"
        )

    def rollback(self, ctx: StepContext, record: JsonRecord) -> list[str]:
        rec = AclsRecord.from_json(record)
        if rec is None or rec.kind is None:
            return []
        lines: list[str] = []
        if rec.created:
            lines += _delete_bindings(ctx, rec)
        if rec.assignments:
            lines += _delete_assignments(ctx, rec)
        if rec.output:
            lines += _remove_output(ctx, rec)
        return lines


def _principals(ctx: StepContext) -> PrincipalMap | None:
    return ctx.acls.principal_map() if ctx.acls is not None else None


def _target_spec(ctx: StepContext) -> Any:
    """The plan's target spec; outside a plan, a Kafka-ACL target of ``ctx.target_type``."""
    if ctx.target_spec is not None:
        return ctx.target_spec
    return SimpleNamespace(type=ctx.target_type, auth=None, cluster_arn=None)


def _created(outcomes: list[eventhubs_rbac.AssignmentOutcome]) -> list[dict[str, str]]:
    return [o.assignment.to_dict() for o in outcomes if o.outcome == eventhubs_rbac.CREATED]


def _delete_bindings(ctx: StepContext, rec: AclsRecord) -> list[str]:
    bindings = parse_bindings(rec.created, "journal created")
    described: list[str] = []
    if ctx.effects.before_writes(
        lambda: described.append(f"would delete {len(bindings)} ACL bindings kmigrate created")
    ):
        return described
    deleted = acls_client(ctx.target, "target").delete(bindings)
    gone = len(bindings) - len(deleted)
    return [
        f"deleted {len(deleted)} ACL bindings kmigrate created"
        + (f" ({gone} were gone already)" if gone else "")
    ]


def _delete_assignments(ctx: StepContext, rec: AclsRecord) -> list[str]:
    made = [RoleAssignment(**a) for a in rec.assignments]
    described: list[str] = []
    if ctx.effects.before_writes(
        lambda: described.append(f"would delete {len(made)} role assignments kmigrate created")
    ):
        return described
    # Every scope is /subscriptions/ID/... (Namespace.scope): the subscription the step used.
    subscription = made[0].scope.split("/")[2]
    eventhubs_rbac.RoleAssignments(subscription).delete(made)
    return [f"deleted {len(made)} role assignments kmigrate created"]


def _remove_output(ctx: StepContext, rec: AclsRecord) -> list[str]:
    assert rec.output is not None
    path = Path(rec.output)
    if not path.exists():
        return [f"{path} is gone already"]
    if _sha256(path) != rec.sha256:
        return [f"kept {path}: it changed since provision-acls wrote it"]
    described: list[str] = []
    if ctx.effects.before_writes(lambda: described.append(f"would remove {path}")):
        return described
    path.unlink()
    return [f"removed {path}"]

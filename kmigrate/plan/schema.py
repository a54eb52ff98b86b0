"""The plan file's schema (version 1), as frozen pydantic models.

A plan is validated once, at load (:func:`kmigrate.plan.loader.load_plan`);
after that every part of kmigrate works on these typed, immutable objects.
``plans/example.yaml`` shows every key with a comment.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kmigrate.acls.model import AclInputError
from kmigrate.acls.principals import PrincipalMap
from kmigrate.plan.connect_schema import ConnectSpec
from kmigrate.plan.refs import REFERENCE, is_sensitive
from kmigrate.verify.instants import parse_instant

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClusterType = Literal["kafka", "redpanda", "msk", "eventhubs", "confluent-cloud"]

_HOST_PORT = re.compile(r"^\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
#: What an explicit step ``id:`` may look like: typeable on a command line (``--rerun ID``).
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusterSpec(_Strict):
    """How to reach one cluster.

    ``config`` holds extra librdkafka settings (see librdkafka's
    CONFIGURATION.md); a value may be a ``${ENV_VAR}`` or ``${file:path}``
    reference, resolved only when a connection is made.  Keys that carry
    secrets (``*password*``, ``*secret*``, ``*jaas*``, ``*token*``) must be
    references, so no secret is ever written into a plan.

    Which other keys a type needs or takes (``region``, ``cluster_arn``,
    ``namespace``, ``api_key``, ...) is the cluster registry's knowledge
    (:mod:`kmigrate.clusters.registry`); the loader checks them there.
    ``facts`` are declared facts about the target (``cluster_type``,
    ``broker_count``, ``tier``): used by ``plan --offline``, checked online.
    """

    type: ClusterType
    bootstrap_servers: str | None = None
    config: dict[str, str | int | float | bool] = Field(default_factory=dict)
    region: str | None = None
    cluster_arn: str | None = None
    auth: str | None = None
    namespace: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    connection_string: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    facts: dict[str, str | int] = Field(default_factory=dict)

    @field_validator("connection_string", "api_secret")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None and not REFERENCE.fullmatch(value):
            raise ValueError(
                "expected a ${ENV_VAR} or ${file:path} reference for a secret; "
                "found a literal value (not shown)"
            )
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = [p.strip() for p in value.split(",")]
        bad = [p for p in parts if not _HOST_PORT.match(p)]
        if not value.strip() or bad:
            raise ValueError(f"expected a comma-separated list of host:port; found {value!r}")
        return ",".join(parts)

    @field_validator("config")
    @classmethod
    def _secrets_are_references(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        for key, item in value.items():
            if is_sensitive(key, item) and not (
                isinstance(item, str) and REFERENCE.fullmatch(item)
            ):
                raise ValueError(
                    f"expected a ${{ENV_VAR}} or ${{file:path}} reference for secret key "
                    f"{key!r}; found a literal value (not shown)"
                )
        return value


class Clusters(_Strict):
    """The two clusters of a migration: ``source`` is only ever read."""

    source: ClusterSpec
    target: ClusterSpec


class TopicSelection(_Strict):
    """Which source topics the migration covers: shell-style glob patterns."""

    include: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=lambda: ["__*", "_schemas"])


def _every_day() -> list[Day]:
    return ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Window(_Strict):
    """A maintenance window: the phase may run only inside it.

    ``start``/``end`` are ``HH:MM`` wall-clock times in ``timezone`` (an IANA
    name); an ``end`` at or before ``start`` means the window crosses midnight,
    and ``days`` then names the day the window opens.
    """

    days: list[Day] = Field(default_factory=lambda: _every_day(), min_length=1)
    start: str
    end: str
    timezone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"expected a time as HH:MM (24-hour); found {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"expected an IANA time zone such as 'UTC' or 'Europe/Berlin'; found {value!r}"
            ) from None
        return value


class _StepSpec(_Strict):
    """Keys every step has: ``id``, its identity in the journal.

    Without ``id`` the identity is derived from what the step is
    (:func:`kmigrate.plan.identity.derived_id`), never from its position.
    """

    id: str | None = None

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not STEP_ID.match(value):
            raise ValueError(
                "expected a step id of lower-case letters, digits, '.', '_' or '-', "
                f"starting with a letter or digit; found {value!r}"
            )
        return value


class CheckConnectivityStep(_StepSpec):
    """Both clusters reachable and authenticated."""

    action: Literal["check-connectivity"]


class ExportTopicsStep(_StepSpec):
    """Write a YAML snapshot of the selected source topics and consumer groups."""

    action: Literal["export-topics"]
    output: str = "snapshots/topics.yaml"
    consumer_groups: bool = True


class AcceptSpec(_Strict):
    """A translation refusal the plan accepts: topics matching the glob ``topic`` are
    created without the refused ``key`` (journaled as accepted)."""

    topic: str = Field(min_length=1)
    key: str = Field(min_length=1)


class ProvisionTopicsStep(_StepSpec):
    """Create the snapshot's topics on the target, through the translation rules and
    the target type's control plane.

    ``snapshot`` defaults to the ``output`` of the plan's ``export-topics`` step;
    with no such step the source is read live.  ``replication_factor``
    overrides the source's for every topic created (the target's rules decide
    where it is fixed or capped); by default the source's is kept.
    ``accept`` lists refusals to accept (``[{topic: "event-*", key: retention.bytes}]``):
    without an entry a refusal blocks the step.
    """

    action: Literal["provision-topics"]
    snapshot: str | None = None
    replication_factor: int | None = Field(default=None, gt=0)
    accept: list[AcceptSpec] = Field(default_factory=list)


class MirrorStep(_StepSpec):
    """Copy the source's records to the target, resuming from the offset map.

    ``append``: copy although a target partition already holds records (for
    a target another writer fills on purpose); by default that is refused.
    ``mode``: ``snapshot`` copies what the source holds, then stops;
    ``follow`` keeps copying new records until ``until`` says stop:
    ``caught-up`` (lag 0 on every partition held for ``settle_s`` seconds) or
    ``stopped`` (SIGINT / SIGTERM: a clean, journaled, resumable stop).
    ``max_duration``: stop following after this many seconds.
    ``workers``: processes the copy is sharded over, snapshot or follow, each
    with its own consumer and producer (default: the number of CPUs).
    ``engine``: ``native`` (kmigrate copies) or ``mirrormaker2`` (MirrorMaker 2
    connectors on Kafka Connect or MSK Connect copy, where ``connect`` says).
    ``verify``: ``follow`` (with ``mode: follow``, engine native) runs a
    following verify beside the copy, in its own process, until the copy
    ends (:mod:`kmigrate.verify.beside`); the final ``verify`` step reuses
    its proof.
    """

    action: Literal["mirror"]
    engine: Literal["native", "mirrormaker2"] = "native"
    append: bool = False
    mode: Literal["snapshot", "follow"] = "snapshot"
    until: Literal["caught-up", "stopped"] = "caught-up"
    settle_s: float = Field(default=5.0, ge=0)
    max_duration: float | None = Field(default=None, gt=0)
    workers: int | None = Field(default=None, ge=1, le=256)
    connect: ConnectSpec | None = Field(default=None, validate_default=True)
    verify: Literal["follow"] | None = None

    @field_validator("verify")
    @classmethod
    def _verify_beside_a_follow(cls, value: str | None, info: ValidationInfo) -> Any:
        if value is None:
            return value
        if info.data.get("mode") != "follow":
            raise ValueError("verify: follow runs beside a following copy: it needs mode: follow")
        if info.data.get("engine", "native") != "native":
            raise ValueError("verify: follow is for engine: native only")
        return value

    @field_validator("connect")
    @classmethod
    def _connect_with_engine(cls, value: ConnectSpec | None, info: ValidationInfo) -> Any:
        engine = info.data.get("engine", "native")
        if engine == "mirrormaker2" and value is None:
            raise ValueError(
                "engine mirrormaker2 needs a connect block: url (a Kafka Connect REST API) "
                "or msk_connect"
            )
        if engine == "native" and value is not None:
            raise ValueError("a connect block is for engine: mirrormaker2 only")
        return value


class VerifyStep(_StepSpec):
    """Compare counts, offsets and ordered digests per partition.

    ``workers``: processes the partitions are sharded over (default: the
    number of CPUs), each reading its partitions of both sides.
    ``mode``: ``once`` reads what the proven ranges in the plan's state dir
    (``verify-proof.json``) do not cover, after re-checking them, and gives
    the verdict a full read gives (``full: true`` reads everything again);
    ``follow`` verifies in rounds behind the mirror, checkpointing the proven
    ranges, until ``until``: ``caught-up`` (every partition proven up to both
    sides' high watermarks for ``settle_s`` seconds) or ``stopped`` (SIGINT /
    SIGTERM: a clean stop); ``max_duration``: stop after this many seconds.
    """

    action: Literal["verify"]
    report: str = "reports/verify.json"
    workers: int | None = Field(default=None, ge=1, le=256)
    mode: Literal["once", "follow"] = "once"
    full: bool = False
    until: Literal["caught-up", "stopped"] = "caught-up"
    settle_s: float = Field(default=5.0, ge=0)
    max_duration: float | None = Field(default=None, gt=0)


class GroupSelection(_Strict):
    """Which consumer groups a step covers: shell-style glob patterns on group ids."""

    include: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)


class TranslateOffsetsStep(_StepSpec):
    """Move consumer groups' committed offsets to the target through the offset map."""

    action: Literal["translate-offsets"]
    groups: GroupSelection


class DualWriteCheckStep(_StepSpec):
    """Compare what both clusters received in a time window (a dual-write period).

    Either ``since`` and ``until`` (epoch ms or ISO-8601 with a UTC offset),
    or ``duration_s``: watch both clusters from the step's start for that many
    seconds.  ``tolerance_s``: records within that many seconds of the
    window's edges that only one side holds are not reported.
    """

    action: Literal["dual-write-check"]
    since: str | int | None = None
    until: str | int | None = None
    duration_s: int | None = Field(default=None, gt=0)
    tolerance_s: float = Field(default=0, ge=0)
    report: str = "reports/dual-write.json"

    @field_validator("since", "until")
    @classmethod
    def _instant(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_instant(value)
        return value

    @model_validator(mode="after")
    def _one_window(self) -> DualWriteCheckStep:
        fixed = self.since is not None or self.until is not None
        if fixed and self.duration_s is not None:
            raise ValueError("expected either since/until or duration_s; found both")
        if not fixed and self.duration_s is None:
            raise ValueError("expected since and until, or duration_s; found neither")
        if fixed:
            if self.since is None or self.until is None:
                raise ValueError("expected both since and until; found only one")
            if parse_instant(self.since) >= parse_instant(self.until):
                raise ValueError(
                    f"expected since before until; found since {self.since!r}, until {self.until!r}"
                )
        return self


class SourceQuietStep(_StepSpec):
    """The cutover's fence check: no selected source partition received a record for
    ``quiet_s`` seconds (high watermarks sampled every ``interval_s`` seconds)."""

    action: Literal["source-quiet"]
    quiet_s: float = Field(default=30.0, gt=0, le=86_400)
    interval_s: float = Field(default=1.0, gt=0, le=3_600)


class ConsumersOnTargetStep(_StepSpec):
    """Within ``timeout_s`` seconds, each group translate-offsets applied has members on
    the target, has committed at or past its translated offsets, and is not active on the
    source (checked every ``interval_s`` seconds)."""

    action: Literal["consumers-on-target"]
    timeout_s: float = Field(default=300.0, ge=0, le=86_400)
    interval_s: float = Field(default=2.0, gt=0, le=3_600)


class ProvisionAclsStep(_StepSpec):
    """Create the source's ACL bindings' equivalent on the target (the plan's ``acls:``
    block maps the principals; :mod:`kmigrate.acls`).

    ``snapshot`` (under the state dir) holds the bindings; it defaults to the
    ``output`` of the plan's ``export-topics`` step.  ``output`` (under the state
    dir) is the file written for MSK with IAM (IAM policy documents) and Event Hubs
    (role assignments); Kafka-ACL targets get the bindings themselves.
    """

    action: Literal["provision-acls"]
    snapshot: str | None = None
    output: str = "acls/target-permissions.json"


class AclsSpec(_Strict):
    """The plan's ``acls:`` block (:class:`kmigrate.acls.principals.PrincipalMap`).

    ``principals``: source principal -> target identity; ``drop``: source principals
    whose bindings are not moved; ``apply`` (Event Hubs): create the role assignments
    through ARM, not only write them to the output file.
    """

    principals: dict[str, str] = Field(default_factory=dict)
    drop: list[str] = Field(default_factory=list)
    apply: bool = False

    @model_validator(mode="after")
    def _principals(self) -> AclsSpec:
        try:
            PrincipalMap.from_plan({"principals": self.principals, "drop": self.drop})
        except AclInputError as exc:
            raise ValueError(f"{exc.key}: {exc.message}") from None
        return self

    def principal_map(self) -> PrincipalMap:
        """The principal map; a value left as ``init``'s ``<TARGET PRINCIPAL for …>``
        placeholder counts as unmapped, so its bindings are refused by name."""
        mapping = {k: v.strip() for k, v in self.principals.items() if not _placeholder(v)}
        return PrincipalMap(mapping, frozenset(self.drop))

    def placeholders(self) -> list[str]:
        """The source principals still mapped to ``init``'s placeholder, sorted."""
        return sorted(k for k, v in self.principals.items() if _placeholder(v))


def _placeholder(value: str) -> bool:
    """``<...>``: a value ``init`` left for the operator to fill in."""
    text = value.strip()
    return text.startswith("<") and text.endswith(">")


class ManualStep(_StepSpec):
    """An instruction for the operator, confirmed before the plan goes on."""

    manual: str = Field(min_length=1)
    rollback: str | None = None


class ShellStep(_StepSpec):
    """A shell command; ``rollback`` is the command that undoes it.

    ``env``: the command runs with the operator's environment minus the
    variables the plan's secret references name; ``inherit-secrets`` keeps them.
    """

    shell: str = Field(min_length=1)
    rollback: str | None = None
    timeout_s: int = Field(default=600, gt=0)
    env: Literal["inherit-secrets"] | None = None


ActionStep = (
    CheckConnectivityStep
    | ExportTopicsStep
    | ProvisionTopicsStep
    | MirrorStep
    | VerifyStep
    | TranslateOffsetsStep
    | DualWriteCheckStep
    | SourceQuietStep
    | ConsumersOnTargetStep
    | ProvisionAclsStep
)
ACTIONS: dict[str, type[_Strict]] = {
    "check-connectivity": CheckConnectivityStep,
    "export-topics": ExportTopicsStep,
    "provision-topics": ProvisionTopicsStep,
    "mirror": MirrorStep,
    "verify": VerifyStep,
    "translate-offsets": TranslateOffsetsStep,
    "dual-write-check": DualWriteCheckStep,
    "source-quiet": SourceQuietStep,
    "consumers-on-target": ConsumersOnTargetStep,
    "provision-acls": ProvisionAclsStep,
}
STEP_KINDS = ("action", "manual", "shell")


def step_kind(raw: Any) -> str | None:
    """Return the tag of a raw step mapping: an action name, ``manual`` or ``shell``."""
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if not isinstance(raw, dict):
        return None
    if "action" in raw:
        return str(raw["action"])
    if "manual" in raw:
        return "manual"
    if "shell" in raw:
        return "shell"
    return None


Step = Annotated[
    Annotated[CheckConnectivityStep, Tag("check-connectivity")]
    | Annotated[ExportTopicsStep, Tag("export-topics")]
    | Annotated[ProvisionTopicsStep, Tag("provision-topics")]
    | Annotated[MirrorStep, Tag("mirror")]
    | Annotated[VerifyStep, Tag("verify")]
    | Annotated[TranslateOffsetsStep, Tag("translate-offsets")]
    | Annotated[DualWriteCheckStep, Tag("dual-write-check")]
    | Annotated[SourceQuietStep, Tag("source-quiet")]
    | Annotated[ConsumersOnTargetStep, Tag("consumers-on-target")]
    | Annotated[ProvisionAclsStep, Tag("provision-acls")]
    | Annotated[ManualStep, Tag("manual")]
    | Annotated[ShellStep, Tag("shell")],
    Discriminator(step_kind),
]


class Requirement(_Strict):
    """Evidence a phase needs before it runs: a condition on a journaled step.

    ``step`` is a step id of an earlier phase.  ``status``: the step's journal
    status must be this (default ``succeeded``).  ``mismatches: N`` (verify
    steps only): the step's journaled record counts at most N mismatched
    partitions; without ``status`` a verify that failed on at most N
    mismatches then holds too.
    """

    step: str = Field(min_length=1)
    status: Literal["succeeded", "failed", "rolled_back"] | None = None
    mismatches: int | None = Field(default=None, ge=0)


class Phase(_Strict):
    """A named group of steps, executed together by ``execute --phase``.

    ``requires`` lists evidence (:class:`Requirement`) that must hold before
    ``execute`` runs the phase.
    """

    name: str = Field(min_length=1)
    window: Window | None = None
    requires: list[Requirement] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)


class PlanModel(_Strict):
    """The whole plan file (``version: 1``)."""

    version: Literal[1]
    name: str = Field(min_length=1)
    state_dir: str = ".kmigrate"
    clusters: Clusters
    topics: TopicSelection
    acls: AclsSpec | None = None
    phases: list[Phase] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_a_number(cls, value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"expected 1 (the schema version); found {value!r}")
        return value


def describe_step(step: Any) -> str:
    """A one-line human description of a step, e.g. ``mirror`` or ``manual: Point …``."""
    if isinstance(step, ManualStep):
        return f"manual: {step.manual}"
    if isinstance(step, ShellStep):
        return f"shell: {step.shell}"
    return str(step.action)


def all_field_names() -> set[str]:
    """Every key the schema knows, for "did you mean" suggestions."""
    names: set[str] = set()
    models: tuple[type[BaseModel], ...] = (
        ClusterSpec,
        Clusters,
        AcceptSpec,
        TopicSelection,
        Window,
        Phase,
        Requirement,
        PlanModel,
        ManualStep,
        ShellStep,
        *ACTIONS.values(),
        GroupSelection,
        AclsSpec,
    )
    for model in models:
        names.update(model.model_fields)
    return names

"""Write a commented migration plan from what a live source holds (``kmigrate init``).

Pure: takes what :mod:`kmigrate.commands.init` read (a topic snapshot, the source's ACL
bindings and whether it has an authorizer) and returns the plan's YAML text, with a
comment on every phase and step saying what it does and how it is rolled back.

The phases, in order (issue 15): ``preflight``; ``provision-topics``;
``provision-acls``; ``mirror`` (follow mode, until the operator stops it);
``cutover`` (producers stopped, ``source-quiet``, the final catch-up copy);
``verify``; ``translate-offsets`` (gated on verify finding no mismatch, then the
consumers started on the target and ``consumers-on-target``); ``report``.

What is not known without the target's credentials is a marked placeholder that
``kmigrate plan --offline`` accepts:

* identities (MSK ``region`` / ``cluster_arn``, Event Hubs ``namespace`` /
  ``subscription_id`` / ``resource_group``, Confluent Cloud ``api_key``) are
  ``${ENV_VAR}`` references: a run with the variable unset stops naming it;
* bootstrap servers, which take no reference, are hosts under ``.invalid`` (RFC 2606:
  never resolves), so a forgotten one fails to connect and says so;
* declared ``facts`` (MSK ``cluster_type``, Event Hubs ``tier``, Confluent Cloud
  ``cluster_type``) hold the commonest value with a ``TODO(init)`` comment:
  ``check-connectivity`` compares them with what it discovers and stops on a difference.

Every placeholder line carries ``TODO(init)`` (:data:`TODO`), so ``grep TODO(init)``
lists what the operator must fill.  Secrets are only ever ``${ENV_VAR}`` references:
the ``-X`` settings are written as the operator typed them, and a secret key's value
must be a reference there (:func:`kmigrate.context.parse_settings` refuses a literal).

The plan's ``acls:`` block maps every principal found to a ``<TARGET PRINCIPAL for
…>`` placeholder (``TODO(init)``): the plan loads, and the ``provision-acls`` step
refuses each principal still left so, by name, until the operator maps or drops it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from kmigrate.acls.model import AclBinding
from kmigrate.escape import escape_controls
from kmigrate.snapshot import Snapshot

#: The marker on every line the operator must fill in or confirm.
TODO = "TODO(init)"
#: ``kmigrate init --target-type`` values.
TARGET_TYPES = ("msk", "eventhubs", "confluent-cloud", "kafka")
#: Seconds ``source-quiet`` watches and ``consumers-on-target`` waits, as written.
QUIET_S = 30
CONSUMERS_TIMEOUT_S = 300

#: :class:`AclFindings` statuses.
ACLS_READ, NO_AUTHORIZER, ACLS_UNREAD = "read", "no-authorizer", "unread"


@dataclass(frozen=True)
class AclFindings:
    """What init learnt of the source's ACLs.

    ``status``: ``read`` (``bindings`` are every binding, possibly none),
    ``no-authorizer`` (the brokers' ``authorizer.class.name`` is empty: nothing is
    enforced, so there is nothing to move; an empty DescribeAcls answer there does not
    mean "no ACL"), or ``unread`` (``error`` says why, e.g. the principal lacks
    DESCRIBE on the cluster).  ``authorizer``: the class name, None when the brokers
    do not report it (Redpanda).  ``skipped``: bindings kmigrate does not move, one
    line each.
    """

    status: str
    authorizer: str | None = None
    bindings: tuple[AclBinding, ...] = ()
    skipped: tuple[str, ...] = ()
    error: str | None = None

    def summary(self) -> str:
        """One line for people: ``3 ACL bindings of 2 principals``, ``no authorizer …``."""
        if self.status == NO_AUTHORIZER:
            return (
                "no authorizer on the source (authorizer.class.name is empty): it enforces "
                "no ACL, so there is no ACL binding to move"
            )
        if self.status == ACLS_UNREAD:
            return f"ACLs not read: {self.error}"
        principals = {b.principal for b in self.bindings}
        text = f"{len(self.bindings)} ACL bindings of {len(principals)} principals"
        if self.authorizer is None and not self.bindings:
            return (
                text + " (the brokers do not report authorizer.class.name, so whether "
                "they enforce ACLs is unknown; Redpanda, for one, enables authorization "
                "through its cluster properties)"
            )
        if self.authorizer:
            text += f" (authorizer {self.authorizer})"
        if self.skipped:
            text += f"; {len(self.skipped)} bindings kmigrate does not move"
        return text


@dataclass(frozen=True)
class InitInputs:
    """Everything the plan is written from.

    ``source_config``: the ``-X KEY=VALUE`` pairs as given (references unresolved);
    ``snapshot_file``: the snapshot's path relative to the plan's folder;
    ``topics`` / ``exclude``: the selection globs init was given (the plan lists the
    topics found by name).
    """

    name: str
    source_type: str
    source_bootstrap: str
    target_type: str
    snapshot: Snapshot
    snapshot_file: str
    acls: AclFindings
    source_config: Sequence[tuple[str, str]] = ()
    topics: Sequence[str] = ("*",)
    exclude: Sequence[str] = ("__*", "_schemas")
    plan_file: str = "plan.yaml"
    notes: Sequence[str] = field(default_factory=tuple)


def q(value: object) -> str:
    """``value`` as a YAML flow scalar: a JSON string (valid YAML, every character
    escaped that needs it), a number or boolean as it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def safe(text: object) -> str:
    """``text`` fit for one comment line: control characters and the Unicode line and
    paragraph separators (line breaks to YAML) escaped, so that a value read from the
    cluster (a principal, a config value, an error message) cannot end the comment and
    add keys to the plan."""
    out = escape_controls(str(text))
    return out.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _comment(text: str, indent: str = "") -> list[str]:
    """``text`` as comment lines of at most 88 columns (made :func:`safe` first)."""
    return [f"{indent}# {line}" for line in textwrap.wrap(safe(text), 86 - len(indent))]


def _n(count: int, noun: str) -> str:
    """``1 partition``, ``3 partitions``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _target_block(target_type: str) -> list[str]:
    """The ``clusters.target`` lines for one target type, placeholders marked."""
    if target_type == "msk":
        return [
            "    type: msk",
            f"    region: ${{MSK_REGION}}          # {TODO}: e.g. eu-central-1",
            f"    cluster_arn: ${{MSK_CLUSTER_ARN}}  # {TODO}: "
            "arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID",
            "    # iam (port 9098) | scram (9096: sasl.username / sasl.password under config:,",
            "    # as ${VAR} references) | tls (9094).  Bootstrap servers are discovered.",
            f"    auth: iam                              # {TODO}: confirm",
            "    # Declared facts: used by `plan --offline`, compared by check-connectivity",
            "    # with describe_cluster_v2 (a difference stops it, naming both values).",
            f"    facts: {{cluster_type: provisioned}}     # {TODO}: provisioned | serverless",
        ]
    if target_type == "eventhubs":
        return [
            "    type: eventhubs",
            f"    namespace: ${{EVENTHUBS_NAMESPACE}}        # {TODO}: "
            "the namespace's name (NAME.servicebus.windows.net)",
            f"    subscription_id: ${{AZURE_SUBSCRIPTION_ID}}  # {TODO}",
            f"    resource_group: ${{AZURE_RESOURCE_GROUP}}    # {TODO}",
            "    # connection-string (SASL PLAIN as $ConnectionString) | entra (OAUTHBEARER)",
            "    auth: connection-string",
            "    connection_string: ${EVENTHUBS_CONNECTION_STRING}",
            "    # Declared facts: used by `plan --offline`, compared by check-connectivity",
            "    # with the namespace's ARM properties.",
            f"    facts: {{tier: standard}}                # {TODO}: basic | standard | "
            "premium | dedicated",
        ]
    if target_type == "confluent-cloud":
        return [
            "    type: confluent-cloud",
            f"    bootstrap_servers: todo-cluster.confluent-cloud.invalid:9092  # {TODO}: "
            "pkc-xxxxx.REGION.PROVIDER.confluent.cloud:9092",
            f"    api_key: ${{CONFLUENT_API_KEY}}        # {TODO}: a cluster API key",
            "    api_secret: ${CONFLUENT_API_SECRET}",
            f"    facts: {{cluster_type: standard}}        # {TODO}: basic | standard | "
            "enterprise | dedicated",
        ]
    return [
        "    type: kafka",
        f"    bootstrap_servers: todo-target-broker.invalid:9092  # {TODO}: the target's "
        "bootstrap servers",
        "    config: {}",
        f"    # {TODO}: the target's security settings, secrets as references, e.g.",
        "    #   security.protocol: SASL_SSL",
        "    #   sasl.mechanism: SCRAM-SHA-512",
        "    #   sasl.username: ${TARGET_USERNAME}",
        "    #   sasl.password: ${TARGET_PASSWORD}",
    ]


_PRINCIPAL_FORM = {
    "kafka": "User:NAME (a Kafka principal)",
    "confluent-cloud": "User:sa-XXXXXX (a service account)",
    "msk": "arn:aws:iam::ACCOUNT:role/NAME (with auth: iam; User:NAME with scram or tls)",
    "eventhubs": "ServicePrincipal:OBJECT-ID (an Entra object id)",
}


def _acl_lines(inputs: InitInputs) -> list[str]:
    """The commented ``acls:`` block: every principal found, mapped to a placeholder."""
    found = inputs.acls
    out = _comment("ACLs and permissions: " + found.summary() + ".")
    if found.status != ACLS_READ or not found.bindings:
        return out + ["# Nothing for the provision-acls step to move from this source."]
    by_principal: dict[str, list[AclBinding]] = {}
    for b in found.bindings:
        by_principal.setdefault(b.principal, []).append(b)
    out += [
        "# The provision-acls step reads this block: every principal must be mapped to a",
        "# target identity, or dropped; one still mapped to its <TARGET PRINCIPAL ...>",
        f"# placeholder is refused by name.  {TODO}: map each, in the form "
        + _PRINCIPAL_FORM[inputs.target_type]
        + ".",
        "# Rules and sources: docs/acls.md; `kmigrate plan` shows each binding's decision.",
        "acls:",
        "  principals:",
    ]
    for principal in sorted(by_principal):
        target = q(f"<TARGET PRINCIPAL for {principal}>")
        out.append(f"    {q(principal)}: {target}  # {TODO}")
    out.append("  drop: []            # source principals whose bindings are not moved")
    if inputs.target_type == "eventhubs":
        out.append("  apply: false        # true: also create the role assignments through ARM")
    out.append("# The source's bindings, by principal (also in the snapshot):")
    for principal in sorted(by_principal):
        out.append(f"#   {safe(principal)}:")
        out += [f"#     {safe(b.describe())}" for b in by_principal[principal]]
    if found.skipped:
        out.append("# Bindings kmigrate does not move:")
        out += [f"#   {safe(line)}" for line in found.skipped]
    return out


def render_plan(inputs: InitInputs) -> str:
    """The plan's YAML text (see the module docstring).

    Raises:
        ValueError: an unknown target type.
    """
    if inputs.target_type not in TARGET_TYPES:
        raise ValueError(
            f"unknown target type {inputs.target_type!r}; expected one of {TARGET_TYPES}"
        )
    snap = inputs.snapshot
    topics = sorted(snap.topics)
    # kmigrate's own reader groups are never translated (translate-offsets skips them).
    groups = sorted(g for g in snap.consumer_groups if not g.startswith("kmigrate-"))
    partitions = sum(t.partitions for t in snap.topics.values())
    lines = [
        f"# {safe(inputs.name)}: written by `kmigrate init` from the live source "
        f"{safe(inputs.source_bootstrap)} ({inputs.source_type}).",
        *_comment(
            f"Found: {len(topics)} topics ({partitions} partitions), "
            f"{len(groups)} consumer groups; {inputs.acls.summary()}."
        ),
        f"# Snapshot of what was read (topics, configs, committed offsets, ACLs): "
        f"{safe(inputs.snapshot_file)}",
        "#",
        f"# Fill in every line marked {TODO} (grep it), then review offline (no network,",
        "# no credentials):",
        "#   "
        + safe(f"kmigrate plan {inputs.plan_file} --offline --snapshot {inputs.snapshot_file}"),
        "# and run it phase by phase (each step is journaled; `kmigrate rollback` undoes",
        "# them newest first, deleting only what kmigrate created; the source is never",
        "# written):",
        "#   " + safe(f"kmigrate execute {inputs.plan_file} --phase preflight"),
        *(line for n in inputs.notes for line in _comment(f"Note: {n}")),
        "version: 1",
        f"name: {q(inputs.name)}",
        f"state_dir: {q('.kmigrate/' + inputs.name)}   # journal, offset map, snapshots, reports",
        "",
        "clusters:",
        "  source:                                  # only ever read",
        f"    type: {inputs.source_type}",
        f"    bootstrap_servers: {q(inputs.source_bootstrap)}",
    ]
    if inputs.source_config:
        lines.append("    config:                                # as given with -X")
        lines += [f"      {q(k)}: {q(v)}" for k, v in inputs.source_config]
    lines += ["  target:", *_target_block(inputs.target_type)]
    lines += ["", "# The topics found on the source (partitions, replication factor, configs)."]
    if inputs.exclude:
        lines.append(
            "# "
            + safe(f"Selected with include {list(inputs.topics)}, exclude {list(inputs.exclude)}.")
        )
    lines.append("topics:")
    if topics:
        lines.append("  include:")
        for name in topics:
            t = snap.topics[name]
            configs = safe(", ".join(f"{k}={v}" for k, v in sorted(t.configs.items())))
            lines.append(
                f"    - {q(name):<40} # {_n(t.partitions, 'partition')}, "
                f"RF {t.replication_factor}" + (f", {configs}" if configs else "")
            )
    else:
        lines.append(f"  include: {json.dumps(list(inputs.topics))}   # {TODO}: no topic found")
    lines.append(f"  exclude: {json.dumps(list(inputs.exclude))}")
    lines += ["", *_acl_lines(inputs), "", "phases:"]
    lines += _phases(inputs, groups)
    return "\n".join(lines) + "\n"


def _phases(inputs: InitInputs, groups: Sequence[str]) -> list[str]:
    """The plan's phases, as lines: preflight to mirror, then the cutover to the report."""
    return _phases_to_mirror(_acl_note(inputs.acls)) + _phases_from_cutover(
        inputs.plan_file, groups
    )


def _acl_note(acls: AclFindings) -> str:
    """The comment line above the provision-acls step: what it will find to move."""
    if acls.status == ACLS_READ and acls.bindings:
        return (
            f"Moves the {len(acls.bindings)} bindings of the "
            f"{len({b.principal for b in acls.bindings})} principals mapped under acls: above."
        )
    if acls.status == NO_AUTHORIZER:
        return "The source has no authorizer: no ACL to move (decide the target's own)."
    return "Moves what export-topics reads of the source's ACLs (none read by init)."


def _phases_to_mirror(acl_note: str) -> list[str]:
    """Lines of the preflight, provision-topics, provision-acls and mirror phases."""
    return [
        "  - name: preflight",
        "    steps:",
        "      # Both clusters answer and authenticate; the target's declared facts are",
        "      # compared with what it reports; every ACL operation the steps need is checked.",
        "      # Rollback: nothing (read-only).",
        "      - action: check-connectivity",
        "",
        "  - name: provision-topics",
        "    steps:",
        "      # A fresh snapshot of the selected topics and consumer groups.",
        "      # Rollback: nothing (read-only).",
        "      - action: export-topics",
        "        output: snapshots/topics.yaml",
        "      # Creates the missing topics through the target type's rules and control plane",
        "      # (`kmigrate plan` shows every config copied, converted, dropped or refused).",
        "      # Rollback: deletes exactly the topics (hubs) it created.",
        "      - action: provision-topics",
        "",
        "  - name: provision-acls",
        "    steps:",
        f"      # {safe(acl_note)}",
        "      # Kafka-ACL targets: creates the bindings (MSK with IAM: writes the IAM policy",
        "      # documents; Event Hubs: the role assignments) from the snapshot's ACLs.",
        "      # Rollback: deletes exactly the bindings (role assignments) it created, and",
        "      # removes the file it wrote.",
        "      - action: provision-acls",
        "",
        "  - name: mirror",
        "    steps:",
        "      # Copies every record, then follows new ones until you stop it (Ctrl-C or",
        "      # SIGTERM: a clean, journaled stop) at the start of the cutover window.",
        "      # Rollback: forgets its offset map for topics kmigrate created.",
        "      - action: mirror",
        "        mode: follow",
        "        until: stopped",
        "",
    ]


def _phases_from_cutover(file: str, groups: Sequence[str]) -> list[str]:
    """Lines of the cutover, verify, translate-offsets and report phases."""
    group_lines = (
        ["        groups:", "          include:", *(f"            - {q(g)}" for g in groups)]
        if groups
        else [
            f'        groups: {{include: ["*"]}}   # {TODO}: no consumer group found on the '
            "source at init"
        ]
    )
    return [
        "  - name: cutover",
        f'    # window: {{days: [sat], start: "22:00", end: "02:00", timezone: UTC}}  # {TODO}',
        "    steps:",
        "      - id: stop-producers",
        "        manual: " + q("Stop the producers of the selected topics on the source"),
        "        rollback: " + q("Start the producers on the source again"),
        "      # The fence check: no selected source partition received a record for quiet_s",
        "      # seconds; a refusal names the partitions still written to, with records/s.",
        "      # Rollback: nothing (read-only).",
        "      - action: source-quiet",
        f"        quiet_s: {QUIET_S}",
        "      # The final catch-up: copies what came since the mirror stopped, then stops.",
        "      # Rollback: forgets its offset map for topics kmigrate created.",
        "      - id: mirror-final",
        "        action: mirror",
        "",
        "  - name: verify",
        "    steps:",
        "      # Per partition: counts and ordered SHA-256 digests of both sides.",
        "      # Rollback: nothing (read-only).",
        "      - action: verify",
        "        report: reports/verify.json",
        "",
        "  - name: translate-offsets",
        "    requires:",
        "      - {step: verify, mismatches: 0}",
        "    steps:",
        "      # Consumer groups resume on the target at exactly the next record.",
        "      # Rollback: restores the previous target offsets; deletes groups it created.",
        "      - action: translate-offsets",
        *group_lines,
        "      - id: start-consumers-on-target",
        "        manual: " + q("Start the consumers of these groups against the target"),
        "        rollback: " + q("Stop the consumers on the target; start them on the source"),
        "      # Each translated group has members on the target and committed at or past",
        "      # its translated offsets, and none is active on the source; waits up to",
        "      # timeout_s seconds, then refuses naming each group and why.",
        "      # Rollback: nothing (read-only).",
        "      - action: consumers-on-target",
        f"        timeout_s: {CONSUMERS_TIMEOUT_S}",
        "",
        "  - name: report",
        "    steps:",
        "      - id: evidence-report",
        "        manual: "
        + q(f"Write the evidence report (kmigrate report {file}) and attach evidence.html"),
        "        rollback: " + q("Nothing to undo"),
    ]

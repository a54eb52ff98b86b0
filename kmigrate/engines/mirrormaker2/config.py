"""MirrorMaker 2 connector configs from a plan, rendered for three homes of Kafka Connect.

What the configs say, and why (sources in brackets):

* ``MirrorSourceConnector`` copies the records [KIP-382 "MirrorMaker 2.0"; Kafka
  docs, "Geo-Replication", kafka.apache.org/documentation/#georeplication];
  ``MirrorCheckpointConnector`` (consumer-group checkpoints [KIP-545]) only when
  asked for: kmigrate translates group offsets exactly from its own offset map.
* ``replication.policy.class`` = ``IdentityReplicationPolicy`` (in
  ``connect-mirror-client`` since Kafka 3.0, KAFKA-9726): topic names stay the
  same on the target, as the native engine keeps them.
* the plan's topic selection, its shell globs turned into MM2's ``topics`` and
  ``topics.exclude`` (lists of Java regexes that must match the whole topic name:
  ``DefaultTopicFilter``), plus MM2's own internal-topic excludes;
* ``sync.topic.configs.enabled=false`` and ``sync.topic.acls.enabled=false``:
  kmigrate provisions topic configs and ACLs itself (MM2's sync silently skips some,
  see ``../shared/docs/peers.md``);
* ``offset-syncs.topic.location=target`` [KIP-716]: nothing is written to the
  source, which kmigrate never writes to;
* ``exactly.once.support=required`` [KIP-618] only where the Connect cluster has
  exactly-once source support (worker ``exactly.once.source.support=enabled``); with
  it, ``consumer.isolation.level=read_committed`` so that MirrorSourceConnector
  declares the support (``MirrorSourceConnector.exactlyOnceSupport``);
* the clients: librdkafka settings of the plan's cluster specs turned into Java
  client settings under ``source.cluster.`` / ``target.cluster.``; a secret stays a
  reference in every rendering (Connect's config providers: ``${env:VAR}``,
  KIP-887; ``${directory:DIR:FILE}``, KIP-632; Strimzi Secrets; AWS Secrets
  Manager on MSK Connect).
* the converters: ``ByteArrayConverter`` for key, value and headers, so records
  arrive byte for byte (the dedicated MM2's default; on Connect set by hand).

Every config name here was checked against the ``ConfigDef``\\ s in the
``connect-mirror`` 4.1.0 jar, and a rendered config passes Connect's own
validation (``tests/test_mm2_connect.py``).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kmigrate.engines.mirrormaker2.spec import Mm2Cluster, Mm2Plan
from kmigrate.errors import UsageError
from kmigrate.redact import REFERENCE

SOURCE_CONNECTOR = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
CHECKPOINT_CONNECTOR = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
IDENTITY_POLICY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
BYTE_ARRAY_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
#: MM2's own ``topics.exclude`` default (MirrorSourceConfig): its internal topics,
#: replicas of replicas, and Kafka's ``__`` topics; kept next to the plan's excludes.
MM2_TOPIC_EXCLUDES = ("mm2.*\\.internal", ".*\\.replica", "__.*")
#: MM2's ``groups.exclude`` default (MirrorCheckpointConfig).
MM2_GROUP_EXCLUDES = ("console-consumer-.*", "connect-.*", "__.*")
#: Throughput settings for MirrorMaker 2: parallelism through ``tasks.max`` (Kafka docs,
#: "Geo-Replication"), and the task's producer and consumer tuned as any Kafka client
#: is for throughput (Kafka docs, "Producer Configs" ``batch.size``/``linger.ms``,
#: "Consumer Configs" ``max.poll.records``; MM2's source consumer takes the
#: ``source.consumer.`` prefix, its producer on Connect ``producer.override.``, KIP-458).
#: Connect's worker producer sends one request at a time per connection and without
#: idempotence unless told (``Worker``'s producer defaults, KAFKA-13598): idempotence
#: keeps the order with up to 5 in flight ("Producer Configs",
#: ``max.in.flight.requests.per.connection``).  No compression, as kmigrate's own
#: writer.  Applied by ``Mm2Options(throughput=True)``.
THROUGHPUT_SETTINGS: Mapping[str, str] = {
    "producer.override.batch.size": "262144",
    "producer.override.linger.ms": "20",
    "producer.override.enable.idempotence": "true",
    "producer.override.max.in.flight.requests.per.connection": "5",
    "source.consumer.max.poll.records": "5000",
}
FORMATS = ("connect-rest", "strimzi", "msk-connect")


class NotRenderable(UsageError):
    """A plan key MM2's configs cannot be made from: ``loc`` is its key path (for
    :meth:`kmigrate.plan.loader.LoadedPlan.where`), ``problem`` what is wrong."""

    def __init__(self, loc: tuple[str, ...], problem: str) -> None:
        super().__init__(f"{'.'.join(loc)}: {problem}")
        self.loc = loc
        self.problem = problem


@dataclass(frozen=True)
class Mm2Options:
    """What a plan does not say about MM2.

    ``name``: connector name prefix (``NAME-source``, ``NAME-checkpoint``).
    ``tasks_max``: tasks of the source connector (each copies a share of the
    partitions).  ``checkpoints``: also the MirrorCheckpointConnector for the
    consumer groups matching ``groups`` (globs).  ``exactly_once``: the Connect
    cluster has exactly-once source support (KIP-618; :func:`exactly_once_detected`
    asks a live cluster).  ``refresh_topics_s``: ``refresh.topics.interval.seconds``
    (MM2's default 600 s: a topic created later is copied after up to that long).
    ``replication_factor``: of topics MM2 creates on the target and of its
    offset-syncs topic (MM2's defaults 2 and 3).  ``throughput``: add
    :data:`THROUGHPUT_SETTINGS`.  ``producer_override``: give the worker's producer,
    which writes the records (KIP-382: MM2 on Connect writes through the Connect
    cluster's Kafka), the plan's target settings as ``producer.override.*``
    (KIP-458; the worker's ``connector.client.config.override.policy`` must allow
    it, ``All`` by default); off where the Connect cluster itself authenticates
    with the plan's target settings (Strimzi, MSK Connect).
    """

    name: str = "kmigrate"
    source_alias: str = "source"
    target_alias: str = "target"
    tasks_max: int = 1
    checkpoints: bool = False
    groups: tuple[str, ...] = ("*",)
    exactly_once: bool = False
    refresh_topics_s: int | None = None
    replication_factor: int | None = None
    throughput: bool = False
    producer_override: bool = True


# --- topic selection -------------------------------------------------------------------


_REGEX_META = frozenset("\\.[]{}()*+?^$|")


#: The characters a Kafka topic name may hold (Kafka's ``Topic.validate``: ASCII
#: letters, digits, ``.``, ``_`` and ``-``).
TOPIC_NAME_CHARS = string.ascii_letters + string.digits + "._-"


def _bracket_class(bracket: str) -> str:
    """A glob's ``[...]`` as a regex class of exactly the topic-name characters
    fnmatch's reading of it matches (its ranges, negation, empty reversed ranges
    dropped), or ``(?!)`` (matches nothing) when it matches none of them.  Topic
    names hold only :data:`TOPIC_NAME_CHARS`, so this matches the same names."""
    member = re.compile(fnmatch.translate(bracket))
    chars = [c for c in TOPIC_NAME_CHARS if member.fullmatch(c)]
    if not chars:
        return "(?!)"
    return "[" + "".join("\\" + c if c in "-." else c for c in chars) + "]"


def glob_to_regex(glob: str) -> str:
    """A shell glob (``fnmatch``: ``*``, ``?``, ``[seq]``, ``[!seq]``) as a Java regex
    matching the same whole topic names.

    Raises:
        UsageError: the glob holds a comma (MM2's ``topics`` is a comma-separated
            list, and no topic name holds one).
    """
    if "," in glob:
        raise UsageError(f"topic glob {glob!r}: a comma cannot be in a topic name or MM2 list")
    out, i, n = [], 0, len(glob)
    while i < n:
        char = glob[i]
        i += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            # As fnmatch.translate: "[!" negates, a "]" first is a member, no "]": literal.
            j = i + (1 if glob[i : i + 1] == "!" else 0)
            j += 1 if glob[j : j + 1] == "]" else 0
            j = glob.find("]", j)
            if j < 0:
                out.append("\\[")
                continue
            out.append(_bracket_class(glob[i - 1 : j + 1]))
            i = j + 1
        else:
            out.append("\\" + char if char in _REGEX_META else char)
    return "".join(out)


def topic_filters(include: Sequence[str], exclude: Sequence[str]) -> tuple[str, str]:
    """MM2's ``topics`` and ``topics.exclude`` for the plan's globs: comma-separated
    Java regexes (a topic is copied when it matches one ``topics`` regex and no
    ``topics.exclude`` one: MM2's ``DefaultTopicFilter``); the excludes end with
    :data:`MM2_TOPIC_EXCLUDES`."""
    inc = ",".join(glob_to_regex(g) for g in include)
    exc = [glob_to_regex(g) for g in exclude]
    exc += [p for p in MM2_TOPIC_EXCLUDES if p not in exc]
    return inc, ",".join(exc)


# --- clients ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSecurity:
    """How a Java client reaches one cluster, read from a plan's cluster spec.

    ``username``/``password`` may be kmigrate references (``${VAR}``,
    ``${file:path}``); ``password`` always is one when set.  ``dropped``: plan
    settings with no Java counterpart here, as (key, why).
    """

    bootstrap: str
    protocol: str = "PLAINTEXT"
    mechanism: str = ""
    username: str = ""
    password: str = ""
    ca_location: str = ""
    iam: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)
    dropped: tuple[tuple[str, str], ...] = ()


_PASS_THROUGH = ("client.id", "ssl.endpoint.identification.algorithm")


def client_security(spec: Mm2Cluster, role: str) -> ClientSecurity:
    """:class:`ClientSecurity` of cluster ``role`` (``source`` or ``target``).

    kafka/redpanda (and msk with ``config``): librdkafka's ``security.protocol``,
    ``sasl.mechanism(s)``, ``sasl.username``, ``sasl.password``, ``ssl.ca.location``,
    ``client.id``, ``ssl.endpoint.identification.algorithm`` (librdkafka
    CONFIGURATION.md).  msk with ``auth: iam``: the aws-msk-iam-auth login module
    (github.com/aws/aws-msk-iam-auth, README).  eventhubs: SASL PLAIN with user
    ``$ConnectionString`` (learn.microsoft.com, "Use Azure Event Hubs from Apache
    Kafka applications").  confluent-cloud: SASL PLAIN with the API key.

    Raises:
        UsageError: no bootstrap servers in the plan (MSK discovery needs the AWS API),
            or a SASL mechanism without a user.
    """
    config = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in spec.config.items()}
    bootstrap = spec.bootstrap_servers or ""
    if spec.type == "eventhubs" and spec.namespace and not bootstrap:
        bootstrap = f"{spec.namespace}.servicebus.windows.net:9093"
    if not bootstrap:
        raise NotRenderable(
            ("clusters", role, "bootstrap_servers"),
            "MirrorMaker 2 configs need the bootstrap servers written in the plan "
            "(kmigrate does not look them up for Connect)",
        )
    if spec.type == "eventhubs" and spec.connection_string:
        return ClientSecurity(
            bootstrap, "SASL_SSL", "PLAIN", "$ConnectionString", spec.connection_string
        )
    if spec.type == "confluent-cloud" and spec.api_key:
        return ClientSecurity(bootstrap, "SASL_SSL", "PLAIN", spec.api_key, spec.api_secret or "")
    if spec.type == "msk" and spec.auth == "iam":
        return ClientSecurity(bootstrap, "SASL_SSL", "AWS_MSK_IAM", iam=True)
    known = {
        "security.protocol",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "bootstrap.servers",
        *_PASS_THROUGH,
    }
    extra = {k: config[k] for k in _PASS_THROUGH if k in config}
    if extra.get("ssl.endpoint.identification.algorithm") == "none":
        extra["ssl.endpoint.identification.algorithm"] = ""
    mechanism = config.get("sasl.mechanism", config.get("sasl.mechanisms", "")).upper()
    username = config.get("sasl.username", "")
    if mechanism and mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        raise NotRenderable(
            ("clusters", role, "config", "sasl.mechanism"),
            f"{mechanism} is not rendered for MirrorMaker 2 yet (PLAIN, SCRAM-SHA-256, "
            "SCRAM-SHA-512, or msk auth: iam)",
        )
    if mechanism and not username:
        raise NotRenderable(
            ("clusters", role, "config", "sasl.username"), f"needed with sasl.mechanism {mechanism}"
        )
    return ClientSecurity(
        bootstrap,
        config.get("security.protocol", "PLAINTEXT").upper(),
        mechanism,
        username,
        config.get("sasl.password", ""),
        config.get("ssl.ca.location", ""),
        extra=extra,
        dropped=tuple(
            (k, "a librdkafka setting with no Java counterpart rendered here")
            for k in sorted(config)
            if k not in known
        ),
    )


def connect_reference(value: str) -> str:
    """``value`` with kmigrate's references in Connect's config-provider syntax:
    ``${VAR}`` -> ``${env:VAR}`` (EnvVarConfigProvider, KIP-887) and
    ``${file:/dir/name}`` -> ``${directory:/dir:name}`` (DirectoryConfigProvider,
    KIP-632: the whole file is the value, as for kmigrate).  A relative file path
    stays relative to where the worker runs."""

    def one(match: re.Match[str]) -> str:
        if match.group("var"):
            return f"${{env:{match.group('var')}}}"
        folder, name = posixpath.split(match.group("file"))
        return f"${{directory:{folder or '.'}:{name}}}"

    return REFERENCE.sub(one, value)


def java_settings(sec: ClientSecurity, ref: Any = connect_reference) -> dict[str, str]:
    """Java client settings (``bootstrap.servers`` included) for :class:`ClientSecurity`;
    references in user and password go through ``ref`` (default
    :func:`connect_reference`).  The JAAS line is the login module's (Kafka docs,
    "Authentication using SASL/SCRAM" and "SASL/PLAIN")."""
    out = {"bootstrap.servers": sec.bootstrap, "security.protocol": sec.protocol}
    if sec.iam:
        out["sasl.mechanism"] = "AWS_MSK_IAM"
        out["sasl.jaas.config"] = "software.amazon.msk.auth.iam.IAMLoginModule required;"
        out["sasl.client.callback.handler.class"] = (
            "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
        )
    elif sec.mechanism:
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if sec.mechanism == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        out["sasl.mechanism"] = sec.mechanism
        out["sasl.jaas.config"] = (
            f'{module} required username="{ref(sec.username)}" password="{ref(sec.password)}";'
        )
    if sec.ca_location:
        out["ssl.truststore.type"] = "PEM"
        out["ssl.truststore.location"] = sec.ca_location
    out.update(sec.extra)
    return out


# --- connector configs -----------------------------------------------------------------


def common_config(plan: Mm2Plan, opts: Mm2Options, ref: Any) -> dict[str, str]:
    out = {
        "source.cluster.alias": opts.source_alias,
        "target.cluster.alias": opts.target_alias,
        "replication.policy.class": IDENTITY_POLICY,
        "offset-syncs.topic.location": "target",
        "key.converter": BYTE_ARRAY_CONVERTER,
        "value.converter": BYTE_ARRAY_CONVERTER,
        "header.converter": BYTE_ARRAY_CONVERTER,
    }
    for role in ("source", "target"):
        sec = client_security(getattr(plan.clusters, role), role)
        for key, value in java_settings(sec, ref).items():
            out[f"{role}.cluster.{key}"] = value
            if opts.producer_override and role == "target" and key != "bootstrap.servers":
                # The records go through the Connect worker's producer (KIP-382), not
                # the target.cluster.* clients: give it the plan's target principal
                # (KIP-458 client overrides), or a wrong target credential goes
                # unnoticed while MM2 writes as the Connect cluster's principal.
                out[f"producer.override.{key}"] = value
    if opts.replication_factor:
        out["offset-syncs.topic.replication.factor"] = str(opts.replication_factor)
    return out


def source_connector(plan: Mm2Plan, opts: Mm2Options, ref: Any = connect_reference) -> dict:
    """The MirrorSourceConnector's config (str -> str), as the Connect REST API takes it."""
    topics, excludes = topic_filters(plan.topics.include, plan.topics.exclude)
    out = {
        "name": f"{opts.name}-source",
        "connector.class": SOURCE_CONNECTOR,
        "tasks.max": str(opts.tasks_max),
        **common_config(plan, opts, ref),
        "topics": topics,
        "topics.exclude": excludes,
        "sync.topic.configs.enabled": "false",
        "sync.topic.acls.enabled": "false",
        "emit.offset-syncs.enabled": "true",
    }
    if opts.refresh_topics_s is not None:
        out["refresh.topics.interval.seconds"] = str(opts.refresh_topics_s)
    if opts.replication_factor:
        out["replication.factor"] = str(opts.replication_factor)
    if opts.exactly_once:
        out["exactly.once.support"] = "required"
        out["consumer.isolation.level"] = "read_committed"
    if opts.throughput:
        out.update(THROUGHPUT_SETTINGS)
    return out


def checkpoint_connector(plan: Mm2Plan, opts: Mm2Options, ref: Any = connect_reference) -> dict:
    """The MirrorCheckpointConnector's config [KIP-545]: checkpoints of the groups
    matching ``opts.groups``, emitted to the target; ``sync.group.offsets.enabled``
    stays false (kmigrate's translate-offsets commits exact offsets)."""
    topics, excludes = topic_filters(plan.topics.include, plan.topics.exclude)
    groups = ",".join(glob_to_regex(g) for g in opts.groups)
    out = {
        "name": f"{opts.name}-checkpoint",
        "connector.class": CHECKPOINT_CONNECTOR,
        "tasks.max": "1",
        **common_config(plan, opts, ref),
        "topics": topics,
        "topics.exclude": excludes,
        "groups": groups,
        "groups.exclude": ",".join(MM2_GROUP_EXCLUDES),
        "sync.group.offsets.enabled": "false",
        "emit.checkpoints.enabled": "true",
    }
    if opts.replication_factor:
        out["checkpoints.topic.replication.factor"] = str(opts.replication_factor)
    return out


def connectors(plan: Mm2Plan, opts: Mm2Options, ref: Any = connect_reference) -> list[dict]:
    """The connector configs of a plan: the source connector, then the checkpoint
    connector when ``opts.checkpoints``."""
    out = [source_connector(plan, opts, ref)]
    if opts.checkpoints:
        out.append(checkpoint_connector(plan, opts, ref))
    return out


def dropped_settings(plan: Mm2Plan) -> list[str]:
    """``clusters.ROLE.config.KEY: why`` for every plan setting the configs leave out."""
    return [
        f"clusters.{role}.config.{key}: {why}"
        for role in ("source", "target")
        for key, why in client_security(getattr(plan.clusters, role), role).dropped
    ]

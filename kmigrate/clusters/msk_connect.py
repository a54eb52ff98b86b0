"""AWS MSK Connect as a MirrorMaker 2 control plane (boto3 ``kafkaconnect``).

:class:`MskConnectPlane` satisfies
:class:`kmigrate.engines.mirrormaker2.plane.ConnectPlane` structurally: ``create``
(``CreateConnector``), ``status`` (``DescribeConnector``), ``delete``
(``DeleteConnector``).  The MSK-specific part of each request (capacity, custom
plugin, service execution role, ``kafkaCluster`` and its VPC, authentication,
encryption, worker configuration) is made once from the plan's
``connect: {msk_connect: {...}}`` block by
:func:`kmigrate.engines.mirrormaker2.render.msk_connect_request`; the plane adds
each connector's name and config.

boto3 (the ``aws`` extra) is imported only here, lazily.  Shapes, states and errors:
the botocore ``kafkaconnect`` service model and the MSK Connect API reference
(docs.aws.amazon.com/MSKC/latest/mskc/API_CreateConnector.html,
API_DescribeConnector.html, API_DeleteConnector.html); botocore checks every
request against the model before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kmigrate.clusters._optional import require
from kmigrate.clusters.port import ConnectorStatus, TaskStatus
from kmigrate.errors import ClusterError, UsageError

_EXTRA_MSG = "MirrorMaker 2 on MSK Connect"

#: MSK Connect's ``connectorState`` (DescribeConnector) as a Kafka Connect state
#: (:class:`~kmigrate.clusters.port.TaskStatus`): CREATING and UPDATING are not
#: running yet (UNASSIGNED), DELETING is on its way out (STOPPED).  A state not
#: listed here (a later API version) is passed through as it is: neither RUNNING nor
#: FAILED, so a wait names it when it times out.
STATES: Mapping[str, str] = {
    "RUNNING": "RUNNING",
    "CREATING": "UNASSIGNED",
    "UPDATING": "UNASSIGNED",
    "RESUMING": "UNASSIGNED",
    "FAILED": "FAILED",
    "DELETING": "STOPPED",
    "PAUSING": "PAUSED",
    "PAUSED": "PAUSED",
    "RESTARTING": "RESTARTING",
}

#: Request parameters (botocore's dotted names) and the key of the plan's
#: ``msk_connect`` block each comes from (the names of
#: :class:`kmigrate.engines.mirrormaker2.render.MskConnectOptions`), so that a
#: request botocore refuses is reported at its plan key.  Longest prefix wins.
PLAN_KEYS: Mapping[str, str] = {
    "serviceExecutionRoleArn": "role_arn",
    "plugins": "plugin_arn",
    "plugins[0].customPlugin.revision": "plugin_revision",
    "kafkaCluster.apacheKafkaCluster.vpc.subnets": "subnets",
    "kafkaCluster.apacheKafkaCluster.vpc.securityGroups": "security_groups",
    "capacity.provisionedCapacity.mcuCount": "mcu_count",
    "capacity.provisionedCapacity.workerCount": "workers",
    "kafkaConnectVersion": "kafka_connect_version",
    "workerConfiguration": "worker_configuration_arn",
    "workerConfiguration.revision": "worker_configuration_revision",
}

#: A request's parameters that name one connector; the rest is the plane's.
_PER_CONNECTOR = ("connectorName", "connectorConfiguration", "connectorDescription")
_PARAM = re.compile(
    r'parameter in input: "(?P<top>[\w]+)"|parameter in (?P<parent>[\w.\[\]]+): "(?P<child>\w+)"'
    r"|for parameter (?P<path>[\w.\[\]]+)"
)
_DENIED = ("AccessDeniedException", "ForbiddenException", "UnauthorizedException")
#: Kafka Connect's config-provider references as kmigrate renders them for a
#: self-run worker: ``${env:VAR}`` (EnvVarConfigProvider, KIP-887) and
#: ``${directory:DIR:FILE}`` (DirectoryConfigProvider, KIP-632).
_CONNECT_REFERENCE = re.compile(r"\$\{env:(?P<var>\w+)\}|\$\{directory:[^:}]*:(?P<file>[^}]+)\}")


def secrets_manager_references(value: str, secret_id: str) -> str:
    """``value`` with Connect's ``${env:VAR}`` / ``${directory:DIR:FILE}`` references
    made ``${secretsmanager:SECRET_ID:VAR}`` / ``…:FILE}``: MSK Connect's workers have
    neither the environment nor the files, and read secrets from AWS Secrets Manager
    through the config provider its worker configuration defines (MSK docs, "Tutorial:
    Externalizing sensitive information using config providers"); the secret's keys
    are the plan's variable (or file) names, as ``kmigrate mm2-config --format
    msk-connect`` writes them."""

    def one(match: re.Match[str]) -> str:
        return f"${{secretsmanager:{secret_id}:{match.group('var') or match.group('file')}}}"

    return _CONNECT_REFERENCE.sub(one, value)


def kafkaconnect_client(region: str) -> Any:
    """A boto3 ``kafkaconnect`` client for ``region`` (credentials from the usual chain).

    Raises:
        UsageError: boto3 is not installed (``pip install 'kmigrate[aws]'``).
    """
    boto3 = require("boto3", "aws", _EXTRA_MSG)
    return boto3.client("kafkaconnect", region_name=region)


class ConnectorGone(ClusterError):
    """MSK Connect answered NotFoundException: no connector with that ARN."""


def _plan_key(message: str) -> str:
    """The ``msk_connect`` key a botocore parameter-validation report is about (the
    first parameter it names), or ``""`` when it names none this plane maps."""
    match = _PARAM.search(message)
    if not match:
        return ""
    if match.group("top"):
        param = match.group("top")
    elif match.group("parent"):
        param = f"{match.group('parent')}.{match.group('child')}"
    else:
        param = match.group("path")
    best = max((p for p in PLAN_KEYS if param == p or param.startswith(p)), key=len, default="")
    return PLAN_KEYS.get(best, "")


class MskConnectPlane:
    """MirrorMaker 2 connectors on MSK Connect, in one AWS region.

    Args:
        region: the AWS region of the connectors (and of :attr:`where`).
        base: ``create_connector`` keyword arguments without the per-connector ones
            (``connectorName``, ``connectorConfiguration``,
            ``connectorDescription``): see :meth:`from_request`.
        client: a boto3 ``kafkaconnect`` client (tests pass one under botocore's
            Stubber); by default one for ``region`` from the usual credential chain.
        plan_loc: the key path of the plan's ``msk_connect`` block, for errors.
        locate: turns a key path into ``file:line: key`` (``LoadedPlan.where``);
            without it errors name the dotted key only.
        description: ``connectorDescription`` prefix; the connector name follows.
        secret_id: the Secrets Manager secret the connector configs' references
            point to (:func:`secrets_manager_references`).

    MSK Connect reports one state for a connector and none per task (its workers run
    the tasks out of sight; the Java trace goes to the connector's log delivery,
    CloudWatch, S3 or Firehose).  :meth:`status` therefore carries that state as the
    connector's and as one task's (id 0, standing for all tasks) while it is not
    FAILED, so that ``ConnectorStatus.running`` means "MSK Connect says RUNNING";
    a FAILED connector has no task and its trace is the ``stateDescription``.
    """

    def __init__(
        self,
        region: str,
        base: Mapping[str, Any],
        client: Any = None,
        *,
        plan_loc: tuple[str | int, ...] = ("connect", "msk_connect"),
        locate: Callable[[tuple[str | int, ...]], str] | None = None,
        description: str = "kmigrate: MirrorMaker 2",
        secret_id: str = "kmigrate",
    ) -> None:
        self.region = region
        self.where = f"MSK Connect ({region})"
        self.base = {k: v for k, v in base.items() if k not in _PER_CONNECTOR}
        self._client = client
        self.plan_loc = plan_loc
        self.locate = locate or (lambda loc: ".".join(str(part) for part in loc))
        self.description = description
        self.secret_id = secret_id

    @classmethod
    def from_request(
        cls, request: Mapping[str, Any], region: str, client: Any = None, **kwargs: Any
    ) -> MskConnectPlane:
        """A plane whose requests are ``request`` (one of
        :func:`~kmigrate.engines.mirrormaker2.render.msk_connect_request`'s) with the
        name and config of each connector created in place of its own."""
        return cls(region, request, client, **kwargs)

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (so a plane can be built without boto3
        installed until it is used)."""
        if self._client is None:
            self._client = kafkaconnect_client(self.region)
        return self._client

    def _call(self, operation: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """One API call; every failure in words.

        Raises:
            UsageError: botocore refused the request before sending it (a value from
                the plan does not fit the service model): the plan key named.
            ConnectorGone: NotFoundException.
            ClusterError: any other refusal (its code and message; for a denial,
                the IAM action the caller lacks) or no answer.
        """
        exc = require("botocore.exceptions", "aws", _EXTRA_MSG)
        try:
            return dict(getattr(self.client, operation)(**kwargs))
        except exc.ParamValidationError as err:
            report = " ".join(str(err.kwargs.get("report", err)).split())
            key = _plan_key(report)
            where = self.locate((*self.plan_loc, key)) if key else self.locate(self.plan_loc)
            raise UsageError(f"{where}: MSK Connect refuses {what}: {report}") from None
        except exc.ClientError as err:
            error = err.response.get("Error", {})
            code, message = error.get("Code", "error"), error.get("Message", "")
            text = f"{self.where}: {what} failed: {code}: {message}".rstrip(": ")
            if code == "NotFoundException":
                raise ConnectorGone(text) from None
            if code in _DENIED:
                action = "".join(w.capitalize() for w in operation.split("_"))
                text += (
                    f" (the AWS credentials in use may not call kafkaconnect:{action}; "
                    "creating also needs iam:PassRole on the service execution role)"
                )
            raise ClusterError(text) from None
        except exc.BotoCoreError as err:
            raise ClusterError(f"{self.where}: {what} failed: {err}") from None

    def create(self, name: str, config: Mapping[str, str], description: str = "") -> str:
        """``CreateConnector`` for connector ``name`` with ``config`` (str -> str, the
        MirrorMaker 2 connector config; Connect's ``${env:…}`` / ``${directory:…}``
        references become ``${secretsmanager:…}`` ones; a ``name`` key is left out,
        MSK Connect takes it apart).
        ``description``: the ``connectorDescription``, by default the plane's
        prefix and the name.

        Returns:
            The connector's ARN, which :meth:`status` and :meth:`delete` take.

        Raises:
            UsageError: a plan value the service model refuses (exit 2, the key named).
            ClusterError: MSK Connect refused (code and message) or did not answer.
        """
        request = {
            **self.base,
            "connectorName": name,
            "connectorDescription": description or f"{self.description} ({name})",
            "connectorConfiguration": {
                k: secrets_manager_references(str(v), self.secret_id)
                for k, v in config.items()
                if k != "name"
            },
        }
        answer = self._call("create_connector", f"create_connector {name}", **request)
        return str(answer["connectorArn"])

    def status(self, ref: str) -> ConnectorStatus:
        """``DescribeConnector``: the state mapped by :data:`STATES`; a FAILED
        connector's trace is its ``stateDescription`` (code: message).

        Raises:
            ConnectorGone: no such connector (a ClusterError).
            ClusterError: refused or no answer.
        """
        answer = self._call("describe_connector", f"describe_connector {ref}", connectorArn=ref)
        raw = str(answer.get("connectorState", ""))
        state = STATES.get(raw, raw)
        trace = ""
        if state == "FAILED":
            desc = answer.get("stateDescription") or {}
            trace = ": ".join(str(desc[k]) for k in ("code", "message") if desc.get(k))
            trace = trace or "MSK Connect gave no stateDescription (see the connector's logs)"
        name = str(answer.get("connectorName", ref))
        tasks = () if state == "FAILED" else (TaskStatus(0, state, self.where),)
        return ConnectorStatus(name, TaskStatus(-1, state, self.where, trace), tasks)

    def delete(self, ref: str) -> bool:
        """``DeleteConnector``; True when MSK Connect accepted it (the connector then
        goes through DELETING), False when it was already gone (NotFoundException).

        Raises:
            ClusterError: refused (an AccessDenied names the IAM action) or no answer.
        """
        try:
            self._call("delete_connector", f"delete_connector {ref}", connectorArn=ref)
        except ConnectorGone:
            return False
        return True


def create_connectors(
    requests: Sequence[dict[str, Any]], region: str, client: Any = None
) -> list[str]:
    """Create each connector of whole ``create_connector`` requests (as
    :func:`~kmigrate.engines.mirrormaker2.render.msk_connect_request` makes them);
    returns their ARNs, in order.

    Raises:
        UsageError: boto3 missing, or a request the service model refuses
            (botocore's parameter validation, before any call).
        ClusterError: the service refused a connector (its error code and message).
    """
    arns = []
    for request in requests:
        plane = MskConnectPlane.from_request(request, region, client)
        name = str(request.get("connectorName", "?"))
        config = request.get("connectorConfiguration", {})
        arns.append(plane.create(name, config, str(request.get("connectorDescription", ""))))
    return arns

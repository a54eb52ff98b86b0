"""The ``connect:`` block of a mirror step with ``engine: mirrormaker2``: where its
MirrorMaker 2 connectors run (a Kafka Connect REST API or MSK Connect) and how."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kmigrate.plan.refs import REFERENCE

__all__ = ["ConnectSpec", "MskConnectSpec"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MskConnectSpec(_Strict):
    """Where MSK Connect runs the connectors (boto3 ``kafkaconnect``,
    ``CreateConnector``: docs.aws.amazon.com/MSKC/latest/mskc/API_CreateConnector.html).

    ``plugin_arn``: a custom plugin holding ``connect-mirror``; ``role_arn``: the
    service execution role; ``subnets`` / ``security_groups``: the VPC of the
    target; ``secret_id``: the Secrets Manager secret whose keys are the plan's
    variable names (``${secretsmanager:SECRET_ID:VAR}``); ``workers`` and
    ``mcu_count``: provisioned capacity.
    """

    region: str = Field(min_length=1)
    role_arn: str = Field(min_length=1)
    plugin_arn: str = Field(min_length=1)
    subnets: list[str] = Field(min_length=1)
    security_groups: list[str] = Field(default_factory=list)
    plugin_revision: int = Field(default=1, ge=1)
    kafka_connect_version: str = "3.7.x"
    workers: int = Field(default=2, ge=1)
    mcu_count: int = Field(default=1, ge=1)
    secret_id: str = "kmigrate"
    worker_configuration_arn: str = ""
    worker_configuration_revision: int = Field(default=1, ge=1)


class ConnectSpec(_Strict):
    """Where the MirrorMaker 2 connectors of ``engine: mirrormaker2`` run, and how.

    ``url``: a Kafka Connect REST API (self-run or Strimzi), or ``msk_connect``:
    MSK Connect; exactly one.  ``username`` / ``password``: HTTP basic auth of the
    REST API (KIP-208), each a ``${ENV}`` / ``${file:path}`` reference.
    ``tasks_max``: tasks of the MirrorSourceConnector.  ``checkpoints``: also the
    MirrorCheckpointConnector (KIP-545).  ``exactly_once``: require exactly-once
    source support (KIP-618); by default asked of a Connect REST API (``url``),
    and taken as off on MSK Connect, whose REST API kmigrate cannot reach.
    ``group_id``: the Connect cluster's ``group.id``, when known: the exactly-once
    permission check then names each task's transactional id exactly
    (``GROUP-CONNECTOR-TASK``, KIP-618) instead of matching their shape; the REST API
    does not tell it.
    ``name``: the connectors' name prefix (default ``kmigrate-PLAN``).
    ``replication_factor``: of the internal topics MM2 creates on the target.
    ``running_timeout_s``: how long every task may take to be RUNNING.
    ``poll_s``: seconds between looks at the tasks and both clusters' watermarks.
    """

    url: str | None = None
    msk_connect: MskConnectSpec | None = None
    username: str | None = None
    password: str | None = None
    tasks_max: int = Field(default=1, ge=1, le=1024)
    checkpoints: bool = False
    exactly_once: bool | None = None
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    group_id: str | None = Field(default=None, min_length=1)
    replication_factor: int | None = Field(default=None, ge=1)
    running_timeout_s: float = Field(default=180.0, gt=0)
    poll_s: float = Field(default=1.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http:// or https:// URL; found {value!r}")
        return value

    @field_validator("username", "password")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None and not REFERENCE.fullmatch(value):
            raise ValueError(
                "expected a ${ENV_VAR} or ${file:path} reference; found a literal value (not shown)"
            )
        return value

    @model_validator(mode="after")
    def _one_home(self) -> ConnectSpec:
        if (self.url is None) == (self.msk_connect is None):
            raise ValueError(
                "expected exactly one of url (a Kafka Connect REST API) and msk_connect; "
                f"found {'both' if self.url else 'neither'}"
            )
        if self.msk_connect is not None and (self.username or self.password):
            raise ValueError("username/password are for a Connect REST API (url), not msk_connect")
        return self

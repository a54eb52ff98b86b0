"""The MSK Connect control plane of a mirror step: its ``connect.msk_connect`` block
and the plan's target made into a :class:`~kmigrate.clusters.msk_connect.MskConnectPlane`.

The MSK part of each ``create_connector`` request comes from
:func:`~kmigrate.engines.mirrormaker2.render.msk_connect_base` (the same as
``kmigrate mm2-config --format msk-connect`` writes), so a plan that runs on MSK
Connect and the requests it renders for GitOps agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kmigrate.clusters.msk_connect import MskConnectPlane
from kmigrate.engines.mirrormaker2.render import MskConnectOptions, msk_connect_base

__all__ = ["msk_connect_base", "msk_connect_plane", "msk_options"]
from kmigrate.engines.mirrormaker2.spec import Mm2Plan


def msk_options(spec: Any) -> MskConnectOptions:
    """:class:`MskConnectOptions` from the plan's ``msk_connect`` block (the same key
    names: ``role_arn``, ``plugin_arn``, ``subnets``, ``security_groups``,
    ``plugin_revision``, ``kafka_connect_version``, ``workers``, ``mcu_count``,
    ``secret_id``, ``worker_configuration_arn``, ``worker_configuration_revision``)."""
    return MskConnectOptions(
        role_arn=spec.role_arn,
        plugin_arn=spec.plugin_arn,
        subnets=tuple(spec.subnets),
        security_groups=tuple(spec.security_groups),
        plugin_revision=spec.plugin_revision,
        kafka_connect_version=spec.kafka_connect_version,
        workers=spec.workers,
        mcu_count=spec.mcu_count,
        secret_id=spec.secret_id,
        worker_configuration_arn=spec.worker_configuration_arn,
        worker_configuration_revision=spec.worker_configuration_revision,
    )


def msk_connect_plane(
    spec: Any,
    plan: Mm2Plan,
    client: Any = None,
    *,
    plan_loc: tuple[str | int, ...] = ("connect", "msk_connect"),
    locate: Callable[[tuple[str | int, ...]], str] | None = None,
) -> MskConnectPlane:
    """The plane for ``spec`` (the plan's ``msk_connect`` block, with ``region``) and
    ``plan`` (its target becomes ``kafkaCluster``).  ``client``: a boto3
    ``kafkaconnect`` client (tests pass one under botocore's Stubber).  ``plan_loc``
    and ``locate``: where the block is in the plan and how a key path is named
    (``LoadedPlan.where``), for a value the service model refuses.

    Raises:
        kmigrate.engines.mirrormaker2.config.NotRenderable: the target is not
            reachable from MSK Connect (SASL/SCRAM or PLAIN: IAM or none only).
    """
    msk = msk_options(spec)
    return MskConnectPlane(
        spec.region,
        msk_connect_base(plan, msk),
        client,
        plan_loc=plan_loc,
        locate=locate,
        description=f"kmigrate plan {plan.name}: MirrorMaker 2",
        secret_id=msk.secret_id,
    )

"""``kmigrate mm2-config PLAN --format connect-rest|strimzi|msk-connect``: the plan's
MirrorMaker 2 connector configs, for GitOps (:mod:`kmigrate.engines.mirrormaker2.config`).

Touches no cluster and resolves no reference: every secret stays a reference in
what is printed or written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from kmigrate.engines.mirrormaker2 import config as mm2
from kmigrate.engines.mirrormaker2 import render
from kmigrate.errors import PlanError, UsageError
from kmigrate.plan import load_plan
from kmigrate.preflight import check_output_option
from kmigrate.safefs import atomic_write
from kmigrate.ui import UI


def mm2_config(
    plan_path: str,
    fmt: str,
    ui: UI,
    emit: Callable[[str], None],
    *,
    out: str | None = None,
    tasks_max: int = 1,
    checkpoints: bool = False,
    exactly_once: bool = False,
    msk_role_arn: str | None = None,
    msk_plugin_arn: str | None = None,
    msk_subnets: tuple[str, ...] = (),
    msk_security_groups: tuple[str, ...] = (),
    msk_secret_id: str = "kmigrate",
) -> int:
    """Print with ``emit`` (or write to ``out``, mode 0600) the connector configs in
    ``fmt`` (one of :data:`~kmigrate.engines.mirrormaker2.config.FORMATS`): the
    document as it is, never wrapped; ``ui``'s lines (give it JSON mode, so they go
    to standard error) only say what was left out or written.  Returns 0.

    ``exactly_once``: the Connect cluster has exactly-once source support (KIP-618);
    it cannot be detected offline (a live Connect cluster is asked by
    :meth:`kmigrate.adapters.connect_rest.ConnectRest.exactly_once_source`).
    Plan settings with no Java counterpart are named on standard error.

    Raises:
        PlanError: the plan is invalid, or a cluster spec cannot be rendered for
            ``fmt`` (``file:line: key: why``: no bootstrap servers, a SASL mechanism
            not rendered, a target MSK Connect cannot reach).
        UsageError: ``--format msk-connect`` without ``--msk-role-arn``,
            ``--msk-plugin-arn`` or ``--msk-subnet``; ``out`` cannot be written.
    """
    check_output_option("--out", out)
    if fmt not in mm2.FORMATS:
        raise UsageError(f"--format: expected one of {', '.join(mm2.FORMATS)}; found {fmt!r}")
    plan = load_plan(plan_path)
    name = re.sub(r"[^A-Za-z0-9._-]", "-", plan.model.name)
    opts = mm2.Mm2Options(
        name=name, tasks_max=tasks_max, checkpoints=checkpoints, exactly_once=exactly_once
    )
    try:
        if fmt == "connect-rest":
            text = render.render_connect_rest(plan.model, opts)
        elif fmt == "strimzi":
            text = render.render_strimzi(plan.model, opts)
        else:
            missing = [
                flag
                for flag, value in (
                    ("--msk-role-arn", msk_role_arn),
                    ("--msk-plugin-arn", msk_plugin_arn),
                    ("--msk-subnet", msk_subnets),
                )
                if not value
            ]
            if missing:
                raise UsageError(f"--format msk-connect needs {', '.join(missing)}")
            msk = render.MskConnectOptions(
                role_arn=msk_role_arn or "",
                plugin_arn=msk_plugin_arn or "",
                subnets=msk_subnets,
                security_groups=msk_security_groups,
                secret_id=msk_secret_id,
            )
            text = render.render_msk_connect(plan.model, opts, msk)
    except mm2.NotRenderable as exc:
        raise PlanError(f"{plan.where(exc.loc)}: {exc.problem}") from None
    for line in mm2.dropped_settings(plan.model):
        ui.warn(f"left out of the MirrorMaker 2 configs: {line}")
    if out is None:
        emit(text.rstrip("\n"))
    else:
        atomic_write(Path(out), text)
        ui.ok(f"wrote {out} ({fmt})")
    return 0

"""``kmigrate init``: write a commented plan, and a snapshot beside it, from a live source.

Reads the source through the same code as ``export`` (topics, customised configs,
consumer groups and their committed offsets, and its ACL bindings:
:mod:`kmigrate.steps.source_acls`), then writes the plan
(:func:`kmigrate.plan.writer.render_plan`) and the snapshot.  Only reads the source.

The written plan is parsed and validated with the plan loader before anything is
written, so a plan ``init`` writes is one ``kmigrate plan --offline`` accepts.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from kmigrate.clusters import registry
from kmigrate.context import parse_settings
from kmigrate.errors import UsageError
from kmigrate.plan.loader import parse_plan
from kmigrate.plan.refs import REFERENCE
from kmigrate.plan.writer import (
    TODO,
    InitInputs,
    render_plan,
)
from kmigrate.preflight import check_output_option
from kmigrate.safefs import atomic_write
from kmigrate.snapshot import dump
from kmigrate.steps.export_topics import export_snapshot
from kmigrate.steps.source_acls import acls_client, read_acls, say_acls, with_acls
from kmigrate.ui import UI


def _plan_name(output: Path, bootstrap: str, target_type: str) -> str:
    stem = output.stem if output.stem not in ("plan", "") else ""
    host = bootstrap.split(",")[0].rsplit(":", 1)[0]
    name = stem or f"{host}-to-{target_type}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "migration"


def snapshot_path_for(output: Path) -> Path:
    """Where the snapshot goes: beside the plan, ``NAME.snapshot.yaml`` for ``NAME.yaml``."""
    return output.with_name(f"{output.stem}.snapshot.yaml")


def init(
    bootstrap: str,
    target_type: str,
    output: str,
    ui: UI,
    *,
    source_type: str = "kafka",
    source_config: tuple[str, ...] = (),
    topics: tuple[str, ...] = ("*",),
    exclude: tuple[str, ...] = ("__*", "_schemas"),
    force: bool = False,
) -> int:
    """Write the plan to ``output`` and its snapshot beside it.  Returns 0.

    ``source_config``: ``-X KEY=VALUE`` pairs; written into the plan as given (a secret
    key's value must be a ``${ENV_VAR}`` / ``${file:…}`` reference, resolved only to
    connect and never written).

    Raises:
        kmigrate.errors.UsageError: an unknown target type, a literal secret in ``-X``,
            an output that cannot be written, or one that exists (without ``force``).
        kmigrate.errors.ClusterError: the source could not be read.
    """
    plan_path, snap_path = _outputs(target_type, output, force)
    settings = parse_settings(source_config, "--source-config")
    pairs = [tuple(p.split("=", 1)) for p in source_config]
    started = time.monotonic()
    source, _ = registry.open_cluster(
        "source", source_type, {"bootstrap_servers": bootstrap}, settings
    )
    try:
        snapshot = export_snapshot(source, source_type, topics, exclude)
        acls = read_acls(acls_client(source, "source"))
    finally:
        source.close()
    snapshot = with_acls(snapshot, acls)
    inputs = InitInputs(
        name=_plan_name(plan_path, bootstrap, target_type),
        source_type=source_type,
        source_bootstrap=bootstrap,
        target_type=target_type,
        snapshot=snapshot,
        snapshot_file=snap_path.name,
        acls=acls,
        source_config=[(k, v) for k, v in pairs],
        topics=topics,
        exclude=exclude,
        plan_file=plan_path.name,
    )
    text = render_plan(inputs)
    parse_plan(text, plan_path)  # a writer defect stops here, before anything is written
    atomic_write(snap_path, dump(snapshot))
    atomic_write(plan_path, text)
    took = time.monotonic() - started
    partitions = sum(t.partitions for t in snapshot.topics.values())
    ui.ok(
        f"wrote {plan_path} ({len(snapshot.topics)} topics, {partitions} partitions, "
        f"{len(snapshot.consumer_groups)} consumer groups) and {snap_path} in {took:.1f} s"
    )
    say_acls(ui, acls)
    _warn_relative_files(ui, pairs, plan_path)
    todo = sum(1 for line in text.splitlines() if TODO in line)
    ui.line(f"{todo} lines marked {TODO} to fill in or confirm; then review offline:")
    ui.line(f"  kmigrate plan {plan_path} --offline --snapshot {snap_path}")
    ui.emit_json(
        {
            "plan": str(plan_path),
            "snapshot": str(snap_path),
            "topics": len(snapshot.topics),
            "partitions": partitions,
            "consumer_groups": len(snapshot.consumer_groups),
            "acls": acls.status,
            "acl_bindings": len(acls.bindings),
            "todo_lines": todo,
            "seconds": round(took, 3),
        }
    )
    return 0


def _outputs(target_type: str, output: str, force: bool) -> tuple[Path, Path]:
    """``(plan file, snapshot file)`` for ``--out``, checked.

    Raises:
        kmigrate.errors.UsageError: an unknown target type, an output that cannot be
            written, or one that exists (without ``force``).
    """
    if target_type not in ("msk", "eventhubs", "confluent-cloud", "kafka"):
        raise UsageError(
            f"--target-type: expected msk, eventhubs, confluent-cloud or kafka; "
            f"found {target_type!r}"
        )
    check_output_option("--out", output)
    plan_path = Path(output)
    snap_path = snapshot_path_for(plan_path)
    existing = [p for p in (plan_path, snap_path) if p.exists() or p.is_symlink()]
    if existing and not force:
        raise UsageError(
            f"{' and '.join(map(str, existing))} already "
            f"{'exist' if len(existing) > 1 else 'exists'}; "
            "choose another --out or add --force to replace it"
        )
    return plan_path, snap_path


def _warn_relative_files(ui: UI, pairs: list[tuple[str, ...]], plan_path: Path) -> None:
    """Warn for each ``${file:…}`` reference of ``-X`` that is relative: it was read
    from the working directory, but a plan's references are read from its folder."""
    folder = plan_path.resolve().parent
    for key, value in pairs:
        for ref in REFERENCE.finditer(value):
            relative = ref.group("file") and not Path(ref.group("file")).is_absolute()
            if relative and folder != Path.cwd().resolve():
                ui.warn(
                    f"-X {key}: {ref.group(0)} was read from {Path.cwd()}; when the plan "
                    f"runs it is read relative to the plan's folder {folder}: make it absolute"
                )

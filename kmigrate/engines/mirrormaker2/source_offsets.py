"""A MirrorMaker 2 connector's stored source offsets: reset on a fresh run and on
rollback, so a connector created again under the same name never skips records.

Why: Kafka Connect keeps a source connector's committed source offsets in its
offsets topic by connector *name*, and keeps them after the connector is deleted
(KIP-875, "First-class offsets support in Kafka Connect").  The mirror step names
its connectors ``kmigrate-PLAN-source`` (deterministic), so after ``kmigrate
rollback`` (which may delete the target topics the plan provisioned) a new
``execute`` would create the same-named MirrorSourceConnector, which resumes at the
old offsets and skips every record copied before: the target would miss them.

What kmigrate does, on a Kafka Connect REST API (:class:`~.plane.OffsetsPlane`):

* **A fresh run** (no connector in the step's journal state, and no earlier MM2
  mirror step of this plan whose copy the connector continues): each connector is
  created STOPPED (``"initial_state": "STOPPED"`` in ``POST /connectors``, KIP-980,
  Connect 3.7+), its offsets read (``GET /connectors/NAME/offsets``) and, when it
  has any, reset (``DELETE /connectors/NAME/offsets``, KIP-875, 3.6+: "connector X
  had source offsets from an earlier run; reset (KIP-875)"), then resumed
  (``PUT /connectors/NAME/resume``).  Nothing is copied before the reset.
* **A resume after a crash** (the connectors journaled) keeps the offsets: that is
  what the journal is for.  A journaled connector found STOPPED is one a run
  created but did not resume: its offsets are reset, then it is resumed.
* **A later MM2 mirror step of the same plan** (snapshot, then follow) keeps them:
  they point exactly after what the earlier step copied to the target.
* **Rollback** resets them too: a connector still there is stopped
  (``PUT /connectors/NAME/stop``), its offsets reset, then deleted; one the copy
  already deleted is created again STOPPED from its journaled config (no task
  runs, nothing is copied), its offsets reset, and deleted again.
* **A Connect older than 3.6/3.7**, or an endpoint answering 404/405: the run does
  not fail; the output and the journal (``Mm2State.offset_notes``) say that the
  offsets could not be reset and why, and what to do (a new ``connect.name``).
* **MSK Connect** has no API to read or reset a connector's offsets.  By default
  it gives each new connector its own offsets topic
  (``__amazon_msk_connect_offsets_NAME_ID``: nothing is inherited), but a custom
  worker configuration with ``offset.storage.topic`` makes a connector created
  under an earlier name resume from that name's offsets (AWS, "Amazon MSK
  Connect: use custom offset storage topic").  kmigrate says so and never claims
  a reset there: the operator gives the connectors a new ``connect.name``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kmigrate.engines.mirrormaker2.plane import ConnectPlane, OffsetsPlane, OffsetsUnsupported
from kmigrate.errors import ClusterError

#: What to do when the offsets could not be reset (appended to each such line).
RENAME = (
    "a connector created under this name resumes from any source offsets an "
    "earlier connector of that name left, skipping the records before them: give "
    "the connectors a new name prefix (the mirror step's connect.name) if one ran before"
)


def no_api_note(plane: ConnectPlane, name: str) -> str:
    """The line for a plane with no offsets API (MSK Connect): what it keeps and
    what the operator must do; never a claim of a reset."""
    custom = bool(getattr(plane, "base", {}).get("workerConfiguration"))
    kept = (
        "its worker configuration is a custom one: if it sets offset.storage.topic, "
        if custom
        else "with its default worker configuration each new connector gets its own "
        "offsets topic, but with a custom one that sets offset.storage.topic "
    )
    return (
        f"source offsets of connector {name} not checked: {plane.where} has no API to "
        f"read or reset a connector's source offsets (KIP-875 is Kafka Connect's REST "
        f"API); {kept}{RENAME}"
    )


def _reset_line(name: str, held: int, *, rollback: bool = False) -> str:
    if held == 0:
        return f"connector {name} had no source offsets stored; nothing to reset"
    if rollback:
        return (
            f"connector {name}'s stored source offsets ({held} source partitions) reset (KIP-875)"
        )
    return (
        f"connector {name} had source offsets from an earlier run "
        f"({held} source partitions); reset (KIP-875)"
    )


def create_fresh(
    plane: ConnectPlane,
    name: str,
    config: Mapping[str, str],
    journal: Callable[[str], None],
    notes: list[str],
) -> list[str]:
    """Create connector ``name`` for a fresh run: STOPPED, its stored source offsets
    reset, then resumed (see the module's text).  ``journal(ref)`` is called as soon
    as the connector exists; each line that says offsets could not be reset is also
    added to ``notes`` (journaled).  Returns the lines to print.

    Raises:
        ClusterError: the plane refused the config or did not answer.
    """
    where = plane.where
    if not isinstance(plane, OffsetsPlane):
        ref = plane.create(name, config)
        journal(ref)
        note = no_api_note(plane, name)
        notes.append(note)
        return [f"created connector {name} on {where}", note]
    try:
        ref = plane.create_stopped(name, config)
    except OffsetsUnsupported as exc:
        ref = plane.create(name, config)
        journal(ref)
        note = f"source offsets of connector {name} could not be checked or reset: {exc}; {RENAME}"
        notes.append(note)
        return [f"created connector {name} on {where}", note]
    journal(ref)
    lines = [f"created connector {name} on {where} STOPPED (KIP-980)"]
    lines += reset_then_resume(plane, name, ref, notes)
    return lines


def reset_then_resume(plane: OffsetsPlane, name: str, ref: str, notes: list[str]) -> list[str]:
    """Reset the STOPPED connector's source offsets, then resume it; the lines to
    print (a reset that could not be made is said, added to ``notes``, and the
    connector resumed all the same).

    Raises:
        ClusterError: the plane refused or did not answer.
    """
    try:
        lines = [_reset_line(name, plane.reset_offsets(ref))]
    except OffsetsUnsupported as exc:
        note = f"source offsets of connector {name} could not be reset: {exc}; {RENAME}"
        notes.append(note)
        lines = [note]
    plane.resume(ref)
    lines.append(f"resumed connector {name}")
    return lines


def forget_offsets(
    plane: ConnectPlane,
    connector: Mapping[str, str],
    config: Mapping[str, str] | None,
    present: bool,
) -> list[str]:
    """Rollback: reset ``connector``'s (``{"name", "ref"}``) stored source offsets
    before it is deleted (the caller deletes it afterwards).  ``present``: the
    connector is still on the plane (stopped, then reset); otherwise it is created
    again STOPPED from ``config``, reset (and the caller deletes it again).
    Returns the lines to print; never raises for a plane that cannot.

    Raises:
        ClusterError: the plane refused or did not answer.
    """
    name = connector["name"]
    if not isinstance(plane, OffsetsPlane):
        return [no_api_note(plane, name)]
    try:
        if present:
            plane.stop(connector["ref"])
            lines = [f"stopped connector {name} on {plane.where} (KIP-875)"]
        elif config is None:
            return [f"source offsets of connector {name} not reset: its config is not journaled"]
        else:
            plane.create_stopped(name, config)
            lines = [
                f"re-created connector {name} on {plane.where} STOPPED (KIP-980; no task "
                "runs) to reset its source offsets"
            ]
        lines.append(_reset_line(name, plane.reset_offsets(connector["ref"]), rollback=True))
    except OffsetsUnsupported as exc:
        return [f"source offsets of connector {name} could not be reset: {exc}; {RENAME}"]
    return lines


def config_of(configs: list[dict[str, Any]], name: str) -> dict[str, str] | None:
    """The journaled config of connector ``name`` (None when not journaled)."""
    return next((dict(c) for c in configs if c.get("name") == name), None)


def rollback_connectors(
    plane: ConnectPlane,
    connectors: list[dict[str, str]],
    configs: list[dict[str, Any]],
    *,
    deleted: bool,
) -> list[str]:
    """Rollback of a step's connectors: per connector, its source offsets reset
    (:func:`forget_offsets`: stopped when still there, else re-created STOPPED from
    its journaled config), then deleted.  ``deleted``: the copy deleted them already
    (on a plane without the offsets API nothing is then called, only said).
    Returns the lines to print.

    Raises:
        ClusterError: the plane refused or did not answer.
    """
    if deleted and not isinstance(plane, OffsetsPlane):
        return [no_api_note(plane, c["name"]) for c in connectors]
    lines = []
    for conn in connectors:
        name = conn["name"]
        try:
            plane.status(conn["ref"])
            present = True
        except ClusterError:  # gone (MSK Connect: ConnectorGone, a ClusterError)
            present = False
        lines += forget_offsets(plane, conn, config_of(configs, name), present)
        gone = not plane.delete(conn["ref"])
        if present:
            lines.append(
                f"connector {name} was already gone from {plane.where}"
                if gone
                else f"deleted connector {name} on {plane.where}"
            )
        elif not gone:
            lines.append(f"deleted connector {name} on {plane.where} again")
    return lines

"""The source-offsets reset of MirrorMaker 2 connectors at the REST boundary: the
exact Kafka Connect calls (KIP-875, KIP-980) and what happens on a Connect that
lacks them.

A local HTTP server on 127.0.0.1 stands in for the Connect REST API, so the
versions that cannot run here (Connect 3.5, 3.6, a proxy answering 405) are
answered as those workers answer; each test asserts the requests sent, in order,
and the lines the operator reads.  The real Connect 4.1 path is
``tests/engines/test_mm2_rerun.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kmigrate.clusters.connect import ConnectRestPlane
from kmigrate.engines.mirrormaker2.engine import Mm2Engine, Mm2State
from kmigrate.engines.mirrormaker2.source_offsets import create_fresh, rollback_connectors

Answer = tuple[int, Any]
NAME = "kmigrate-shop-source"
CONFIG = {"name": NAME, "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector"}
STOPPED = {"connector": {"state": "STOPPED", "worker_id": "w:8083"}, "tasks": []}
OFFSETS = {
    "offsets": [
        {
            "partition": {"cluster": "source", "topic": "orders", "partition": p},
            "offset": {"offset": 99},
        }
        for p in range(2)
    ]
}


class FakeConnect:
    """Answers ``(METHOD, path)`` from ``routes`` (a value or a callable of the request
    body); anything else is Jetty's 404.  ``seen``: ``(METHOD, path, body)`` in order."""

    def __init__(self, routes: dict[tuple[str, str], Answer | Callable[[Any], Answer]]) -> None:
        self.routes = routes
        self.seen: list[tuple[str, str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                fake.seen.append((self.command, self.path, body))
                route = fake.routes.get(
                    (self.command, self.path), (404, {"message": "HTTP 404 Not Found"})
                )
                code, answer = route(body) if callable(route) else route
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.seen]


@pytest.fixture
def fake() -> Iterator[Callable[[dict[tuple[str, str], Any]], FakeConnect]]:
    servers: list[FakeConnect] = []

    def make(routes: dict[tuple[str, str], Any]) -> FakeConnect:
        server = FakeConnect(routes)
        threading.Thread(target=server.server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.server.shutdown()


def _plane(server: FakeConnect) -> ConnectRestPlane:
    return ConnectRestPlane(server.url, settle_s=2.0, sleep=lambda _s: None)


def test_a_fresh_connector_is_created_stopped_reset_and_resumed(fake: Any) -> None:
    """Connect 4.1: ``POST /connectors`` with ``initial_state: STOPPED`` (KIP-980), the
    status until STOPPED, ``GET`` then ``DELETE /connectors/NAME/offsets`` (KIP-875),
    ``PUT /connectors/NAME/resume``; the reference is journaled before the reset,
    and the line says the earlier run's offsets were reset."""
    server = fake(
        {
            ("GET", "/"): (200, {"version": "4.1.0"}),
            ("POST", "/connectors"): (201, {"name": NAME}),
            ("GET", f"/connectors/{NAME}/status"): (200, STOPPED),
            ("GET", f"/connectors/{NAME}/offsets"): (200, OFFSETS),
            ("DELETE", f"/connectors/{NAME}/offsets"): (200, {"message": "reset"}),
            ("PUT", f"/connectors/{NAME}/resume"): (202, None),
        }
    )
    journaled: list[tuple[str, int]] = []
    notes: list[str] = []
    lines = create_fresh(
        _plane(server), NAME, CONFIG, lambda ref: journaled.append((ref, len(server.seen))), notes
    )
    assert server.calls() == [
        ("GET", "/"),
        ("POST", "/connectors"),
        ("GET", f"/connectors/{NAME}/status"),
        ("GET", f"/connectors/{NAME}/offsets"),
        ("DELETE", f"/connectors/{NAME}/offsets"),
        ("PUT", f"/connectors/{NAME}/resume"),
    ]
    post = server.seen[1][2]
    assert post["name"] == NAME and post["initial_state"] == "STOPPED"
    assert (
        "name" not in post["config"]
        and post["config"]["connector.class"] == CONFIG["connector.class"]
    )
    assert journaled == [(NAME, 3)]  # journaled once STOPPED, before any offset call
    assert (
        f"connector {NAME} had source offsets from an earlier run (2 source partitions); "
        "reset (KIP-875)"
    ) in lines
    assert notes == []


def test_connect_3_5_creates_the_connector_as_before_and_says_offsets_were_not_reset(
    fake: Any,
) -> None:
    """Connect 3.5 (no KIP-980 nor the offsets endpoints): no ``initial_state`` is
    sent (an older worker would ignore or refuse it); the connector is created with
    ``PUT /connectors/NAME/config`` as before, the run goes on, and the line (also
    kept for the journal) says the offsets could not be checked or reset, why, and
    what to do."""
    server = fake(
        {
            ("GET", "/"): (200, {"version": "3.5.1"}),
            ("PUT", f"/connectors/{NAME}/config"): (201, {"name": NAME}),
        }
    )
    notes: list[str] = []
    lines = create_fresh(_plane(server), NAME, CONFIG, lambda _ref: None, notes)
    assert server.calls() == [("GET", "/"), ("PUT", f"/connectors/{NAME}/config")]
    assert lines[0] == f"created connector {NAME} on Kafka Connect at {server.url}"
    assert notes == [lines[1]]
    assert lines[1].startswith(
        f"source offsets of connector {NAME} could not be checked or reset: Kafka Connect at "
        f"{server.url} runs Kafka Connect 3.5; creating a connector STOPPED (KIP-980) needs "
        "3.7 or later"
    )
    assert "connect.name" in lines[1]


def test_a_worker_refusing_initial_state_falls_back_to_creating_it_running(fake: Any) -> None:
    """A worker that says 3.7 but refuses the ``initial_state`` field (a fork, or a
    proxy in front): the refusal is not the run's failure; the connector is created
    with ``PUT .../config`` and the line says why the offsets were not reset."""
    refusal = (500, {"error_code": 500, "message": 'Unrecognized field "initial_state"'})
    server = fake(
        {
            ("GET", "/"): (200, {"version": "3.7.0"}),
            ("POST", "/connectors"): refusal,
            ("PUT", f"/connectors/{NAME}/config"): (201, {"name": NAME}),
        }
    )
    notes: list[str] = []
    lines = create_fresh(_plane(server), NAME, CONFIG, lambda _ref: None, notes)
    assert server.calls()[-1] == ("PUT", f"/connectors/{NAME}/config")
    assert (
        f"refused to create {NAME} STOPPED (KIP-980): "
        'Unrecognized field "initial_state"' in notes[0]
    )
    assert lines[1] == notes[0]


def test_rollback_on_connect_3_6_resets_a_present_connector_and_says_so_for_a_deleted_one(
    fake: Any,
) -> None:
    """Rollback on Connect 3.6 (KIP-875, no KIP-980): a connector still there is
    stopped, its offsets read and reset, then deleted; one already deleted cannot be
    re-created STOPPED, so it is not created at all (no copy restarts) and the line
    says its offsets could not be reset and why."""
    gone = "kmigrate-shop-checkpoint"
    server = fake(
        {
            ("GET", "/"): (200, {"version": "3.6.2"}),
            ("GET", f"/connectors/{NAME}/status"): (200, STOPPED),
            ("PUT", f"/connectors/{NAME}/stop"): (202, None),
            ("GET", f"/connectors/{NAME}/offsets"): (200, OFFSETS),
            ("DELETE", f"/connectors/{NAME}/offsets"): (200, {"message": "reset"}),
            ("DELETE", f"/connectors/{NAME}"): (204, None),
            ("GET", f"/connectors/{gone}/status"): (
                404,
                {"message": f"Connector {gone} not found"},
            ),
            ("DELETE", f"/connectors/{gone}"): (404, {"message": f"Connector {gone} not found"}),
        }
    )
    plane = _plane(server)
    conns = [{"name": NAME, "ref": NAME}, {"name": gone, "ref": gone}]
    configs = [CONFIG, {"name": gone, "connector.class": "x.MirrorCheckpointConnector"}]
    lines = rollback_connectors(plane, conns, configs, deleted=False)
    where = f"Kafka Connect at {server.url}"
    assert lines[:3] == [
        f"stopped connector {NAME} on {where} (KIP-875)",
        f"connector {NAME}'s stored source offsets (2 source partitions) reset (KIP-875)",
        f"deleted connector {NAME} on {where}",
    ]
    assert lines[3].startswith(
        f"source offsets of connector {gone} could not be reset: {where} runs Kafka Connect "
        "3.6; creating a connector STOPPED (KIP-980) needs 3.7 or later"
    )
    assert len(lines) == 4
    assert ("POST", "/connectors") not in server.calls()


def test_an_offsets_endpoint_answering_405_is_said_not_failed(fake: Any) -> None:
    """A worker that claims 3.7 but whose offsets endpoint answers 405 (a gateway in
    front of Connect): the connector, created STOPPED, is resumed all the same, and
    the line says the reset could not be made and the answer."""
    server = fake(
        {
            ("GET", "/"): (200, {"version": "3.7.1"}),
            ("POST", "/connectors"): (201, {"name": NAME}),
            ("GET", f"/connectors/{NAME}/status"): (200, STOPPED),
            ("GET", f"/connectors/{NAME}/offsets"): (
                405,
                {"message": "HTTP 405 Method Not Allowed"},
            ),
            ("PUT", f"/connectors/{NAME}/resume"): (202, None),
        }
    )
    notes: list[str] = []
    lines = create_fresh(_plane(server), NAME, CONFIG, lambda _ref: None, notes)
    assert server.calls()[-1] == ("PUT", f"/connectors/{NAME}/resume")
    assert notes and f"answered 405 to /connectors/{NAME}/offsets (KIP-875)" in notes[0]
    assert lines[-1] == f"resumed connector {NAME}"


def test_msk_connect_is_never_said_to_be_reset() -> None:
    """A plane without the offsets API (MSK Connect: its ``create``, ``status`` and
    ``delete`` only): the connector is created as before and the line says its
    offsets were not checked, what MSK Connect keeps (a custom worker configuration
    here) and to use a new ``connect.name``; nothing claims a reset."""

    class MskLike:
        where = "MSK Connect (eu-west-1)"
        base = {"workerConfiguration": {"workerConfigurationArn": "arn:wc", "revision": 1}}

        def create(self, name: str, config: Any) -> str:
            return f"arn:aws:kafkaconnect:eu-west-1:1:connector/{name}/x"

    notes: list[str] = []
    lines = create_fresh(MskLike(), NAME, CONFIG, lambda _ref: None, notes)  # type: ignore[arg-type]
    assert lines[0] == f"created connector {NAME} on MSK Connect (eu-west-1)"
    assert notes == [lines[1]]
    assert "has no API to read or reset a connector's source offsets" in lines[1]
    assert "offset.storage.topic" in lines[1] and "connect.name" in lines[1]
    assert "reset (KIP-875)" not in " ".join(lines)
    # Rollback after the copy deleted it: nothing is called on MSK Connect, only said.
    gone = [{"name": NAME, "ref": "arn:x"}]
    lines = rollback_connectors(MskLike(), gone, [CONFIG], deleted=True)  # type: ignore[arg-type]
    assert len(lines) == 1 and "has no API to read or reset" in lines[0]


@pytest.mark.parametrize("pending", [True, False])
def test_a_rerun_resets_a_journaled_connector_left_stopped_only_while_pending(
    fake: Any, pending: bool
) -> None:
    """A run that created its connector STOPPED and stopped before resuming it
    (journaled ``offsets: pending``): the re-run finds it STOPPED, resets its offsets
    (no task has run, so any are an earlier run's) and resumes it.  A journaled
    connector without ``pending`` is this run's own copy: its offsets are kept
    (no offsets call at all)."""
    server = fake(
        {
            ("GET", "/"): (200, {"version": "4.1.0"}),
            ("GET", f"/connectors/{NAME}/status"): (200, STOPPED),
            ("GET", f"/connectors/{NAME}/offsets"): (200, OFFSETS),
            ("DELETE", f"/connectors/{NAME}/offsets"): (200, {"message": "reset"}),
            ("PUT", f"/connectors/{NAME}/resume"): (202, None),
        }
    )
    entry = {"name": NAME, "ref": NAME, **({"offsets": "pending"} if pending else {})}
    state = Mm2State(where="here", connectors=[entry], configs=[CONFIG])
    checkpoints: list[int] = []
    engine = Mm2Engine(_plane(server), [CONFIG])
    lines = engine.create(state, lambda: checkpoints.append(1), fresh=False)
    assert lines[0] == f"found connector {NAME} on here (journaled)"
    offset_calls = [c for c in server.calls() if c[1].endswith("/offsets")]
    if pending:
        assert offset_calls == [
            ("GET", f"/connectors/{NAME}/offsets"),
            ("DELETE", f"/connectors/{NAME}/offsets"),
        ]
        assert server.calls()[-1] == ("PUT", f"/connectors/{NAME}/resume")
        assert state.connectors[0]["offsets"] == "done" and checkpoints
    else:
        assert offset_calls == [] and len(lines) == 1

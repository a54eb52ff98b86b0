"""A test-side TLS + SASL proxy in front of a plaintext sandbox broker.

The sandbox broker (Tansu 0.6) has neither TLS nor SASL (``../shared/docs/sandbox-broker.md``,
fact 8).  This proxy ends TLS with a certificate made at test time, passes ApiVersions
through to the broker, answers SaslHandshake and SaslAuthenticate itself and, once the
client has authenticated, forwards bytes both ways.  The broker advertises the proxy's
port, so every connection a client makes goes through it.  The client side
(librdkafka's TLS and SASL) is real; the server side is this test's own.

Protocol facts it follows:

* Kafka framing: int32 size, request header v1 (api_key, api_version, correlation_id,
  client_id) or v2 (plus tagged fields); response header v0 (correlation_id) or v1
  (plus tagged fields).  SaslHandshake is api key 17 (v0-1), SaslAuthenticate 36 (v0-2,
  flexible from v2), KIP-152 (kafka.apache.org/protocol#The_Messages_SaslAuthenticate).
* PLAIN: RFC 4616 (``authzid NUL authcid NUL passwd``).
* OAUTHBEARER: RFC 7628 (``n,,\x01auth=Bearer TOKEN\x01\x01``; KIP-255); the token is
  judged by a check the test passes in.
* SCRAM-SHA-256/512: RFC 5802 and RFC 7677 (Hi = PBKDF2-HMAC, ClientProof, ServerSignature).
* Errors: SASL_AUTHENTICATION_FAILED (58), UNSUPPORTED_SASL_MECHANISM (33),
  ILLEGAL_SASL_STATE (34).

Stdlib only (socket, ssl, threading, hashlib, hmac); certificates come from the
``cryptography`` package (a dev dependency).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
import ipaddress
import os
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE = 58, 33, 34
SCRAM_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
SCRAM_ITERATIONS = 4096


@dataclass(frozen=True)
class Certificates:
    """PEM files: a self-signed CA, and a server certificate for 127.0.0.1 / localhost."""

    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """Create a test CA and a server certificate it signs (SAN 127.0.0.1, localhost)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kmigrate test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    out.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


# --- wire helpers -------------------------------------------------------------------


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return bytes(buf)


def _read_frame(sock: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    return _recv_exact(sock, size)


def _send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">i", len(payload)) + payload)


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _put_uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _skip_tags(data: bytes, pos: int) -> int:
    count, pos = _uvarint(data, pos)
    for _ in range(count):
        _tag, pos = _uvarint(data, pos)
        size, pos = _uvarint(data, pos)
        pos += size
    return pos


@dataclass(frozen=True)
class _Request:
    api_key: int
    api_version: int
    correlation_id: int
    body: bytes


def _parse_request(frame: bytes) -> _Request:
    api_key, api_version, corr = struct.unpack(">hhi", frame[:8])
    (client_len,) = struct.unpack(">h", frame[8:10])
    pos = 10 + max(client_len, 0)
    flexible = api_key == SASL_AUTHENTICATE and api_version >= 2
    if flexible:
        pos = _skip_tags(frame, pos)
    return _Request(api_key, api_version, corr, frame[pos:])


def _handshake_response(corr: int, error: int, mechanisms: list[str]) -> bytes:
    out = struct.pack(">ihi", corr, error, len(mechanisms))
    for m in mechanisms:
        out += struct.pack(">h", len(m)) + m.encode()
    return out


def _auth_bytes(req: _Request) -> bytes:
    if req.api_version >= 2:
        size, pos = _uvarint(req.body, 0)
        return req.body[pos : pos + size - 1]
    (size,) = struct.unpack(">i", req.body[:4])
    return req.body[4 : 4 + size]


def _auth_response(req: _Request, error: int, message: str | None, data: bytes) -> bytes:
    if req.api_version >= 2:
        out = struct.pack(">i", req.correlation_id) + b"\x00"  # header v1: no tagged fields
        out += struct.pack(">h", error)
        if message is None:
            out += b"\x00"
        else:
            raw = message.encode()
            out += _put_uvarint(len(raw) + 1) + raw
        out += _put_uvarint(len(data) + 1) + data
        out += struct.pack(">q", 0) + b"\x00"
        return out
    out = struct.pack(">ih", req.correlation_id, error)
    if message is None:
        out += struct.pack(">h", -1)
    else:
        raw = message.encode()
        out += struct.pack(">h", len(raw)) + raw
    out += struct.pack(">i", len(data)) + data
    if req.api_version >= 1:
        out += struct.pack(">q", 0)
    return out


# --- SASL mechanisms ----------------------------------------------------------------


class AuthFailed(Exception):
    """The client's credentials were wrong (the message never holds a secret)."""


def bearer_token(message: bytes) -> str:
    """The token of an RFC 7628 OAUTHBEARER client message.

    Raises:
        AuthFailed: no ``auth=Bearer`` attribute.
    """
    for part in message.decode().split("\x01"):
        if part.startswith("auth=Bearer "):
            return part[len("auth=Bearer ") :]
    raise AuthFailed("no bearer token")


def check_plain(message: bytes, users: dict[str, str]) -> str:
    """RFC 4616 PLAIN: ``authzid NUL authcid NUL passwd``; returns the user.

    Raises:
        AuthFailed: malformed, unknown user or wrong password.
    """
    parts = message.split(b"\x00")
    if len(parts) != 3:
        raise AuthFailed("malformed PLAIN message")
    user, password = parts[1].decode(), parts[2].decode()
    expected = users.get(user)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        raise AuthFailed("Invalid username or password")
    return user


@dataclass
class ScramServer:
    """The server side of one SCRAM exchange (RFC 5802; SHA-256/512 per RFC 7677)."""

    mechanism: str
    users: dict[str, str]
    client_first_bare: str = ""
    server_first: str = ""
    nonce: str = ""
    user: str = ""
    salt: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def _hash(self) -> str:
        return SCRAM_HASHES[self.mechanism]

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self._hash).digest()

    def first(self, message: bytes) -> bytes:
        """client-first-message -> server-first-message (``r=,s=,i=``)."""
        text = message.decode()
        if not text.startswith(("n,", "y,")):
            raise AuthFailed("unsupported channel binding")
        self.client_first_bare = text.split(",", 2)[2]
        attrs = dict(a.split("=", 1) for a in self.client_first_bare.split(","))
        self.user = attrs.get("n", "").replace("=2C", ",").replace("=3D", "=")
        self.nonce = attrs.get("r", "") + base64.b64encode(os.urandom(18)).decode()
        self.server_first = (
            f"r={self.nonce},s={base64.b64encode(self.salt).decode()},i={SCRAM_ITERATIONS}"
        )
        return self.server_first.encode()

    def final(self, message: bytes) -> bytes:
        """client-final-message -> server-final-message (``v=``).

        Raises:
            AuthFailed: wrong nonce, unknown user or wrong proof.
        """
        text = message.decode()
        without_proof, _, proof_attr = text.rpartition(",p=")
        attrs = dict(a.split("=", 1) for a in without_proof.split(","))
        if attrs.get("r") != self.nonce:
            raise AuthFailed("nonce mismatch")
        password = self.users.get(self.user)
        if password is None:
            raise AuthFailed("Invalid username or password")
        salted = hashlib.pbkdf2_hmac(self._hash, password.encode(), self.salt, SCRAM_ITERATIONS)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self._hash, client_key).digest()
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        proof = base64.b64decode(proof_attr)
        recovered = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        if len(proof) != len(signature) or not hmac.compare_digest(
            hashlib.new(self._hash, recovered).digest(), stored_key
        ):
            raise AuthFailed("Invalid username or password")
        server_key = self._hmac(salted, b"Server Key")
        return b"v=" + base64.b64encode(self._hmac(server_key, auth_message))


# --- the proxy ----------------------------------------------------------------------


class AuthProxy:
    """Listens on 127.0.0.1:``port``; ends TLS (when ``certs`` is given), answers SASL
    (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 against ``users``; OAUTHBEARER through
    ``bearer_check(token) -> principal``, which raises :class:`AuthFailed`) and forwards
    to ``upstream``.

    The server side of TLS and SASL here is the test's own, not a real broker's.
    ``failures`` counts refused authentications.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        users: dict[str, str],
        certs: Certificates | None = None,
        mechanisms: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"),
        port: int = 0,
        bearer_check: Callable[[str], str] | None = None,
    ) -> None:
        self.upstream = upstream
        self.users = users
        self.mechanisms = mechanisms
        self.bearer_check = bearer_check
        self.failures = 0
        self.authenticated: list[tuple[str, str]] = []
        self._ctx: ssl.SSLContext | None = None
        if certs is not None:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(str(certs.cert), str(certs.key))
        self._server = socket.create_server(("127.0.0.1", port))
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> AuthProxy:
        """Start accepting connections; returns self."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.close()

    def _track(self, s: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(s)
        return s

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _addr = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        client: socket.socket = self._track(raw)
        upstream: socket.socket | None = None
        try:
            if self._ctx is not None:
                client = self._track(self._ctx.wrap_socket(raw, server_side=True))
            upstream = self._track(socket.create_connection(self.upstream))
            if not self._authenticate(client, upstream):
                return
            self._relay(client, upstream)
        except (OSError, ConnectionError, ssl.SSLError, ValueError, struct.error):
            pass
        finally:
            for s in (client, upstream):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()

    def _authenticate(self, client: socket.socket, upstream: socket.socket) -> bool:
        mechanism: str | None = None
        scram: ScramServer | None = None
        while True:
            frame = _read_frame(client)
            req = _parse_request(frame)
            if req.api_key == API_VERSIONS:
                _send_frame(upstream, frame)
                _send_frame(client, _read_frame(upstream))
                continue
            if req.api_key == SASL_HANDSHAKE:
                (size,) = struct.unpack(">h", req.body[:2])
                wanted = req.body[2 : 2 + size].decode()
                ok = wanted in self.mechanisms
                err = 0 if ok else UNSUPPORTED_SASL_MECHANISM
                _send_frame(
                    client, _handshake_response(req.correlation_id, err, list(self.mechanisms))
                )
                if not ok:
                    return False
                mechanism = wanted
                if mechanism in SCRAM_HASHES:
                    scram = ScramServer(mechanism, self.users)
                continue
            if req.api_key == SASL_AUTHENTICATE and mechanism is not None:
                data = _auth_bytes(req)
                try:
                    if mechanism == "OAUTHBEARER":
                        if self.bearer_check is None:
                            raise AuthFailed("OAUTHBEARER is not configured")
                        user = self.bearer_check(bearer_token(data))
                        _send_frame(client, _auth_response(req, 0, None, b""))
                        self.authenticated.append((mechanism, user))
                        return True
                    if mechanism == "PLAIN":
                        user = check_plain(data, self.users)
                        _send_frame(client, _auth_response(req, 0, None, b""))
                        self.authenticated.append((mechanism, user))
                        return True
                    assert scram is not None
                    if not scram.client_first_bare:
                        _send_frame(client, _auth_response(req, 0, None, scram.first(data)))
                        continue
                    final = scram.final(data)
                    _send_frame(client, _auth_response(req, 0, None, final))
                    self.authenticated.append((mechanism, scram.user))
                    return True
                except (AuthFailed, ValueError, UnicodeDecodeError) as exc:
                    self.failures += 1
                    message = f"Authentication failed during authentication due to: {exc}"
                    resp = _auth_response(req, SASL_AUTHENTICATION_FAILED, message, b"")
                    _send_frame(client, resp)
                    return False
            # Anything else before authentication is a protocol violation.
            return False

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward bytes both ways from one thread (an SSL socket must not be read and
        written from two threads at once)."""
        peer = {client: upstream, upstream: client}
        while not self._stop.is_set():
            if isinstance(client, ssl.SSLSocket) and client.pending():
                ready = [client]
            else:
                ready, _w, _x = select.select([client, upstream], [], [], 0.5)
            for src in ready:
                data = src.recv(65536)
                if not data:
                    return
                peer[src].sendall(data)

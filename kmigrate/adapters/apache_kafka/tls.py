"""The target's TLS: a CA the sandbox makes and the brokers' certificate signed by it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from kmigrate.errors import UsageError
from kmigrate.safefs import atomic_write, ensure_dir


@dataclass(frozen=True)
class Tls:
    """PEM files of the sandbox's CA and the target brokers' certificate.

    ``ca`` is what a client trusts (``ssl.ca.location``); ``server`` holds the
    brokers' unencrypted PKCS#8 key and certificate (Kafka's PEM keystore,
    KIP-651); the certificate's SAN names ``localhost`` and ``127.0.0.1``, so
    clients verify the host name (librdkafka's default since 2.0).
    """

    ca: Path
    server: Path


def make_tls(folder: Path, *, days: int = 30) -> Tls:
    """A new CA and a broker certificate signed by it, as PEM files in ``folder`` (0600).

    Raises:
        UsageError: the ``cryptography`` package is missing.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise UsageError(
            "the Apache Kafka sandbox needs the 'sandbox' extra: pip install 'kmigrate[sandbox]'"
        ) from None
    import ipaddress

    ensure_dir(folder)
    now = datetime.datetime.now(datetime.UTC)

    def cert(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None, signer: object
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
        )
        if issuer is None:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                False,
            )
        return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("kmigrate sandbox CA", ca_key, None, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = cert("localhost", server_key, ca_cert.subject, ca_key)
    pem = serialization.Encoding.PEM
    tls = Tls(ca=folder / "ca.pem", server=folder / "server.pem")
    atomic_write(tls.ca, ca_cert.public_bytes(pem))
    atomic_write(
        tls.server,
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + server_cert.public_bytes(pem)
        + ca_cert.public_bytes(pem),
    )
    return tls

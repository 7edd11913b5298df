"""A certificate authority made at test time (cryptography), its certificates for loopback
servers, and TLS servers that present them: an HTTPS server for MTA-STS policies."""

from __future__ import annotations

import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import free_port


@dataclass(frozen=True)
class Issued:
    """A certificate and its key as PEM files; ``chain`` holds it followed by its CA."""

    cert: Path
    key: Path
    chain: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.chain, self.key)
        return context

    def der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.cert.read_bytes()).public_bytes(
            serialization.Encoding.DER)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TestCA:
    """A certificate authority of its own in ``folder``; ``bundle`` is its certificate, the
    file CASEGATE_TLS_CA_FILE names."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, folder: Path, name: str = "casegate test CA") -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256()))
        self.bundle = folder / f"{name.replace(' ', '-')}.pem"
        self.bundle.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, *names: str, days: float = 90, expired: bool = False) -> Issued:
        """A server certificate for ``names`` (DNS names or IP addresses)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        start, end = ((now - timedelta(days=10), now - timedelta(days=1)) if expired
                      else (now - timedelta(hours=1), now + timedelta(days=days)))
        alternatives: list[x509.GeneralName] = []
        for name in names:
            try:
                alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternatives.append(x509.DNSName(name))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256()))
        stem = f"{names[0]}-{certificate.serial_number}"
        cert, key_file, chain = (self.folder / f"{stem}.crt", self.folder / f"{stem}.key",
                                 self.folder / f"{stem}.chain.pem")
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        cert.write_bytes(pem)
        chain.write_bytes(pem + self.certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(_pem_key(key))
        return Issued(cert, key_file, chain)


@dataclass
class PolicyServer:
    """An HTTPS server on loopback answering ``/.well-known/mta-sts.txt`` with ``policy``."""

    port: int
    policy: str
    content_type: str = "text/plain"
    fetched: int = 0


@contextmanager
def mta_sts_server(issued: Issued, policy: str) -> Iterator[PolicyServer]:
    served = PolicyServer(free_port(), policy)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/.well-known/mta-sts.txt":
                self.send_error(404)
                return
            served.fetched += 1
            body = served.policy.encode()
            self.send_response(200)
            self.send_header("Content-Type", served.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", served.port), Handler)
    server.socket = issued.server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

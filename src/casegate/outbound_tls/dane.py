"""DANE for SMTP (RFC 7672): the TLSA records of an MX host, believed only when the name
servers validated them with DNSSEC (the AD bit), and a certificate checked against them.

dnspython reads the records; what they match is the certificate (selector 0) or its public
key (selector 1), whole (matching type 0) or as its SHA-256 or SHA-512 digest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import dns.exception
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from casegate.nameservers import validated

LOOKUP_TIMEOUT = 10.0
DANE_TA, DANE_EE = 2, 3  # the usages RFC 7672 section 3.1 keeps for SMTP
_DIGESTS = {0: None, 1: hashlib.sha256, 2: hashlib.sha512}


@dataclass(frozen=True)
class Tlsa:
    usage: int
    selector: int
    matching: int
    data: bytes

    @property
    def usable(self) -> bool:
        return self.usage in (DANE_TA, DANE_EE) and self.selector in (0, 1) \
            and self.matching in _DIGESTS

    def matches(self, certificate: x509.Certificate) -> bool:
        content = certificate.public_bytes(serialization.Encoding.DER) if self.selector == 0 \
            else certificate.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        digest = _DIGESTS[self.matching]
        return (digest(content).digest() if digest else content) == self.data


async def tlsa_records(host: str, port: int) -> tuple[Tlsa, ...]:
    """The validated TLSA records of ``host``'s SMTP ``port``; none when there are none or
    they are not validated (then they must be ignored, RFC 7672 section 2.2)."""
    found = await validated(f"_{port}._tcp.{host.rstrip('.')}", "TLSA", LOOKUP_TIMEOUT)
    return tuple(Tlsa(r.usage, r.selector, r.mtype, r.cert) for r in found or ())


async def signed_host(host: str) -> bool:
    """Whether ``host``'s addresses come from a DNSSEC-signed zone (validated): only there
    is a failed TLSA lookup a reason to wait (RFC 7672 section 2.2.1, as Postfix does), not
    where broken name servers of an unsigned zone answer TLSA questions with SERVFAIL."""
    try:
        return bool(await validated(host.rstrip("."), "A", LOOKUP_TIMEOUT)
                    or await validated(host.rstrip("."), "AAAA", LOOKUP_TIMEOUT))
    except dns.exception.DNSException:
        return False


def mismatch(records: tuple[Tlsa, ...], chain: list[bytes], host: str) -> str:
    """Why the certificate chain (DER, the server's first) fails ``records``; ``""`` when
    one usable record matches it. A DANE-EE record matches the server's own certificate
    whatever its names and dates (RFC 7672 section 3.1.1); a DANE-TA record a certificate
    of the chain that must then sign the server's for ``host``."""
    if not chain:
        return "the server sent no certificate"
    certificates = [x509.load_der_x509_certificate(der) for der in chain]
    server, *others = certificates
    usable = [r for r in records if r.usable]
    if any(r.usage == DANE_EE and r.matches(server) for r in usable):
        return ""
    for anchor in (c for c in certificates if any(r.usage == DANE_TA and r.matches(c)
                                                  for r in usable)):
        verifier = PolicyBuilder().store(Store([anchor])).build_server_verifier(
            x509.DNSName(host.rstrip(".")))
        try:
            verifier.verify(server, [c for c in others if c != anchor])
            return ""
        except VerificationError as exc:
            return f"the certificate does not chain to its DANE trust anchor for {host}: {exc}"
    return f"the certificate of {host} matches none of its {len(records)} DANE TLSA records"

"""A certificate chain against DANE TLSA records: DANE-EE (3 1 1) and DANE-TA (2 1 1)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from casegate.outbound_tls.dane import Tlsa, mismatch
from tests.certificates import TestCA


def spki_sha256(certificate: x509.Certificate) -> bytes:
    return hashlib.sha256(certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()


def test_dane_ta_needs_the_anchor_in_the_chain_signing_a_certificate_for_the_host(
        tmp_path: Path) -> None:
    ca, other_ca = TestCA(tmp_path, "one CA"), TestCA(tmp_path, "other CA")
    issued = ca.issue("mx.example")
    chain = [issued.der(), ca.certificate.public_bytes(serialization.Encoding.DER)]
    anchor = Tlsa(2, 1, 1, spki_sha256(ca.certificate))
    assert mismatch((anchor,), chain, "mx.example") == ""
    assert "does not chain to its DANE trust anchor" in mismatch((anchor,), chain, "mx.other")
    wrong_anchor = Tlsa(2, 1, 1, spki_sha256(other_ca.certificate))
    assert "matches none of its 1 DANE TLSA records" in mismatch((wrong_anchor,), chain,
                                                                 "mx.example")


def test_dane_ee_matches_the_server_certificate_whatever_its_names(tmp_path: Path) -> None:
    issued = TestCA(tmp_path).issue("anything.example")
    server = x509.load_der_x509_certificate(issued.der())
    assert mismatch((Tlsa(3, 1, 1, spki_sha256(server)),), [issued.der()], "mx.example") == ""
    full = Tlsa(3, 0, 0, issued.der())
    assert mismatch((full,), [issued.der()], "mx.example") == ""
    assert mismatch((Tlsa(1, 1, 1, spki_sha256(server)),), [issued.der()], "mx.example")

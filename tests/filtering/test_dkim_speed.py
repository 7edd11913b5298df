"""casegate replaces three dkimpy functions with faster ones giving the same results
(src/casegate/filtering/dkim_speed.py). These tests fail, naming what to re-check, when a new
dkimpy stops calling them by the names replaced, or when the results differ."""

from __future__ import annotations

import hashlib
import inspect
import re

import dkim
import dkim.canonicalization
import dkim.crypto
from hypothesis import given
from hypothesis import strategies as st

from casegate.filtering import dkim_speed
from tests.e2e.test_forwarding import rsa_key
from tests.mails import mail

KEY, RECORD = rsa_key()


def test_dkimpy_still_calls_the_functions_replaced_by_their_module_names() -> None:
    assert "RSASSA_PKCS1_v1_5_verify(" in inspect.getsource(dkim.DomainSigner.verify_sig_process), (
        "dkimpy no longer verifies through dkim.RSASSA_PKCS1_v1_5_verify: re-check dkim_speed.py")
    assert "parse_public_key(" in inspect.getsource(dkim.evaluate_pk), (
        "dkimpy no longer parses keys through dkim.parse_public_key: re-check dkim_speed.py")
    assert "compress_whitespace(" in inspect.getsource(dkim.canonicalization.Relaxed), (
        "dkimpy's relaxed canonicalization no longer calls compress_whitespace")
    assert dkim.RSASSA_PKCS1_v1_5_verify is dkim_speed.rsassa_pkcs1_v1_5_verify
    assert dkim.parse_public_key is dkim_speed.parse_public_key
    assert dkim.canonicalization.compress_whitespace is dkim_speed.compress_whitespace


@given(st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"\t")))
def test_whitespace_is_compressed_as_dkimpy_does(content: bytes) -> None:
    assert dkim_speed.compress_whitespace(content) == re.sub(b"[\t ]+", b" ", content)


def test_signatures_verify_as_with_dkimpy_s_own_arithmetic() -> None:
    data, _ = mail(body="Some  text\twith   runs of whitespace \r\nand lines")
    parsed = dkim.parse_public_key(dkim.crypto.base64.b64decode(RECORD.split("p=")[1]))
    for algorithm in (b"rsa-sha256", b"rsa-sha1"):
        raw = dkim.sign(data, b"s1", b"example.net", KEY, signature_algorithm=algorithm,
                        canonicalize=(b"relaxed", b"relaxed")) + data
        assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: RECORD.encode())
        tampered = raw.replace(b"Some  text", b"Some  test")
        assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: RECORD.encode())
    digest = hashlib.sha256(b"signed")
    signature = dkim.crypto.RSASSA_PKCS1_v1_5_sign(
        digest, dkim.crypto.parse_pem_private_key(KEY))
    for good in (True, False):
        checked = hashlib.sha256(b"signed" if good else b"other")
        assert dkim_speed.rsassa_pkcs1_v1_5_verify(checked, signature, parsed) is good
        assert dkim.crypto.RSASSA_PKCS1_v1_5_verify(checked, signature, parsed) is good
    assert not dkim_speed.rsassa_pkcs1_v1_5_verify(hashlib.md5(b"x"), signature, parsed)

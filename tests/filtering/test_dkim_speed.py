"""casegate replaces dkimpy functions (and one regular expression) with faster ones giving the
same results (src/casegate/filtering/dkim_speed.py). These tests fail, naming what to
re-check, when a new dkimpy stops calling them by the names replaced, or when the results
differ from those of dkimpy's own, loaded here as released."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
from types import ModuleType
from typing import Any

import dkim
import dkim.canonicalization
import dkim.crypto
from hypothesis import example, given, settings
from hypothesis import strategies as st

from casegate.filtering import dkim_speed
from tests.e2e.test_forwarding import rsa_key
from tests.mails import mail

KEY, RECORD = rsa_key()


def as_released(module: ModuleType) -> ModuleType:
    """A fresh copy of a dkimpy module, without casegate's replacements."""
    spec = importlib.util.spec_from_file_location(f"{module.__name__}_as_released",
                                                  module.__file__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    return copy


DKIMPY = as_released(dkim)
CANONICALIZATION = as_released(dkim.canonicalization)
# What messages and header fields are made of, and what trips their parsing up.
PIECES = st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b"\t", b"  ", b":", b";", b"=", b"b",
                          b"b=", b"h", b"A", b"z", b"+/", b"From ", b"\x0b", b"\x0c", b"\xff"])
MESSAGES = st.lists(PIECES, max_size=40).map(b"".join)


def outcome(function: Any, *args: Any) -> Any:
    """What ``function`` returns, or the name of the exception it raises (each copy of
    dkimpy has its own classes)."""
    try:
        return function(*args)
    except Exception as exc:
        return type(exc).__name__


def test_dkimpy_still_calls_the_functions_replaced_by_their_module_names() -> None:
    assert "RSASSA_PKCS1_v1_5_verify(" in inspect.getsource(dkim.DomainSigner.verify_sig_process), (
        "dkimpy no longer verifies through dkim.RSASSA_PKCS1_v1_5_verify: re-check dkim_speed.py")
    assert "parse_public_key(" in inspect.getsource(dkim.evaluate_pk), (
        "dkimpy no longer parses keys through dkim.parse_public_key: re-check dkim_speed.py")
    relaxed = inspect.getsource(dkim.canonicalization.Relaxed)
    for name in ("compress_whitespace(", "strip_trailing_whitespace(", "unfold_header_value("):
        assert name in relaxed, f"dkimpy's relaxed canonicalization no longer calls {name})"
    assert "rfc822_parse(" in inspect.getsource(dkim.DomainSigner.set_message), (
        "dkimpy no longer parses messages through dkim.rfc822_parse: re-check dkim_speed.py")
    assert "RE_BTAG.sub(" in inspect.getsource(dkim.hash_headers), (
        "dkimpy no longer removes b= through dkim.RE_BTAG: re-check dkim_speed.py")
    assert "select_headers(" in inspect.getsource(dkim.hash_headers), (
        "dkimpy no longer selects signed fields through dkim.select_headers")
    for caller in (dkim.evaluate_pk, dkim.DKIM.verify_headerprep):
        assert "parse_tag_value(" in inspect.getsource(caller), (
            f"dkimpy's {caller.__name__} no longer parses tags through dkim.parse_tag_value")
    assert DKIMPY.RE_BTAG.pattern == (
        rb"([;\s]b(?:(?:\s*\r?\n)?\s+)?=)(?:(?:(?:\s*\r?\n)?\s+)?[a-zA-Z0-9+/=])*(?:\r?\n\Z)?"), (
        "dkimpy's RE_BTAG changed: re-check the equivalent in dkim_speed.py")
    assert dkim.RSASSA_PKCS1_v1_5_verify is dkim_speed.rsassa_pkcs1_v1_5_verify
    assert dkim.parse_public_key is dkim_speed.parse_public_key
    assert dkim.rfc822_parse is dkim_speed.rfc822_parse
    assert dkim.parse_tag_value is dkim.util.parse_tag_value is dkim_speed.parse_tag_value
    assert dkim.select_headers is dkim_speed.select_headers
    assert dkim.RE_BTAG is dkim_speed.B_TAG
    assert dkim.canonicalization.compress_whitespace is dkim_speed.compress_whitespace
    assert (dkim.canonicalization.strip_trailing_whitespace
            is dkim_speed.strip_trailing_whitespace)
    assert dkim.canonicalization.unfold_header_value is dkim_speed.unfold_header_value


@given(st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"\t")))
def test_whitespace_is_compressed_as_dkimpy_does(content: bytes) -> None:
    assert dkim_speed.compress_whitespace(content) == re.sub(b"[\t ]+", b" ", content)


@settings(max_examples=500)
@given(MESSAGES)
@example(b"a \t  \t \t  \r\nb\t\t \r\n \r\n")  # more trailing blanks than bytes.replace takes
def test_canonicalization_rewrites_as_dkimpy_s_own(content: bytes) -> None:
    for name in ("compress_whitespace", "strip_trailing_whitespace", "unfold_header_value"):
        assert getattr(dkim_speed, name)(content) == getattr(CANONICALIZATION, name)(content)


@settings(max_examples=500)
@given(MESSAGES)
def test_messages_are_parsed_as_by_dkimpy_s_own_parser(message: bytes) -> None:
    assert outcome(dkim_speed.rfc822_parse, message) == outcome(DKIMPY.rfc822_parse, message)


@settings(max_examples=500)
@given(MESSAGES)
def test_tag_lists_are_parsed_as_by_dkimpy_s_own_parser(tag_list: bytes) -> None:
    assert (outcome(dkim_speed.parse_tag_value, tag_list)
            == outcome(DKIMPY.parse_tag_value, tag_list))


NAMES = st.sampled_from([b"From", b"from", b"To", b"Subject", b"DKIM-Signature", b"X"])


@given(st.lists(st.tuples(NAMES, st.binary(max_size=3))), st.lists(NAMES.map(bytes.lower)))
def test_signed_fields_are_selected_as_dkimpy_selects_them(
        headers: list[tuple[bytes, bytes]], include: list[bytes]) -> None:
    assert (dkim_speed.select_headers(headers, include)
            == DKIMPY.select_headers(headers, include))


@settings(max_examples=500)
@given(MESSAGES)
def test_the_b_tag_is_removed_as_dkimpy_s_expression_removes_it(value: bytes) -> None:
    assert dkim_speed.B_TAG.sub(rb"\1", value) == DKIMPY.RE_BTAG.sub(rb"\1", value)


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

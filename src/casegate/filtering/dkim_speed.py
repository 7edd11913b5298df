"""dkimpy's hot spots, done faster with the same results.

dkimpy verifies RSA signatures with Python integers, parses each key's ASN.1 in Python, splits
a whole message into lines and joins its body again, and runs regular expressions that try a
match at every space of a body and at every character of a signature's b= value: about
0.6 ms of CPU to verify a 4 KB message, most of what checking its sender cost. Here the
PKCS#1 v1.5 check is made by cryptography (OpenSSL, some 20 us), a key seen before is not
parsed again, only the header section is split into lines, a body already in CRLF lines is
kept as it is, whitespace is rewritten by bytes.replace (a 64 KB body in 0.4 ms instead of
2), and b= is matched by an expression that matches the same text without backtracking per
character: 0.12 ms for the 4 KB message.

dkimpy calls these by their module-level names; importing this module puts the faster ones in
place (``tests/filtering/test_dkim_speed.py`` fails, naming what to re-check, if a new dkimpy
stops calling them so, and compares each with dkimpy's own on generated input).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import dkim
import dkim.canonicalization
import dkim.crypto
import dkim.util
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

KEYS_KEPT = 4096
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}
_TRAILING_WHITESPACE = re.compile(rb"[\t ]+\r\n")
# Lines rarely end in more than a blank or two: each pass of bytes.replace strips one (or a
# tab and a space) from every line, then the regular expression takes what is left.
_TRAILING_PASSES = 3
_LINE_END = re.compile(rb"\r?\n")
_FIELD_NAME = re.compile(rb"([\x21-\x7e]+?):")
_BASE64 = rb"a-zA-Z0-9+/="
# dkimpy's RE_BTAG puts folding whitespace, (?:(?:\s*\r?\n)?\s+)?, before every character of
# the value: that matches any run of whitespace, as \s* does, but is tried character by
# character. The same language, greedy in the same way: b= and its value, which ends at its
# last base64 character, and the line end if the field ends there.
B_TAG = re.compile(rb"([;\s]b\s*=)(?:[\s" + _BASE64 + rb"]*[" + _BASE64 + rb"])?(?:\r?\n\Z)?")


@lru_cache(maxsize=KEYS_KEPT)
def _public_key(modulus: int, exponent: int) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def rsassa_pkcs1_v1_5_verify(digest: Any, signature: bytes, public_key: dict[str, int]) -> bool:
    """dkimpy's ``RSASSA_PKCS1_v1_5_verify``: whether ``signature`` signs ``digest`` (a
    hashlib object) with ``public_key`` (dkimpy's parsed key: modulus, publicExponent)."""
    algorithm = _HASHES.get(digest.name.lower())
    if algorithm is None:
        return False
    try:
        key = _public_key(public_key["modulus"], public_key["publicExponent"])
        key.verify(bytes(signature), digest.digest(), padding.PKCS1v15(),
                   Prehashed(algorithm()))
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, KeyError):
        return False
    return True


def compress_whitespace(content: bytes) -> bytes:
    """dkimpy's ``compress_whitespace``: every run of spaces and tabs as one space (each
    pass halves the runs left)."""
    content = content.replace(b"\t", b" ")
    while b"  " in content:
        content = content.replace(b"  ", b" ")
    return content


def strip_trailing_whitespace(content: bytes) -> bytes:
    """dkimpy's ``strip_trailing_whitespace``: no spaces or tabs at the end of a line."""
    for _ in range(_TRAILING_PASSES):
        if b" \r\n" not in content and b"\t\r\n" not in content:
            return content
        content = content.replace(b" \r\n", b"\r\n").replace(b"\t\r\n", b"\r\n")
    return _TRAILING_WHITESPACE.sub(b"\r\n", content)


def unfold_header_value(content: bytes) -> bytes:
    """dkimpy's ``unfold_header_value``: without its line breaks (CRLF or a bare LF)."""
    return content.replace(b"\r\n", b"").replace(b"\n", b"")


def rfc822_parse(message: bytes) -> tuple[list[list[bytes]], bytes]:
    """dkimpy's ``rfc822_parse``: the header fields, as [name, value with its CRLF line ends]
    lists, and the body with CRLF line ends (the body follows the first empty line; a message
    with none is all header)."""
    start = 0  # of the first empty line, the header section's end
    while start < len(message) and not message.startswith((b"\n", b"\r\n"), start):
        newline = message.find(b"\n", start)
        if newline == -1:
            return _header_fields(_lines(message)), b""
        start = newline + 1
    lines = _lines(message[:start])[:-1] if start else []
    body = message[start + (2 if message.startswith(b"\r\n", start) else 1):]
    if body.count(b"\n") != body.count(b"\r\n"):
        body = _LINE_END.sub(b"\r\n", body)
    return _header_fields(lines), body


def parse_tag_value(tag_list: bytes) -> dict[bytes, bytes]:
    """dkimpy's ``parse_tag_value``: a tag=value list (RFC 6376 3.2) as a dict."""
    tags: dict[bytes, bytes] = {}
    specs = tag_list.strip().split(b";")
    if not specs[-1]:  # trailing semicolons are valid
        specs.pop()
    for spec in specs:
        key, equals, value = spec.partition(b"=")
        key = key.strip()
        if not equals or not key[:1].isalpha():
            raise dkim.util.InvalidTagSpec(spec)
        if key in tags:
            raise dkim.util.DuplicateTag(key)
        tags[key] = value.strip()
    return tags


def select_headers(headers: list[tuple[bytes, bytes]], include_headers: list[bytes]
                   ) -> list[tuple[bytes, bytes]]:
    """dkimpy's ``select_headers``: for each name of h=, the header field of that name above
    the one taken last time (bottom-up, RFC 6376 5.4.2); each field's name lowered once."""
    names = [name.lower() for name, _ in headers]
    selected = []
    taken_last: dict[bytes, int] = {}
    for wanted in include_headers:
        index = taken_last.get(wanted, len(headers))
        while index > 0:
            index -= 1
            if names[index] == wanted:
                selected.append(headers[index])
                break
        taken_last[wanted] = index
    return selected


def _lines(text: bytes) -> list[bytes]:
    """``text`` split at CRLF and at bare LF, as ``re.split(rb"\r?\n", text)``."""
    pieces = text.split(b"\n")
    return [piece[:-1] if piece.endswith(b"\r") else piece for piece in pieces[:-1]] + pieces[-1:]


def _header_fields(lines: list[bytes]) -> list[list[bytes]]:
    headers: list[list[bytes]] = []
    for line in lines:
        if line[0] in (0x09, 0x20):
            headers[-1][1] += line + b"\r\n"  # dkimpy fails the same way on a leading fold
            continue
        field = _FIELD_NAME.match(line)
        if field is not None:
            headers.append([field.group(1), line[field.end(0):] + b"\r\n"])
        elif not line.startswith(b"From "):
            raise dkim.MessageFormatError(f"Unexpected characters in RFC822 header: {line!r}")
    return headers


parse_public_key = lru_cache(maxsize=KEYS_KEPT)(dkim.crypto.parse_public_key)

dkim.RSASSA_PKCS1_v1_5_verify = rsassa_pkcs1_v1_5_verify
dkim.parse_public_key = parse_public_key
dkim.rfc822_parse = rfc822_parse
dkim.parse_tag_value = parse_tag_value
dkim.util.parse_tag_value = parse_tag_value
dkim.select_headers = select_headers
dkim.RE_BTAG = B_TAG
dkim.canonicalization.compress_whitespace = compress_whitespace
dkim.canonicalization.strip_trailing_whitespace = strip_trailing_whitespace
dkim.canonicalization.unfold_header_value = unfold_header_value

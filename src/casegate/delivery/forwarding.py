"""Forwarding that stays trustworthy: ARC seals on the copies we pass on.

* **SRS**: the envelope sender of a forwarded copy (:mod:`casegate.signing.srs`).
* **DKIM**: the forwarded message is the original with headers prepended and the body
  untouched, so the author's DKIM signature still verifies.
* **ARC**: when the forwarding domain has a signing key (``casegate dkim keygen``), the
  forwarded message gets an ARC set recording what we verified when it arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dkim

from casegate.filtering.auth_results import FIELD, without_our_results
from casegate.nameservers import dns_txt
from casegate.signing.models import SigningKey

log = logging.getLogger("casegate.delivery")

DKIM_DNS_TIMEOUT = 5.0


def authentication_results(raw: bytes, authserv_id: str, on_arrival: str,
                           dns_timeout: float = DKIM_DNS_TIMEOUT) -> bytes:
    """The Authentication-Results header an ARC seal records: the gateway's ``on_arrival``
    (it checked everything then), else the DKIM result of the message as it arrived.

    The key lookup waits at most ``dns_timeout`` seconds; with no time left the signature
    is not checked and the result is ``temperror``, so a slow DNS never holds the copy up.
    """
    if on_arrival:  # kept on one line: folded again, one result a line, as it arrived
        folded = on_arrival.replace("; ", ";\r\n\t")
        return f"{FIELD}: {folded}\r\n".encode("utf-8", errors="replace")
    def lookup(name: bytes, timeout: float = DKIM_DNS_TIMEOUT) -> bytes | None:
        return dns_txt(name, min(timeout, dns_timeout))

    try:
        verifier = dkim.DKIM(raw)
        signed = b"dkim-signature:" in raw[: raw.find(b"\r\n\r\n") + 1].lower()
        if signed and dns_timeout <= 0:
            raise TimeoutError("no time left to look up the key")
        result = "pass" if signed and verifier.verify(dnsfunc=lookup) else (
            "fail" if signed else "none")
        domain = verifier.domain.decode() if signed and verifier.domain else ""
    except Exception as exc:
        log.info("DKIM check failed: %s", exc)
        result, domain = "temperror", ""
    detail = f" header.d={domain}" if domain else ""
    return (f"Authentication-Results: {authserv_id}; dkim={result}{detail}"
            f"{_chain_result(raw, lookup)}\r\n").encode()


def _chain_result(raw: bytes, lookup: Callable[..., bytes | None]) -> str:
    """``; arc=…`` for a message that came with an ARC chain: dkimpy adds our set only when
    the results say what became of the chain (RFC 8617 section 5.1)."""
    if b"arc-seal:" not in raw[: raw.find(b"\r\n\r\n") + 1].lower():
        return ""
    try:
        verdict, _, _ = dkim.arc_verify(raw, dnsfunc=lookup)
    except Exception as exc:
        log.info("ARC check failed: %s", exc)
        return "; arc=fail"
    return f"; arc={verdict.decode()}"


def arc_seal(data: bytes, results: bytes, key: SigningKey, authserv_id: str) -> bytes:
    """``data`` with ``results`` in place of every Authentication-Results field carrying
    ``authserv_id`` and an ARC set (seal, message signature, authentication results) on top.

    dkimpy seals every such field it finds, and one a trusted client passed on (a server in
    front that does not remove them) may have been written by anyone.
    """
    data = results + without_our_results(data, authserv_id)
    headers = dkim.arc_sign(data, key.selector.encode(), key.domain.encode(),
                            key.private_key.encode(), authserv_id.encode())
    if not headers:  # dkimpy declines without an error (a chain that failed, say): say so
        raise ValueError("dkimpy made no ARC set for it")
    return b"".join(headers) + data



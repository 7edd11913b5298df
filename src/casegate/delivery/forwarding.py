"""Forwarding that stays trustworthy: SRS envelope senders, DKIM keys and ARC seals.

* **SRS** (Sender Rewriting Scheme): mail we forward for someone at another domain leaves
  with ``SRS0=…=example.net=dana@solarmora.com`` as envelope sender, so the receiving CRM's
  SPF check sees our domain, and a bounce to that address comes back to us and is passed on
  to the original sender. The SRS key is derived from the Django secret key, so every host
  that shares ``CASEGATE_SECRET_KEY`` accepts the bounces of the others.
* **DKIM**: the forwarded message is the original with headers prepended and the body
  untouched, so the author's DKIM signature still verifies.
* **ARC**: when the forwarding domain has a signing key (``casegate dkim keygen``), the
  forwarded message gets an ARC set recording what we verified when it arrived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from functools import cache

import dkim
import dns.exception
import dns.resolver
import srslib
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from casegate.delivery.models import SigningKey
from casegate.directory.addresses import normalize_address, normalize_domain
from casegate.errors import CasegateError
from casegate.filtering.auth_results import FIELD, authserv_id_of
from casegate.mail.headers import HeaderFields
from casegate.nameservers import resolver_settings

log = logging.getLogger("casegate.delivery")

_SELECTOR = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class SigningKeyError(CasegateError):
    """A signing key cannot be made or used."""


SRS_HASH_LENGTH = 8
# Only SRS0, with a full-length hash, is ours: srslib alone would accept a shortened hash
# (guessable in a few dozen tries) or an SRS1 address, which would make us an open relay.
_OUR_SRS = re.compile(rf"^SRS0=[A-Za-z0-9+/]{{{SRS_HASH_LENGTH}}}=[A-Za-z0-9+/]{{2}}=[^=@]+=.+@",
                      re.IGNORECASE)


@cache
def _srs() -> srslib.SRS:
    secret = hmac.new(settings.SECRET_KEY.encode(), b"casegate-srs", hashlib.sha256).hexdigest()
    return srslib.SRS(secret, hash_length=SRS_HASH_LENGTH)


def envelope_sender(mail_from: str, forwarding_domain: str, company_domains: frozenset[str]
                    ) -> str:
    """The envelope sender to use when forwarding: SRS for other domains' senders."""
    if not mail_from or "@" not in mail_from:
        return mail_from
    sender_domain = mail_from.rpartition("@")[2].lower()
    if sender_domain in company_domains or forwarding_domain not in company_domains:
        return mail_from
    if is_srs(mail_from):
        return mail_from
    try:
        return _srs().forward(mail_from, forwarding_domain)
    except (srslib.Error, ValueError):
        return mail_from


def is_srs(address: str) -> bool:
    if address[:5].upper() not in ("SRS0=", "SRS1="):
        return False
    try:
        return _srs().is_srs_address(address)
    except (srslib.Error, ValueError):
        return False


def reverse_srs(address: str) -> str | None:
    """The original sender behind an SRS address we made, or None if it is not valid."""
    if not _OUR_SRS.match(address):
        return None
    try:
        return normalize_address(_srs().reverse(address))
    except (srslib.Error, ValueError):
        return None


def generate_key(domain: str, selector: str = "casegate") -> tuple[SigningKey, str]:
    """Make a 2048-bit RSA key; return it and the DNS TXT record to publish."""
    name = normalize_domain(domain)
    if not _SELECTOR.match(selector):
        raise SigningKeyError(f"selector {selector!r}: use letters, digits and hyphens")
    if SigningKey.objects.filter(domain=name, selector=selector).exists():
        raise SigningKeyError(f"{selector}._domainkey.{name} exists already; choose another"
                              " --selector to roll the key")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    key = SigningKey.objects.create(domain=name, selector=selector, private_key=pem)
    return key, txt_record(key)


def public_key_b64(key: SigningKey) -> str:
    private = serialization.load_pem_private_key(key.private_key.encode(), password=None)
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def txt_record(key: SigningKey) -> str:
    return (f'{key.selector}._domainkey.{key.domain}. IN TXT '
            f'"v=DKIM1; k=rsa; p={public_key_b64(key)}"')


def txt_lookup(name: bytes, lifetime: float) -> bytes | None:
    """The TXT record of ``name``, through the resolver casegate is configured with; None when
    there is none. Raises :class:`dns.exception.Timeout` when no answer came in ``lifetime``
    seconds."""
    try:
        answer = resolver_settings().resolve(name.decode().rstrip("."), "TXT", lifetime=lifetime)
    except dns.exception.Timeout:
        raise
    except (dns.exception.DNSException, UnicodeDecodeError):
        return None
    return b"".join(b"".join(r.strings) for r in answer)


def dns_txt(name: bytes, timeout: float = 5) -> bytes | None:
    """TXT lookup for dkimpy: :func:`txt_lookup`, None when it timed out too."""
    try:
        return txt_lookup(name, timeout)
    except dns.exception.Timeout:
        return None


DKIM_DNS_TIMEOUT = 5.0


def authentication_results(raw: bytes, authserv_id: str,
                           dns_timeout: float = DKIM_DNS_TIMEOUT) -> bytes:
    """An Authentication-Results header with the DKIM result of the message as it arrived;
    none when the gateway added ours on arrival (it checked everything then).

    The key lookup waits at most ``dns_timeout`` seconds; with no time left the signature
    is not checked and the result is ``temperror``, so a slow DNS never holds the copy up.
    """
    if any(authserv_id_of(value) == authserv_id.lower()
           for value in HeaderFields(raw).get_all(FIELD)):
        return b""
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
    return f"Authentication-Results: {authserv_id}; dkim={result}{detail}\r\n".encode()


def arc_seal(data: bytes, key: SigningKey, authserv_id: str) -> bytes:
    """Prepend an ARC set (seal, message signature, authentication results) to ``data``."""
    headers = dkim.arc_sign(data, key.selector.encode(), key.domain.encode(),
                            key.private_key.encode(), authserv_id.encode())
    return b"".join(headers) + data


def dkim_sign(data: bytes, key: SigningKey) -> bytes:
    """Prepend a DKIM-Signature by ``key`` to mail we write ourselves (agents' replies)."""
    signature = dkim.sign(data, key.selector.encode(), key.domain.encode(),
                          key.private_key.encode(), include_headers=_SIGNED_HEADERS)
    return signature + data


_SIGNED_HEADERS = [b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"in-reply-to",
                   b"references", b"mime-version", b"content-type"]


def signing_key_for(domain: str) -> SigningKey | None:
    """The newest key of ``domain``, if it has one."""
    return SigningKey.objects.filter(domain=domain).order_by("-created_at").first()

"""DKIM keys of the company's domains: making them, the record to publish, signing with them.

Kept in the database so every gateway and worker host signs with the same key.
"""

from __future__ import annotations

import base64
import re

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from casegate.directory.addresses import normalize_domain
from casegate.errors import CasegateError
from casegate.signing.models import SigningKey

_SELECTOR = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class SigningKeyError(CasegateError):
    """A signing key cannot be made or used."""


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


def dkim_sign(data: bytes, key: SigningKey) -> bytes:
    """Prepend a DKIM-Signature by ``key`` to mail we write ourselves (agents' replies)."""
    signature = dkim.sign(data, key.selector.encode(), key.domain.encode(),
                          key.private_key.encode(), include_headers=_SIGNED_HEADERS)
    return signature + data


# From twice, and fields that may be missing signed as missing: none can be added after
# signing (a second From, a Reply-To to someone else) without breaking the signature.
_SIGNED_HEADERS = [b"from", b"from", b"reply-to", b"sender", b"to", b"cc", b"subject", b"date",
                   b"message-id", b"in-reply-to", b"references", b"mime-version",
                   b"content-type", b"content-transfer-encoding"]


def signing_key_for(domain: str) -> SigningKey | None:
    """The newest key of ``domain``, if it has one."""
    return SigningKey.objects.filter(domain=domain).order_by("-created_at").first()

"""Parsing and normalising mail addresses.

Addresses are compared case-insensitively; domains are stored as IDNA A-labels so that
``bücher.example`` and ``xn--bcher-kva.example`` are one domain.
"""

from __future__ import annotations

import re
from functools import lru_cache

import idna
from django.utils.translation import gettext as _

from casegate.errors import CasegateError

_LOCAL_FORBIDDEN = re.compile(r"[\s<>()\[\],;:\\\"@\x00-\x1f\x7f]")


class InvalidAddress(CasegateError, ValueError):
    """The text is not a mail address casegate can route."""


_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
MAX_DOMAIN = 253


@lru_cache(maxsize=4096)  # a rule import or a message's recipients repeat a few domains
def normalize_domain(domain: str) -> str:
    """Return the domain as lower-case A-labels, or raise :class:`InvalidAddress`."""
    text = domain.strip()
    if not text.strip("."):
        raise InvalidAddress(_("the domain is empty"))
    try:
        encoded = text.lower() if text.isascii() else idna.encode(
            text, uts46=True).decode("ascii")
        # IDNA maps some invisible characters to nothing, so strip the root dot afterwards.
        encoded = encoded.rstrip(".")
        labels = encoded.split(".")
        if (len(labels) < 2 or len(encoded) > MAX_DOMAIN
                or not all(_LABEL.fullmatch(label) for label in labels)):
            raise InvalidAddress(_("%(domain)r is not a valid domain name") % {"domain": domain})
        if any(label.startswith("xn--") for label in labels):
            idna.decode(encoded)
    except idna.IDNAError as exc:
        raise InvalidAddress(_("%(domain)r is not a valid domain name (%(error)s)")
                             % {"domain": domain, "error": exc}) from None
    return encoded


def split_address(address: str) -> tuple[str, str]:
    """Split ``user@domain`` into a lower-case local part and an A-label domain."""
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    local, sep, domain = text.rpartition("@")
    if not sep or not local:
        raise InvalidAddress(_("%(address)r is not a mail address (expected user@domain)")
                             % {"address": address})
    local = local.lower()
    if len(local) > 64:
        raise InvalidAddress(_("%(address)r: the part before @ is longer than 64 characters")
                             % {"address": address})
    if _LOCAL_FORBIDDEN.search(local) or local.startswith(".") or local.endswith("."):
        raise InvalidAddress(_("%(address)r: the part before @ holds characters mail cannot "
                               "carry") % {"address": address})
    return local, normalize_domain(domain)


def normalize_address(address: str) -> str:
    """Return ``user@domain`` lower-cased with an A-label domain."""
    local, domain = split_address(address)
    return f"{local}@{domain}"


def normalize_entry(text: str) -> str:
    """An address or a domain (``@`` before it allowed), normalised, as address lists and
    blocked senders hold them."""
    text = text.strip()
    return (normalize_address(text) if "@" in text.lstrip("@")
            else normalize_domain(text.lstrip("@")))


def strip_extension(address: str, delimiter: str) -> str:
    """``user+tag@domain`` → ``user@domain`` (``address`` already normalised)."""
    if not delimiter:
        return address
    local, _at, domain = address.rpartition("@")
    base, sep, _tag = local.partition(delimiter)
    if sep and base:
        return f"{base}@{domain}"
    return address


def unicode_form(address: str) -> str:
    """A normalised address with its domain in U-labels (``bücher.example``), as a person
    writes it; the address itself when its domain has no A-label or cannot be read."""
    local, _, domain = address.rpartition("@")
    if "xn--" not in domain:
        return address
    try:
        return f"{local}@{idna.decode(domain)}"
    except idna.IDNAError:
        return address


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]

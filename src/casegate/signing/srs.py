"""SRS (Sender Rewriting Scheme) envelope senders for mail we forward.

Mail forwarded for someone at another domain leaves with ``SRS0=…=example.net=dana@solarmora.com``
as envelope sender, so the receiving CRM's SPF check sees our domain, and a bounce to that
address comes back to us and is passed on to the original sender. The SRS key is derived
from the Django secret key, so every host that shares ``CASEGATE_SECRET_KEY`` accepts the
bounces of the others.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import cache

import srslib
from django.conf import settings

from casegate.directory.addresses import normalize_address

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

"""DKIM: the key published at SELECTOR._domainkey.DOMAIN is casegate's signing key."""

from __future__ import annotations

import dkim.util

from casegate.doctor.base import Finding, Host, txt
from casegate.doctor.vocabulary import CheckStatus
from casegate.signing.keys import public_key_b64, signing_key_for, txt_record

NAME = "DKIM"


def check(domain: str, host: Host) -> Finding:
    key = signing_key_for(domain)
    if key is None:
        return Finding(NAME, domain, CheckStatus.WARNING,
                       f"casegate has no DKIM key for {domain}, so mail it forwards is not"
                       f" ARC-sealed: run casegate dkim keygen {domain}, then publish the"
                       " record it prints")
    name = f"{key.selector}._domainkey.{domain}"
    records = txt(name, "")
    published = [_key_of(record) for record in records]
    if not records:
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"{name} publishes no key: receivers cannot verify casegate's"
                       " signatures", txt_record(key))
    if public_key_b64(key) in published:
        return Finding(NAME, domain, CheckStatus.OK,
                       f"{name} publishes casegate's key (selector {key.selector})")
    return Finding(NAME, domain, CheckStatus.FAILING,
                   f"{name} publishes another key than casegate's: every signature fails",
                   txt_record(key))


def _key_of(record: str) -> str:
    try:
        tags = dkim.util.parse_tag_value(record.encode())
    except dkim.util.InvalidTagValueList:
        return ""
    return b"".join(tags.get(b"p", b"").split()).decode("ascii", "replace")

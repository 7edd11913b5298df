"""DMARC: the domain publishes a policy, and which."""

from __future__ import annotations

import dkim.util

from casegate.doctor.base import Finding, Host, txt
from casegate.doctor.vocabulary import CheckStatus
from casegate.filtering.vocabulary import DmarcPolicy

NAME = "DMARC"


def check(domain: str, host: Host) -> Finding:
    name = f"_dmarc.{domain}"
    records = txt(name, "v=DMARC1")
    publish = f'{name}. IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"'
    if not records:
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"{domain} publishes no DMARC policy: receivers take forgeries of its"
                       " From: as they come", publish)
    if len(records) > 1:
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"{name} holds {len(records)} DMARC records, which receivers take as"
                       " none (RFC 7489 6.6.3): keep one", publish)
    try:
        tags = dkim.util.parse_tag_value(records[0].encode())
        policy = DmarcPolicy(tags.get(b"p", b"").decode().strip().lower())
    except (dkim.util.InvalidTagValueList, ValueError):
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f'"{records[0]}" has no valid p= (none, quarantine or reject)', publish)
    if policy == DmarcPolicy.NONE:
        return Finding(NAME, domain, CheckStatus.WARNING,
                       f'"{records[0]}": p=none asks receivers to deliver mail that fails;'
                       " once the reports show only your own mail passing, publish", publish)
    treated = "quarantined" if policy == DmarcPolicy.QUARANTINE else "rejected"
    return Finding(NAME, domain, CheckStatus.OK, f'"{records[0]}": mail that fails is {treated}')

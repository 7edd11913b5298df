"""MX: the domain's mail comes to this host."""

from __future__ import annotations

from casegate.doctor.base import Finding, Host, addresses_of, lookup
from casegate.doctor.vocabulary import CheckStatus

NAME = "MX"


def check(domain: str, host: Host) -> Finding:
    exchanges = sorted((r.preference, r.exchange.to_text(True).lower())
                       for r in lookup(domain, "MX"))
    publish = f"{domain}. IN MX 10 {host.name}."
    if not exchanges:
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"{domain} has no MX record, so its mail does not come here", publish)
    if exchanges == [(0, "")]:
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"{domain} publishes a null MX: it accepts no mail at all", publish)
    listed = ", ".join(f"{name} ({preference})" for preference, name in exchanges)
    for preference, name in exchanges:
        if name == host.name or set(addresses_of(name)) & set(host.addresses):
            return Finding(NAME, domain, CheckStatus.OK,
                           f"MX {preference} {name} is this host (MX hosts: {listed})")
    return Finding(NAME, domain, CheckStatus.FAILING,
                   f"none of {domain}'s MX hosts ({listed}) is this host ({host.name},"
                   f" {', '.join(host.addresses) or 'no address'})", publish)

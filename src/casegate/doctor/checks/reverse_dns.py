"""Reverse DNS and HELO name: casegate greets with CASEGATE_HOSTNAME, which must be a fully
qualified name whose addresses point back to it (PTR), forward-confirmed, as receivers
check before they take mail from this host."""

from __future__ import annotations

import dns.reversename

from casegate.doctor.base import Finding, Host, addresses_of, lookup
from casegate.doctor.vocabulary import CheckStatus

NAME = "reverse DNS"


def check(host: Host) -> Finding:
    if "." not in host.name or host.name.endswith((".localdomain", ".localhost")):
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"the HELO name {host.name} is not a fully qualified name: set"
                       " CASEGATE_HOSTNAME to the name the MX records give")
    if not host.addresses:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"the HELO name {host.name} has no address in the DNS",
                       f"{host.name}. IN A <this host's public address>")
    wrong = []
    for address in host.addresses:
        reverse = dns.reversename.from_address(address).to_text()
        names = [r.target.to_text(True).lower() for r in lookup(reverse, "PTR")]
        if host.name in names and address in addresses_of(host.name):
            continue
        wrong.append((address, reverse, names))
    if not wrong:
        return Finding(NAME, host.name, CheckStatus.OK,
                       f"{', '.join(host.addresses)} point back to {host.name}, which is the"
                       " HELO name")
    explanation = "; ".join(f"{address} points to {', '.join(names) or 'no name'}"
                            for address, _, names in wrong)
    return Finding(NAME, host.name, CheckStatus.FAILING,
                   f"{explanation}, not {host.name}: many receivers refuse or mark mail from"
                   " such an address (the PTR record is set by whoever gave the address)",
                   "\n".join(f"{reverse} IN PTR {host.name}." for _, reverse, _ in wrong))

"""SPF: the domain's record lets this host send its mail (pyspf, through casegate's
resolver)."""

from __future__ import annotations

import spf

import casegate.filtering.lookups  # noqa: F401 - routes pyspf's DNS through casegate's resolver
from casegate.doctor.base import LOOKUP_TIMEOUT, Finding, Host, txt
from casegate.doctor.vocabulary import CheckStatus

NAME = "SPF"
_ENDINGS = ("all", "-all", "~all", "?all", "+all")


def check(domain: str, host: Host) -> Finding:
    records = txt(domain, "v=spf1")
    ours = f"a:{host.name}"
    if not records:
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"{domain} publishes no SPF record: receivers cannot tell its mail"
                       " from forgeries", f'{domain}. IN TXT "v=spf1 {ours} -all"')
    if len(records) > 1:
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"{domain} publishes {len(records)} SPF records; receivers take that as"
                       " an error (RFC 7208 4.5): keep one", "")
    if not host.addresses:
        return Finding(NAME, domain, CheckStatus.WARNING,
                       f"{host.name} has no address in the DNS, so SPF cannot be checked for it")
    results = {address: spf.query(i=address, s=f"postmaster@{domain}", h=host.name,
                                  querytime=LOOKUP_TIMEOUT).check()[0]
               for address in host.addresses}
    failing = {address: result for address, result in results.items() if result != "pass"}
    if not failing:
        return Finding(NAME, domain, CheckStatus.OK,
                       f'"{records[0]}" passes for {", ".join(results)}')
    explanation = "; ".join(f"{result} for {address}" for address, result in failing.items())
    if all(result == "temperror" for result in failing.values()):
        return Finding(NAME, domain, CheckStatus.WARNING,
                       f"cannot tell: {explanation} (a DNS lookup failed)")
    return Finding(NAME, domain, CheckStatus.FAILING,
                   f'"{records[0]}" gives {explanation}: this host\'s mail for {domain} fails'
                   " SPF", f'{domain}. IN TXT "{_with(records[0], ours)}"')


def _with(record: str, mechanism: str) -> str:
    """``record`` with ``mechanism`` before its ending ``all`` or ``redirect=``."""
    terms = record.split()
    at = next((i for i, term in enumerate(terms)
               if term.lower() in _ENDINGS or term.lower().startswith("redirect=")), len(terms))
    return " ".join([*terms[:at], mechanism, *terms[at:]])

"""DNS for one message's sender checks: the process's caching resolver, within one budget.

Every lookup of a message's checks (SPF's, DKIM keys, DMARC records, ARC keys) shares the
time ``CASEGATE_AUTH_DNS_TIMEOUT`` allows; a lookup with no answer by then raises
:class:`dns.exception.Timeout`, which the checks report as ``temperror``.
"""

from __future__ import annotations

import time
from typing import Any

import dns.exception
import dns.resolver
import spf

from casegate.nameservers import caching_resolver

_ABSENT = (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)
# A name server that fails (SERVFAIL, refused) is as temporary as one that does not answer.
_TEMPORARY = (dns.exception.Timeout, dns.resolver.NoNameservers)


class MessageLookups:
    """The TXT lookups of one message's checks, each given what is left of the budget."""

    def __init__(self, budget: float, resolver: dns.resolver.Resolver | None = None) -> None:
        self._resolver = resolver or caching_resolver()
        self._deadline = time.monotonic() + budget
        self.absent: set[str] = set()  # names asked about that have no TXT record

    def left(self) -> float:
        return self._deadline - time.monotonic()

    def txt(self, name: str) -> list[bytes]:
        """The TXT records of ``name``, each one's strings joined; ``[]`` when it has none.

        Raises :class:`dns.exception.Timeout` when no answer came within the budget."""
        left = self.left()
        if left <= 0:
            raise dns.exception.Timeout(timeout=0)
        try:
            answer = self._resolver.resolve(name, "TXT", lifetime=left, search=False)
        except _ABSENT:
            self.absent.add(name.rstrip(".").lower())
            return []
        except _TEMPORARY as exc:
            raise dns.exception.Timeout(timeout=left) from exc
        except dns.exception.DNSException:  # a name that cannot be asked about
            self.absent.add(name.rstrip(".").lower())
            return []
        return [b"".join(record.strings) for record in answer]

    def dkim_key(self, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's ``dnsfunc``: the key record of a signature, None when there is none."""
        try:
            text = name.decode("ascii")
        except UnicodeDecodeError:
            return None
        return b"".join(self.txt(text)) or None


def spf_lookup(name: str, qtype: str, strict: bool = True, timeout: float = 20
               ) -> list[tuple[tuple[str, str], Any]]:
    """pyspf's ``DNSLookup``, answered by the caching resolver; pyspf gives each lookup what
    is left of the time it was given (its ``querytime``)."""
    try:
        answer = caching_resolver().resolve(name, qtype, lifetime=max(timeout, 0.001),
                                            search=False)
    except _TEMPORARY as exc:
        raise spf.TempError(f"DNS {exc}") from None
    except dns.exception.DNSException:
        return []
    key = (name, qtype)
    if qtype in ("A", "AAAA"):
        return [(key, record.address) for record in answer]
    if qtype == "MX":
        return [(key, (record.preference, record.exchange)) for record in answer]
    if qtype == "PTR":
        return [(key, record.target.to_text(True)) for record in answer]
    if qtype in ("TXT", "SPF"):
        return [(key, record.strings) for record in answer]
    return []


# pyspf asks the DNS through this module-level function (its own tests replace it the same
# way); replacing it sends SPF's lookups through CASEGATE_DNS_SERVERS and the cache.
spf.DNSLookup = spf_lookup

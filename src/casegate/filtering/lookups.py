"""DNS for one message's sender checks: the process's caching resolver, within one budget.

Every lookup of a message's checks (SPF's, DKIM keys, DMARC records, ARC keys) shares the
time ``CASEGATE_AUTH_DNS_TIMEOUT`` allows; a lookup with no answer by then raises
:class:`dns.exception.Timeout`, which the checks report as ``temperror``. Lookups made
``cached_only`` never wait on a name server: an answer not kept raises :class:`NotCached`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import dns.exception
import dns.resolver
import spf

from casegate.nameservers import CachingResolver, Records, caching_resolver

# A name server that fails (SERVFAIL, refused) is as temporary as one that does not answer.
_TEMPORARY = (dns.exception.Timeout, dns.resolver.NoNameservers)
# SPF macros whose expansion depends on more than the client's address, the sender's domain
# and the HELO name: the local part (%{l}, %{s}) and the time (%{t}).
_SENDER_MACRO = re.compile(rb"%\{[lstLST]")
# Until when the answers of the SPF check under way stay fresh (None: no check is collecting).
_SPF_ANSWERS: ContextVar[list[float] | None] = ContextVar("spf_answers", default=None)


class NotCached(Exception):
    """A ``cached_only`` lookup found no answer kept: the checks need the name servers."""


class MessageLookups:
    """The TXT lookups of one message's checks, each given what is left of the budget."""

    def __init__(self, budget: float, resolver: CachingResolver | None = None,
                 cached_only: bool = False) -> None:
        self.resolver = resolver or caching_resolver()
        self.cached_only = cached_only
        self._deadline = time.monotonic() + budget
        self.absent: set[str] = set()  # names asked about that have no TXT record

    def left(self) -> float:
        return self._deadline - time.monotonic()

    def txt(self, name: str) -> list[bytes]:
        """The TXT records of ``name``, each one's strings joined; ``[]`` when it has none.

        Raises :class:`dns.exception.Timeout` when no answer came within the budget,
        :class:`NotCached` when only kept answers may be read and there is none."""
        records = self._records(name)
        if records is None or not records.rdata:
            self.absent.add(name.rstrip(".").lower())
            return []
        return [b"".join(record.strings) for record in records.rdata]

    def _records(self, name: str) -> Records | None:
        """The TXT answer for ``name``; None for a name that cannot be asked about."""
        if self.cached_only:
            kept = self.resolver.cached(name, "TXT")
            if kept is None:
                raise NotCached(name)
            return kept
        left = self.left()
        if left <= 0:
            raise dns.exception.Timeout(timeout=0)
        try:
            return self.resolver.resolve(name, "TXT", lifetime=left)
        except _TEMPORARY as exc:
            raise dns.exception.Timeout(timeout=left) from exc
        except dns.exception.DNSException:
            return None

    def dkim_key(self, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's ``dnsfunc``: the key record of a signature, None when there is none."""
        try:
            text = name.decode("ascii")
        except UnicodeDecodeError:
            return None
        return b"".join(self.txt(text)) or None


@contextmanager
def spf_answers() -> Iterator[list[float]]:
    """Collects, for the SPF check made inside, when each answer it used goes stale (a record
    with a macro of the local part or the time counts as stale at once: the result holds for
    this sender alone)."""
    expiries: list[float] = []
    token = _SPF_ANSWERS.set(expiries)
    try:
        yield expiries
    finally:
        _SPF_ANSWERS.reset(token)


def spf_lookup(name: str, qtype: str, strict: bool = True, timeout: float = 20
               ) -> list[tuple[tuple[str, str], Any]]:
    """pyspf's ``DNSLookup``, answered by the caching resolver; pyspf gives each lookup what
    is left of the time it was given (its ``querytime``)."""
    try:
        records = caching_resolver().resolve(name, qtype, lifetime=max(timeout, 0.001))
    except _TEMPORARY as exc:
        raise spf.TempError(f"DNS {exc}") from None
    except dns.exception.DNSException:
        return []
    key = (name, qtype)
    found: list[tuple[tuple[str, str], Any]] = []
    if qtype in ("A", "AAAA"):
        found = [(key, record.address) for record in records.rdata]
    elif qtype == "MX":
        found = [(key, (record.preference, record.exchange)) for record in records.rdata]
    elif qtype == "PTR":
        found = [(key, record.target.to_text(True)) for record in records.rdata]
    elif qtype in ("TXT", "SPF"):
        found = [(key, record.strings) for record in records.rdata]
    expiries = _SPF_ANSWERS.get()
    if expiries is not None:
        personal = qtype in ("TXT", "SPF") and any(
            _SENDER_MACRO.search(b"".join(record.strings)) for record in records.rdata)
        expiries.append(0.0 if personal else records.expires)
    return found


# pyspf asks the DNS through this module-level function (its own tests replace it the same
# way); replacing it sends SPF's lookups through CASEGATE_DNS_SERVERS and the cache.
spf.DNSLookup = spf_lookup

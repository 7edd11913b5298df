"""The name servers casegate asks (``CASEGATE_DNS_SERVERS``, or the system's), through dnspython.

Delivery builds a resolver per lookup (MX, DKIM keys for ARC seals). The gateway's sender
checks and block list lookups share one caching resolver per process, so the SPF, DKIM
and DMARC records of a busy sender are asked once per TTL, not once per message.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.nameserver
import dns.resolver

from casegate.config import get_config

_R = TypeVar("_R", bound=dns.resolver.BaseResolver)
_K = TypeVar("_K")
_V = TypeVar("_V")

CACHED_ANSWERS = 100_000
# When a full cache has nothing stale, its oldest entries go until it is this full, so that
# the next clean-up is thousands of insertions away.
_FULL_AFTER_CLEANING = 0.9


# No answer is kept longer than a day, whatever its TTL says (as unbound's cache-max-ttl):
# a record changed by its owner is seen within a day, and an absurd TTL holds nothing long.
LONGEST_KEPT = 86400.0

class Expiring(Generic[_K, _V]):
    """A map whose entries go stale at a time given with each (``time.time()``), holding at
    most ``size``: when full, the stale entries go, then the oldest. Reads take no lock."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[_K, tuple[float, _V]] = {}
        self._lock = threading.Lock()

    def get(self, key: _K) -> _V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.time():
            return None
        return entry[1]

    def put(self, key: _K, value: _V, expires: float) -> None:
        now = time.time()
        if expires <= now:
            return
        with self._lock:
            if len(self._entries) >= self._size:
                for stale in [k for k, (at, _) in self._entries.items() if at <= now]:
                    del self._entries[stale]
                while len(self._entries) >= self._size * _FULL_AFTER_CLEANING:
                    del self._entries[next(iter(self._entries))]
            self._entries[key] = (expires, value)


@dataclass(frozen=True, slots=True)
class Records:
    """An answer as kept: the records of a name and type (none when the name, or a record of
    that type, does not exist) and when it goes stale (``time.time()``)."""

    rdata: tuple[Any, ...]
    expires: float


class CachingResolver:
    """A blocking resolver that keeps each answer for its TTL, and each negative answer for
    its SOA's (RFC 2308). A kept answer is read from a dict, without dnspython's resolution
    (some 15 us a lookup), and can be asked for alone (:meth:`cached`), without waiting on
    the name servers."""

    def __init__(self, resolver: dns.resolver.Resolver, size: int = CACHED_ANSWERS) -> None:
        self._resolver = resolver
        self._kept: Expiring[tuple[str, str], Records] = Expiring(size)

    def cached(self, name: str, rdtype: str) -> Records | None:
        """The answer kept for ``name`` and ``rdtype``; None when there is none (or it is stale)."""
        return self._kept.get((name.rstrip(".").lower(), rdtype))

    def resolve(self, name: str, rdtype: str, lifetime: float) -> Records:
        """The answer for ``name`` (absolute, with or without the final dot) and ``rdtype``, kept
        or asked for within ``lifetime`` seconds.

        Raises :class:`dns.exception.Timeout` or :class:`dns.resolver.NoNameservers` when no
        name server answered, another :class:`dns.exception.DNSException` for a name that
        cannot be asked about."""
        key = (name.rstrip(".").lower(), rdtype)
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        try:
            answer = self._resolver.resolve(name, rdtype, lifetime=lifetime, search=False)
            records = Records(tuple(answer), min(answer.expiration, time.time() + LONGEST_KEPT))
        except dns.resolver.NXDOMAIN as exc:
            records = Records((), _negative_expiry(*exc.responses().values()))
        except dns.resolver.NoAnswer as exc:
            records = Records((), _negative_expiry(exc.response()))
        self._kept.put(key, records, records.expires)
        return records


def _negative_expiry(*responses: dns.message.QueryMessage) -> float:
    """When the negative answer in ``responses`` goes stale: dnspython's reading of RFC 2308
    (the SOA's TTL or minimum, whichever is lower; five minutes without an SOA)."""
    ttl = min((r.resolve_chaining().minimum_ttl for r in responses), default=0)
    return time.time() + min(ttl, LONGEST_KEPT)


def _nameservers(servers: tuple[tuple[str, int], ...]) -> list[dns.nameserver.Nameserver] | None:
    """The name servers of CASEGATE_DNS_SERVERS, or None for the system's."""
    if not servers:
        return None
    return [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]


def _configured(kind: Callable[..., _R], default: Callable[[], _R],
                servers: tuple[tuple[str, int], ...]) -> _R:
    nameservers = _nameservers(servers)
    if nameservers is None:
        return default()
    custom = kind(configure=False)
    custom.nameservers = nameservers
    return custom


def resolver() -> dns.asyncresolver.Resolver:
    return _configured(dns.asyncresolver.Resolver, dns.asyncresolver.get_default_resolver,
                       get_config().dns_servers)


def resolver_settings() -> dns.resolver.Resolver:
    """A blocking resolver with the same name servers, for code that cannot await."""
    return _configured(dns.resolver.Resolver, dns.resolver.get_default_resolver,
                       get_config().dns_servers)


def caching_resolver() -> CachingResolver:
    """The process's blocking resolver with a cache (answers and negative answers, each for
    its TTL), for lookups made in worker threads, and for answers already kept, anywhere."""
    return _caching_resolver(get_config().dns_servers)


def caching_async_resolver() -> dns.asyncresolver.Resolver:
    """The process's asyncio resolver with a cache, for lookups made on the event loop."""
    return _caching_async_resolver(get_config().dns_servers)


@cache
def _caching_resolver(servers: tuple[tuple[str, int], ...]) -> CachingResolver:
    return CachingResolver(_own(dns.resolver.Resolver, servers))


@cache
def _caching_async_resolver(servers: tuple[tuple[str, int], ...]) -> dns.asyncresolver.Resolver:
    made = _own(dns.asyncresolver.Resolver, servers)
    made.cache = dns.resolver.LRUCache(CACHED_ANSWERS)
    return made


def _own(kind: Callable[..., _R], servers: tuple[tuple[str, int], ...]) -> _R:
    """A resolver of its own (not dnspython's shared default) for ``servers``."""
    nameservers = _nameservers(servers)
    made = kind() if nameservers is None else kind(configure=False)
    if nameservers is not None:
        made.nameservers = nameservers
    return made


async def validated(name: str, rdtype: str, lifetime: float) -> tuple[Any, ...] | None:
    """The records of ``name`` and ``rdtype`` when the name servers vouch for them: the answer
    carries the AD bit, so a validating resolver checked its DNSSEC signatures (RFC 6840
    5.7); ``()`` when there are none. None when the answer is not validated: a name in an
    unsigned zone, name servers that do not validate, or name servers not on this host.

    Raises :class:`dns.exception.DNSException` when no name server answered."""
    asking = _own(dns.asyncresolver.Resolver, get_config().dns_servers)
    if not all(_on_this_host(server) for server in asking.nameservers):
        # The AD bit is worth what the path to the resolver is (RFC 6698 section 4.1):
        # believed only from a validating resolver on this host.
        return None
    asking.use_edns(0, dns.flags.DO, 1232)
    asking.flags = dns.flags.RD | dns.flags.AD
    try:
        answer = await asking.resolve(name, rdtype, lifetime=lifetime, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return ()
    if not answer.response.flags & dns.flags.AD:
        return None
    return tuple(answer)


def _on_this_host(server: str | dns.nameserver.Nameserver) -> bool:
    address = server.address if isinstance(server, dns.nameserver.AddressAndPortNameserver) \
        else str(server)
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a DNS-over-HTTPS URL, say
        return False


def txt_lookup(name: bytes, lifetime: float) -> bytes | None:
    """The TXT record of ``name``, through the resolver casegate is configured with; None when
    there is none. Raises :class:`dns.exception.Timeout` when no answer came in ``lifetime``
    seconds."""
    try:
        answer = resolver_settings().resolve(name.decode().rstrip("."), "TXT", lifetime=lifetime)
    except dns.exception.Timeout:
        raise
    except (dns.exception.DNSException, UnicodeDecodeError):
        return None
    return b"".join(b"".join(r.strings) for r in answer)


def dns_txt(name: bytes, timeout: float = 5) -> bytes | None:
    """TXT lookup for dkimpy: :func:`txt_lookup`, None when it timed out too."""
    try:
        return txt_lookup(name, timeout)
    except dns.exception.Timeout:
        return None

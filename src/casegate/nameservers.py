"""The name servers casegate asks (``CASEGATE_DNS_SERVERS``, or the system's), through dnspython.

Delivery builds a resolver per lookup (MX, DKIM keys for ARC seals). The gateway's sender
checks and block list lookups share one caching resolver per process, so the SPF, DKIM
and DMARC records of a busy sender are asked once per TTL, not once per message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TypeVar

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from casegate.config import get_config

_R = TypeVar("_R", bound=dns.resolver.BaseResolver)

CACHED_ANSWERS = 100_000


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


def caching_resolver() -> dns.resolver.Resolver:
    """The process's blocking resolver with a cache (answers and negative answers, each for
    its TTL), for lookups made in worker threads."""
    return _caching(dns.resolver.Resolver, get_config().dns_servers)


def caching_async_resolver() -> dns.asyncresolver.Resolver:
    """The process's asyncio resolver with a cache, for lookups made on the event loop."""
    return _caching(dns.asyncresolver.Resolver, get_config().dns_servers)


@cache
def _caching(kind: Callable[..., _R], servers: tuple[tuple[str, int], ...]) -> _R:
    nameservers = _nameservers(servers)
    made = kind() if nameservers is None else kind(configure=False)
    if nameservers is not None:
        made.nameservers = nameservers
    made.cache = dns.resolver.LRUCache(CACHED_ANSWERS)
    return made


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

"""DNS lookups through the name servers casegate is configured with.

``CASEGATE_DNS_SERVERS`` names them; without it, the system's (``/etc/resolv.conf``). The
delivery worker's MX lookups, DKIM key lookups and the sender checks all ask here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from casegate.config import get_config

_R = TypeVar("_R", bound=dns.resolver.BaseResolver)


def _nameservers() -> list[dns.nameserver.Nameserver] | None:
    """The name servers in CASEGATE_DNS_SERVERS, or None for the system's."""
    servers = get_config().dns_servers
    if not servers:
        return None
    return [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]


def resolver() -> dns.asyncresolver.Resolver:
    return _configured(dns.asyncresolver.Resolver, dns.asyncresolver.get_default_resolver)


def resolver_settings() -> dns.resolver.Resolver:
    """A blocking resolver with the same name servers, for code that cannot await."""
    return _configured(dns.resolver.Resolver, dns.resolver.get_default_resolver)


def _configured(kind: Callable[..., _R], default: Callable[[], _R]) -> _R:
    nameservers = _nameservers()
    if nameservers is None:
        return default()
    custom = kind(configure=False)
    custom.nameservers = nameservers
    return custom


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

"""DNS block lists (RFC 5782) asked about the connecting client, as Postfix's
``reject_rbl_client``: ``2.0.0.127.zen.example`` answering an address in 127.0.0.0/8 means
listed. Lookups have a short time limit and fail open: a list that does not answer in time
lists no one."""

from __future__ import annotations

import asyncio
import ipaddress

import dns.exception

from casegate.config import Config
from casegate.nameservers import caching_async_resolver

# 127.255.255.0/24 is how lists answer a query they refuse (too many, or through a public
# resolver): an error, not a listing.
_LISTED = ipaddress.ip_network("127.0.0.0/8")
_LIST_ERRORS = ipaddress.ip_network("127.255.255.0/24")


def query_name(ip: str, zone: str) -> str:
    """The name a block list is asked about: the address's octets (or IPv6 nibbles) in
    reverse order, then the zone."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        reversed_address = ".".join(reversed(str(address).split(".")))
    else:
        reversed_address = ".".join(reversed(address.exploded.replace(":", "")))
    return f"{reversed_address}.{zone}"


def is_listing(answer: str) -> bool:
    try:
        address = ipaddress.ip_address(answer)
    except ValueError:
        return False
    return address in _LISTED and address not in _LIST_ERRORS


class Blocklists:
    """The zones of ``CASEGATE_DNSBL_ZONES``, asked together."""

    def __init__(self, config: Config) -> None:
        self.zones = config.dnsbl_zones
        self.timeout = config.dnsbl_timeout

    async def listing(self, ip: str) -> str:
        """The first zone (in the configured order) that lists ``ip``; ``""`` if none."""
        if not self.zones or not ip:
            return ""
        answers = await asyncio.gather(*(self._lists(zone, ip) for zone in self.zones))
        return next((zone for zone, listed in zip(self.zones, answers, strict=True) if listed),
                    "")

    async def _lists(self, zone: str, ip: str) -> bool:
        try:
            answer = await caching_async_resolver().resolve(
                query_name(ip, zone), "A", lifetime=self.timeout, search=False)
        except (dns.exception.DNSException, ValueError):
            return False
        return any(is_listing(record.address) for record in answer)

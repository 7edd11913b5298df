"""The transport map: next hops that override MX for a destination domain."""

from __future__ import annotations

from casegate.delivery.models import Transport
from casegate.directory.addresses import normalize_domain
from casegate.errors import CasegateError


class TransportError(CasegateError):
    """A transport entry was refused."""


def add_transport(domain: str, hostport: str) -> Transport:
    name = normalize_domain(domain)
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TransportError(f"{hostport!r} must look like HOST:PORT, for example 127.0.0.1:2526")
    transport, _ = Transport.objects.update_or_create(
        domain=name, defaults={"host": host.strip("[]"), "port": int(port)}
    )
    return transport


def remove_transport(domain: str) -> None:
    if not Transport.objects.filter(domain=normalize_domain(domain)).delete()[0]:
        raise TransportError(f"there is no transport for {domain}")

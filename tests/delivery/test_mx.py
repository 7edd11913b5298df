"""MX lookups against a real DNS server on loopback (the internet's DNS is not reachable)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from casegate.delivery.remote import Hop, RouteError, mx_hops

ZONE = {
    "crm.example.": ["20 backup.crm.example.", "10 mx1.crm.example."],
    "nullmx.example.": ["0 ."],
}
EXISTING_WITHOUT_MX = {"plain.example."}


def _serve(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.1)
    while not stop.is_set():
        try:
            wire, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text()
        if name in ZONE and question.rdtype == dns.rdatatype.MX:
            response.answer.append(dns.rrset.from_text(name, 300, "IN", "MX", *ZONE[name]))
        elif name not in ZONE and name not in EXISTING_WITHOUT_MX:
            response.set_rcode(dns.rcode.NXDOMAIN)
        sock.sendto(response.to_wire(), peer)


@pytest.fixture
def dns_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(sock, stop), daemon=True)
    thread.start()
    monkeypatch.setenv("CASEGATE_DNS_SERVERS", f"127.0.0.1:{sock.getsockname()[1]}")
    yield
    stop.set()
    thread.join()
    sock.close()


def test_mx_hosts_in_preference_order(dns_server: None) -> None:
    hops = asyncio.run(mx_hops("crm.example"))
    assert hops == [Hop("mx1.crm.example", 25), Hop("backup.crm.example", 25)]


def test_no_mx_falls_back_to_the_domain(dns_server: None) -> None:
    assert asyncio.run(mx_hops("plain.example")) == [Hop("plain.example", 25)]


def test_null_mx_is_a_permanent_failure(dns_server: None) -> None:
    with pytest.raises(RouteError) as caught:
        asyncio.run(mx_hops("nullmx.example"))
    assert caught.value.permanent and "null MX" in caught.value.reply


def test_unknown_domain_is_a_permanent_failure(dns_server: None) -> None:
    with pytest.raises(RouteError) as caught:
        asyncio.run(mx_hops("nowhere.example"))
    assert caught.value.permanent and "does not exist" in caught.value.reply

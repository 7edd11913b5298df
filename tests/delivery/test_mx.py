"""MX lookups against a real DNS server on loopback (the internet's DNS is not reachable)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from casegate.delivery.remote import Hop, RouteError, mx_hops
from tests.support import LocalDNS

ZONE = {
    "crm.example.": {"MX": ["20 backup.crm.example.", "10 mx1.crm.example."]},
    "nullmx.example.": {"MX": ["0 ."]},
    "plain.example.": {"A": ["192.0.2.7"]},
    "noaddress.example.": {"TXT": ["v=spf1 -all"]},
}


@pytest.fixture
def dns_server(setting: Callable[..., None]) -> Iterator[None]:
    with LocalDNS(ZONE) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        yield


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


def test_a_domain_without_mx_or_address_takes_no_mail(dns_server: None) -> None:
    with pytest.raises(RouteError) as caught:
        asyncio.run(mx_hops("noaddress.example"))
    assert caught.value.permanent
    assert caught.value.reply.startswith("5.1.2 noaddress.example has neither MX nor address")

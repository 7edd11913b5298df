"""DNS block lists: the names asked, what counts as listed, failing open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from casegate.config import get_config
from casegate.filtering.dnsbl import Blocklists, is_listing, query_name
from tests.support import LocalDNS


def test_the_name_asked_reverses_the_address() -> None:
    assert query_name("192.0.2.7", "bl.example") == "7.2.0.192.bl.example"
    assert query_name("::ffff:192.0.2.7", "bl.example") == "7.2.0.192.bl.example"
    assert query_name("2001:db8::1", "bl.example") == (
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example")


def test_only_loopback_answers_outside_the_error_range_are_listings() -> None:
    assert is_listing("127.0.0.2") and is_listing("127.0.0.11")
    assert not is_listing("127.255.255.254")  # the list refused the query
    assert not is_listing("192.0.2.1") and not is_listing("nonsense")


def test_the_first_listing_zone_in_order_and_silent_lists_fail_open(
        setting: Callable[..., None]) -> None:
    zone = {"7.2.0.192.second.example.": {"A": ["127.0.0.2"]},
            "7.2.0.192.third.example.": {"A": ["127.0.0.4"]}}
    with LocalDNS(zone, silent={"7.2.0.192.slow.example."}) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        setting("CASEGATE_DNSBL_ZONES", "slow.example,first.example,second.example,third.example")
        setting("CASEGATE_DNSBL_TIMEOUT", "0.3")
        lists = Blocklists(get_config())
        started = time.monotonic()
        assert asyncio.run(lists.listing("192.0.2.7")) == "second.example"
        assert time.monotonic() - started < 2  # asked together, the silent one cut short
        assert asyncio.run(lists.listing("192.0.2.8")) == ""

"""The caching resolver: answers and negative answers kept for their TTL, read alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import dns.exception
import pytest

from casegate import nameservers
from casegate.nameservers import CachingResolver, Expiring, caching_resolver
from tests.support import LocalDNS


def resolver_for(server: LocalDNS, setting: Callable[..., None]) -> CachingResolver:
    setting("CASEGATE_DNS_SERVERS", server.address)
    return caching_resolver()


def test_an_answer_is_asked_for_once_and_then_read_alone(setting: Callable[..., None]) -> None:
    with LocalDNS({"example.net.": {"TXT": ["v=spf1 -all"]}}) as server:
        resolver = resolver_for(server, setting)
        assert resolver.cached("example.net", "TXT") is None
        records = resolver.resolve("example.net", "TXT", lifetime=2)
        assert [b"".join(r.strings) for r in records.rdata] == [b"v=spf1 -all"]
        assert time.time() + 50 < records.expires <= time.time() + 60  # the server's TTL
        assert resolver.resolve("Example.NET.", "TXT", lifetime=2) is records
        assert resolver.cached("EXAMPLE.net.", "TXT") is records
        assert resolver.cached("example.net", "A") is None
        assert server.asked == ["example.net."]


def test_a_name_or_type_that_does_not_exist_is_kept_as_no_records(
        setting: Callable[..., None]) -> None:
    with LocalDNS({"example.net.": {"A": ["192.0.2.1"]}}) as server:
        resolver = resolver_for(server, setting)
        for name in ("missing.example", "example.net"):  # NXDOMAIN, then no TXT record
            records = resolver.resolve(name, "TXT", lifetime=2)
            assert records.rdata == () and records.expires > time.time()
            assert resolver.cached(name, "TXT") is records
        assert server.asked == ["missing.example.", "example.net."]


def test_a_server_that_does_not_answer_is_not_kept(setting: Callable[..., None]) -> None:
    with LocalDNS({}, silent={"slow.example."}) as server:
        resolver = resolver_for(server, setting)
        with pytest.raises(dns.exception.Timeout):
            resolver.resolve("slow.example", "TXT", lifetime=0.3)
        assert resolver.cached("slow.example", "TXT") is None


def test_entries_go_stale_and_a_full_map_drops_the_stale_then_the_oldest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(nameservers.time, "time", lambda: now[0])
    kept: Expiring[str, int] = Expiring(10)
    kept.put("stale already", 0, 1000.0)
    assert kept.get("stale already") is None
    kept.put("short", 1, 1005.0)
    for n in range(8):
        kept.put(f"long {n}", n, 2000.0)
    assert kept.get("short") == 1
    now[0] = 1010.0
    assert kept.get("short") is None and kept.get("long 0") == 0
    kept.put("one more", 9, 2000.0)
    kept.put("and another", 10, 2000.0)  # full: the stale one goes, then the oldest
    assert kept.get("long 0") is None
    assert kept.get("long 1") == 1 and kept.get("and another") == 10


def test_no_answer_is_kept_longer_than_the_longest_whatever_its_ttl(
        setting: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nameservers, "LONGEST_KEPT", 10.0)  # the answers' TTL is 60
    with LocalDNS({"example.net.": {"TXT": ["v=spf1 -all"]}}) as server:
        resolver = resolver_for(server, setting)
        for name in ("example.net", "missing.example"):
            assert resolver.resolve(name, "TXT", lifetime=2).expires <= time.time() + 10


def test_the_ad_bit_is_believed_only_from_a_resolver_on_this_host(
        setting: Callable[..., None]) -> None:
    name = "_25._tcp.mx.example.net."
    with LocalDNS({name: {"TLSA": ["3 1 1 " + "ab" * 32]}}) as server:
        server.validated.add(name)
        setting("CASEGATE_DNS_SERVERS", server.address)
        assert len(asyncio.run(nameservers.validated(name, "TLSA", 2)) or ()) == 1
        setting("CASEGATE_DNS_SERVERS", "192.0.2.53:53")  # across a network: never asked
        assert asyncio.run(nameservers.validated(name, "TLSA", 2)) is None

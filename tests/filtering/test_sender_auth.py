"""Where a message's checks run: on the event loop when every answer they need is kept,
in a worker thread when they must ask the name servers or the message is large."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import dkim
import pytest

from casegate.config import get_config
from casegate.filtering.sender_auth import (
    CHECKED_INLINE_UP_TO,
    Authentication,
    SenderAuthentication,
)
from tests.e2e.test_forwarding import rsa_key
from tests.mails import mail
from tests.support import LocalDNS

KEY, RECORD = rsa_key()
CLIENT = "192.0.2.7"


@pytest.fixture
def checks(setting: Callable[..., None], monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[SenderAuthentication, list[tuple[bool, bool]]]]:
    """The checks behind a name server for example.net, and for each attempt at a message's
    checks: whether it read kept answers alone, and whether it ran on the event loop's
    thread."""
    zone = {"s1._domainkey.example.net.": {"TXT": [RECORD]},
            "example.net.": {"TXT": [f"v=spf1 ip4:{CLIENT} -all"]},
            "_dmarc.example.net.": {"TXT": ["v=DMARC1; p=reject"]}}
    attempts: list[tuple[bool, bool]] = []
    authenticate = SenderAuthentication.authenticate

    def recorded(self: SenderAuthentication, *args: Any, cached_only: bool = False
                 ) -> Authentication:
        attempts.append((cached_only, threading.current_thread() is threading.main_thread()))
        return authenticate(self, *args, cached_only=cached_only)

    monkeypatch.setattr(SenderAuthentication, "authenticate", recorded)
    with LocalDNS(zone) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        setting("CASEGATE_AUTHSERV_ID", "gw.test")
        yield SenderAuthentication(get_config()), attempts


def signed(body: str = "Hello") -> bytes:
    data, _ = mail(body=body)
    return dkim.sign(data, b"s1", b"example.net", KEY) + data


def check(auth: SenderAuthentication, raw: bytes) -> Authentication:
    return asyncio.run(auth.check(raw, CLIENT, False, "dana@example.net", "mx.example.net",
                                  frozenset()))


def test_a_sender_seen_before_is_checked_on_the_event_loop_with_the_same_results(
        checks: tuple[SenderAuthentication, list[tuple[bool, bool]]]) -> None:
    auth, attempts = checks
    first = check(auth, signed())
    assert attempts == [(True, True), (False, False)]  # nothing kept: to a worker thread
    attempts.clear()
    again = check(auth, signed())
    assert attempts == [(True, True)]
    assert again.results == first.results == (
        "gw.test; spf=pass smtp.mailfrom=dana@example.net;"
        " dkim=pass header.d=example.net header.s=s1;"
        " dmarc=pass (p=reject dis=none) header.from=example.net;"
        " arc=none smtp.remote-ip=192.0.2.7")


def test_a_large_message_is_checked_in_a_worker_thread_even_when_everything_is_kept(
        checks: tuple[SenderAuthentication, list[tuple[bool, bool]]]) -> None:
    auth, attempts = checks
    check(auth, signed())
    attempts.clear()
    large = check(auth, signed("Hello\n" * (CHECKED_INLINE_UP_TO // 6)))
    assert attempts == [(False, False)]
    assert "dkim=pass" in large.results


def test_results_naming_us_in_fetched_or_imported_mail_are_removed(
        setting: Callable[..., None]) -> None:
    setting("CASEGATE_AUTHSERV_ID", "gw.test")
    forged = b"Authentication-Results: gw.test; dmarc=pass\r\n" + mail()[0]
    auth = SenderAuthentication(get_config())
    fetched = asyncio.run(auth.check(forged, None, True, "", "", frozenset(), foreign=True))
    assert b"Authentication-Results" not in fetched.content
    handed_over = asyncio.run(auth.check(forged, None, True, "", "", frozenset()))
    assert handed_over.content == forged  # the company's own server: its word stands

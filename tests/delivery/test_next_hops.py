"""Next hops as they are: an LMTP mail store without STARTTLS gets nothing that requires
TLS, one slow to answer DATA is waited for as an SMTP server is; an SMTP server that knows
only HELO gets its mail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from casegate.delivery import remote
from casegate.delivery.remote import Hop, Result, Sender, Status
from casegate.spool.copy_edits import CopyEdits
from casegate.spool.queue import Claimed
from tests.support import RecordingHandler, SlowFor, smtp_sink


def test_an_lmtp_hop_without_starttls_defers_a_message_that_requires_tls() -> None:
    item = Claimed(1, "Q1", "ann@solarmora.com", "ann@solarmora.com", "remote", None, False,
                   "", 1, "dana@example.net", datetime.now(UTC), CopyEdits(require_tls=True))
    with smtp_sink(lmtp=True) as (controller, store):
        hop = Hop("127.0.0.1", controller.port, protocol="lmtp", require_tls=True)
        sender = Sender({1: ("dana@example.net", b"Subject: x\r\n\r\nsecret\r\n")})
        results: list[Result] = []
        asyncio.run(sender.send_group(hop, [item], results))
    [result] = results
    assert result.status is Status.DEFERRED and "4.7.10 TLS is required" in result.reply
    assert store.messages == []


def test_an_lmtp_hop_slower_to_answer_data_than_to_connect_is_waited_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "CONNECT_TIMEOUT", 0.3)  # the wait for the connection only
    item = Claimed(1, "Q1", "ann@solarmora.com", "ann@solarmora.com", "remote", None, False,
                   "", 1, "dana@example.net", datetime.now(UTC), CopyEdits())
    with smtp_sink(lmtp=True, handler=SlowFor(b"sieve", 1.0)) as (controller, store):
        hop = Hop("127.0.0.1", controller.port, protocol="lmtp")
        sender = Sender({1: ("dana@example.net", b"Subject: x\r\n\nsieve filters run\r\n")})
        results: list[Result] = []
        asyncio.run(sender.send_group(hop, [item], results))
    [result] = results
    assert result.status is Status.SENT, result.reply  # not deferred, to be stored twice
    assert len(store.messages) == 1


class HeloOnly(RecordingHandler):
    async def handle_EHLO(self, server: object, session: object, envelope: object,
                          hostname: str, responses: list[str]) -> list[str]:
        return ['500 Error: command "EHLO" not recognized']


def test_a_server_that_refuses_ehlo_is_greeted_with_helo() -> None:
    item = Claimed(1, "Q1", "ann@solarmora.com", "ann@solarmora.com", "remote", None, False,
                   "", 1, "dana@example.net", datetime.now(UTC), CopyEdits())
    with smtp_sink(handler=HeloOnly()) as (controller, store):
        hop = Hop("127.0.0.1", controller.port)
        sender = Sender({1: ("dana@example.net", b"Subject: x\r\n\nold server\r\n")})
        results: list[Result] = []
        asyncio.run(sender.send_group(hop, [item], results))
    [result] = results
    assert result.status is Status.SENT, result.reply
    assert len(store.messages) == 1

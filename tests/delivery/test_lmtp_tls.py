"""Require-TLS holds on LMTP next hops too: a mail store without STARTTLS gets nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from casegate.delivery.remote import Hop, Result, Sender, Status
from casegate.spool.copy_edits import CopyEdits
from casegate.spool.queue import Claimed
from tests.support import smtp_sink


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

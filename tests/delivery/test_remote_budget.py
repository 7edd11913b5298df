"""A destination that stalls cannot hold a claim past its lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller

from casegate.delivery.queue import Claimed
from casegate.delivery.remote import Sender, Status, TransportEntry, deliver
from tests.support import free_port


class Stalling:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(5)
        return "250 2.0.0 Ok"


def test_a_stalled_destination_is_deferred_within_the_budget() -> None:
    port = free_port()
    controller = Controller(Stalling(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        item = Claimed(1, "Q1", "crm@solarmora.com", "support@slow.example", "remote", None,
                       False, "", 1, "dana@example.net", datetime.now(UTC))
        sender = Sender({1: ("dana@example.net", b"Subject: x\r\n\r\nbody\r\n")})
        started = datetime.now(UTC)
        results = asyncio.run(deliver([item], sender,
                                      {"slow.example": TransportEntry("127.0.0.1", port)},
                                      budget=0.5))
        elapsed = (datetime.now(UTC) - started).total_seconds()
    finally:
        controller.stop()
    assert [r.status for r in results] == [Status.DEFERRED]
    assert "took longer than" in results[0].reply
    assert elapsed < 4

"""Sending ends by its deadline, and what was settled before the cut stays settled."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller

from casegate.delivery.remote import (
    ConnectionSlots,
    Deadline,
    Result,
    Sender,
    Status,
    TransportEntry,
    deliver,
)
from casegate.spool.queue import Claimed
from tests.support import LMTPController, RecordingHandler, SlowFor, free_port


class Stalling:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(5)
        return "250 2.0.0 Ok"


def item(number: int, recipient: str = "support@slow.example", relay: str = "") -> Claimed:
    return Claimed(number, f"Q{number}", "crm@solarmora.com", recipient, "remote", None, False,
                   relay, 1, "dana@example.net", datetime.now(UTC))


def copies(items: list[Claimed], slow: tuple[int, ...] = ()) -> Sender:
    return Sender({i.id: ("dana@example.net",
                          f"Subject: {'slow' if i.id in slow else 'fast'} {i.id}\r\n\r\nbody\r\n"
                          .encode()) for i in items})


def test_a_stalled_destination_is_deferred_within_the_budget() -> None:
    port = free_port()
    controller = Controller(Stalling(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        stalled = item(1)
        started = datetime.now(UTC)
        results = asyncio.run(deliver([stalled], copies([stalled]),
                                      {"slow.example": TransportEntry("127.0.0.1", port)},
                                      deadline=Deadline.after(0.5)))
        elapsed = (datetime.now(UTC) - started).total_seconds()
    finally:
        controller.stop()
    assert [r.status for r in results] == [Status.DEFERRED]
    assert "cut short" in results[0].reply
    assert elapsed < 4


def test_a_slow_lane_is_cut_without_deferring_what_the_other_lanes_sent() -> None:
    handler = SlowFor(b"Subject: slow", 10)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        items = [item(number) for number in range(1, 9)]
        clock = time.monotonic()
        # four lanes: the first carries items 1 and 5, and stalls on item 1
        results = asyncio.run(deliver(items, copies(items, slow=(1,)),
                                      {"slow.example": TransportEntry("127.0.0.1",
                                                                      controller.port)},
                                      connections_per_destination=4,
                                      deadline=Deadline.after(1)))
        elapsed = time.monotonic() - clock
    finally:
        controller.stop()
    status = {r.item.id: r.status for r in results}
    assert status == {1: Status.DEFERRED, 5: Status.DEFERRED,
                      **{n: Status.SENT for n in (2, 3, 4, 6, 7, 8)}}
    assert len(handler.messages) == 6
    assert elapsed < 4


def test_items_that_get_no_connection_slot_in_time_are_not_tried() -> None:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    waiting = item(1, "support@busy.example")

    async def while_the_only_slot_is_taken() -> list[Result]:
        slots = ConnectionSlots(1)
        async with slots.connection(("", "busy.example", False)):
            return await deliver([waiting], copies([waiting]),
                                 {"busy.example": TransportEntry("127.0.0.1", controller.port)},
                                 deadline=Deadline.after(0.3), slots=slots)

    try:
        [result] = asyncio.run(while_the_only_slot_is_taken())
    finally:
        controller.stop()
    assert result.status is Status.NOT_TRIED
    assert handler.messages == []


def test_a_destination_that_fails_defers_only_its_own_mail() -> None:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    broken = item(1, "support@broken.example", relay="smtp:no-port-here")
    good = item(2, "support@good.example")
    try:
        results = asyncio.run(deliver([broken, good], copies([broken, good]),
                                      {"good.example": TransportEntry("127.0.0.1",
                                                                      controller.port)}))
    finally:
        controller.stop()
    status = {r.item.id: r for r in results}
    assert status[2].status is Status.SENT
    assert status[1].status is Status.DEFERRED and "ValueError" in status[1].reply
    assert len(handler.messages) == 1


def test_an_lmtp_send_cut_short_stops_its_thread() -> None:
    controller = LMTPController(SlowFor(b"Subject: slow", 5), hostname="127.0.0.1",
                                port=free_port())
    controller.start()
    stalled = item(1, "support@store.example", relay=f"lmtp:127.0.0.1:{controller.port}")
    try:
        clock = time.monotonic()
        # asyncio.run waits for the threads of LMTP sends before it returns
        [result] = asyncio.run(deliver([stalled], copies([stalled], slow=(1,)), {},
                                       deadline=Deadline.after(0.5)))
        elapsed = time.monotonic() - clock
    finally:
        controller.stop()
    assert result.status is Status.DEFERRED
    assert elapsed < 3

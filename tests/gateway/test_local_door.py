"""The door local programs (a mailbox's fetcher, the pipe, an import) hand messages in by."""

from __future__ import annotations

import asyncio

from casegate.config import get_config
from casegate.gateway.local import LocalDoor
from casegate.spool.vocabulary import Source
from tests.routing.test_engine import HELP, OURS, rule, table


def test_a_recipient_refused_for_some_senders_only_is_not_refused_for_every_sender() -> None:
    refusing_some = rule(1, value=HELP, action="reject", reject_text="not from that list",
                         sender_list=7, sender_list_mode="only")
    door = LocalDoor(get_config(), Source.MAILBOX, checked=False)
    door.tables._table = table(rules=[refusing_some], accounts=[HELP],
                               address_lists={7: ["spam.example"]})

    def admitted(recipient: str, sender: str) -> tuple[int, bool]:
        answer = asyncio.run(door.admit_new(b"Subject: x\r\n\r\nx\r\n", [recipient], sender))
        return answer.code, answer.refuses_recipient

    assert admitted(HELP, "eve@spam.example") == (550, False)  # this message's sender
    assert admitted(f"nobody@{OURS}", "eve@spam.example") == (550, True)

"""Agents' mail to the desk stays at the desk: what the gateway decides at DATA.

An agent answers a notification to their own reply address, which reaches the desk alone.
But a reply-all, or a mail client that ignores Reply-To, sends the answer to the address
the notification came from (``help@``), whose rule may also deliver to a CRM or a mailbox.
A message from an agent's address that answers one of our signed Message-IDs is an agent's
answer (a reply, an internal note, an out-of-office): its copies that a rule sends onward
from a recipient that reaches the desk are withheld; the desk's copy stays. Whether it
really is the agent's is decided when the desk files it (:mod:`casegate.desk.authorship`).

Mail to an agent's reply address that answers none of our messages is refused: it has no
conversation to go to, and nobody but the agent should know the address.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from casegate.desk.threading import read_signed
from casegate.mail.headers import HeaderFields
from casegate.mail.senders import sender_address
from casegate.maillog import address_text
from casegate.routing.engine import Routing, RoutingTable, Target, TargetKind

log = logging.getLogger("casegate.gateway")

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,900}>")


def answers_ours(headers: HeaderFields) -> bool:
    """Whether In-Reply-To or References names a Message-ID we signed."""
    named = " ".join(headers.get_all("In-Reply-To") + headers.get_all("References"))
    return any(read_signed(message_id) for message_id in _MESSAGE_ID.findall(named))


def author_address(headers: HeaderFields, mail_from: str) -> str:
    """Who sent the message, as the desk reads it (``mail_from``: the envelope sender)."""
    return sender_address(headers.get_all("From"), mail_from)


def is_agent_answer(headers: HeaderFields, mail_from: str, table: RoutingTable) -> bool:
    return answers_ours(headers) and author_address(headers, mail_from) in table.agent_addresses


def desk_only(targets: tuple[Target, ...]) -> tuple[Target, ...]:
    """The desk's targets, when ``targets`` holds any; otherwise ``targets`` unchanged."""
    desk = tuple(t for t in targets if t.kind is TargetKind.DESK)
    return desk or targets


def reply_address_refusal(rcpt_tos: list[str], headers: HeaderFields, table: RoutingTable
                          ) -> str:
    """The reply to DATA for mail to an agent's reply address that answers none of our
    messages; ``""`` for any other mail."""
    reply_addresses = [r for r in rcpt_tos if r.lower() in table.agent_reply_addresses]
    if not reply_addresses or answers_ours(headers):
        return ""
    return (f"550 5.7.1 <{reply_addresses[0]}>: an agent's reply address only takes answers"
            " to the desk's notifications")


def kept_at_desk(routings: list[Routing], headers: HeaderFields, mail_from: str,
                 table: RoutingTable, queue_id: str) -> list[Routing]:
    """``routings`` without the onward copies of an agent's answer: a recipient that reaches
    the desk reaches only the desk. Other mail's routings are returned as they are."""
    if not table.agent_addresses or not is_agent_answer(headers, mail_from, table):
        return routings
    kept = [replace(r, targets=desk_only(r.targets)) for r in routings]
    withheld = [t.address for before, after in zip(routings, kept, strict=True)
                for t in before.targets if t not in after.targets]
    if withheld:
        log.info("queue=%s agent=%s withheld=%s reason=agent-answer-stays-at-desk",
                 queue_id, address_text(author_address(headers, mail_from)), ",".join(withheld))
    return kept

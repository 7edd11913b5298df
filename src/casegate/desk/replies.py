"""Agents' answers: public replies mailed to the requester through the queue, and notes.

A public reply goes to the requester and the people copied on their latest message (never
to our own addresses), threaded with In-Reply-To/References and the conversation's tag,
DKIM-signed when the sending domain has a key (``casegate dkim keygen``). Its envelope
sender is the address it comes from, so a bounce comes back to the desk, lands on the same
case and marks the reply failed. It is signed with the agent's signature, else the
intake's (:mod:`casegate.desk.signatures`), and the thread keeps it as sent. Internal notes
are stored and never leave.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email import message_from_bytes, policy
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from casegate.config import get_config
from casegate.desk import blobs
from casegate.desk.automation.engine import run_after_change
from casegate.desk.automation.facts import EventMessage
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.models import Case, CaseEvent, DeskMessage, Lead
from casegate.desk.outgoing import about, from_address, reply_subject, tag_of
from casegate.desk.parsing import AttachmentInfo
from casegate.desk.services import DeskError
from casegate.desk.signatures import signed
from casegate.desk.sla import clocks
from casegate.desk.vocabulary import CaseStatus, Direction, IntakeKind, ReplyDelivery
from casegate.directory.addresses import domain_of
from casegate.routing.engine import RoutingTable
from casegate.routing.snapshot import load_table
from casegate.signing.keys import dkim_sign, signing_key_for
from casegate.spool.messages import AcceptedMessage, enqueue, generated_message

log = logging.getLogger("casegate.desk")


def _latest_inbound(messages: QuerySet[DeskMessage]) -> DeskMessage | None:
    """The customer's last message among ``messages`` (an out-of-office is not theirs)."""
    return (messages.filter(direction=Direction.INBOUND)
            .exclude(automated__gt="").order_by("-id").first())


def _answered(conversation: Case | Lead, latest: DeskMessage | None
              ) -> tuple[str, list[str]]:
    """The Message-ID and References a reply threads under: the customer's last message
    that has a Message-ID (one without cannot be pointed at), else the conversation's
    first message."""
    if latest is None or not latest.message_id:
        latest = _latest_inbound(conversation.messages.exclude(message_id=""))
    if latest is None:
        return conversation.message_id, []
    return latest.message_id, latest.references.split()


def compose_reply(conversation: Case | Lead, latest: DeskMessage | None, text: str,
                  cc: list[str], hostname: str, files: Sequence[AttachmentInfo] = ()
                  ) -> tuple[bytes, str]:
    """The reply's mail, threaded under ``latest`` (the customer's last message), signed,
    with ``files`` attached."""
    message = about(conversation, conversation.requester, reply_subject(conversation), hostname,
                    *_answered(conversation, latest))
    if cc:
        message["Cc"] = ", ".join(cc)
    message.set_content(text)
    for file in files:
        maintype, _, subtype = file.content_type.partition("/")
        if file.content_type == "message/rfc822":  # a message, never base64 (RFC 2046)
            message.add_attachment(message_from_bytes(file.data, policy=policy.default),
                                   filename=file.filename or None)
        else:
            message.add_attachment(file.data, maintype=maintype or "application",
                                   subtype=subtype or "octet-stream",
                                   filename=file.filename or None)
    data = message.as_bytes()
    key = signing_key_for(domain_of(from_address(conversation)))
    if key is not None:
        try:
            data = dkim_sign(data, key)
        except Exception as exc:  # an unusable key must not keep the reply from leaving
            log.warning("reply on %s sent unsigned: %s", tag_of(conversation), exc)
    return data, message["Message-ID"]


def _answered_between_quotes(text: str) -> bool:
    """Whether ``text`` has lines of its own between quoted ones: an answer written inline,
    which the latest reply alone (the text above the first quote) would cut off. What
    follows the last quoted line, or a signature's "-- ", is no answer."""
    quoted, answered = False, False
    for line in text.splitlines():
        if line.rstrip() == "--":
            break
        stripped = line.strip()
        if stripped.startswith(">"):
            if answered:
                return True
            quoted = True
        elif stripped and quoted:
            answered = True
    return False


def send(conversation: Case | Lead, reply: DeskMessage, table: RoutingTable, hostname: str,
         files: Sequence[AttachmentInfo] = ()) -> AcceptedMessage | None:
    """Compose and queue the mail of a public reply, with ``files`` (those an agent attached
    to an emailed reply); records where it went on ``reply``."""
    latest = _latest_inbound(conversation.messages.all())
    copied = latest.cc.split() if latest else []
    cc = [a for a in dict.fromkeys(copied)
          if a != conversation.requester and not table.is_ours(a)]
    # Never to the desk's own addresses: a requester that is one would file the reply again.
    targets = table.reachable([conversation.requester, *cc]
                              if not table.is_desk_address(conversation.requester) else cc)
    if not targets:
        reply.delivery_status = ReplyDelivery.FAILED
        reply.parse_problems = f"{conversation.requester or 'the requester'} cannot be reached"
        reply.save(update_fields=["delivery_status", "parse_problems"])
        return None
    written = reply.new_text or reply.text
    if reply.new_text and _answered_between_quotes(reply.text):
        written = reply.text
    text = signed(conversation, reply.author, written)
    if text != (reply.new_text or reply.text):  # the thread shows what the customer got
        reply.text = text if reply.text in (reply.new_text, "") else reply.text
        reply.new_text = text
    data, message_id = compose_reply(conversation, latest, text, cc, hostname, files)
    outgoing = generated_message(targets, data, hostname, message_id,
                                 mail_from=from_address(conversation))
    reply.queue_id = outgoing.queue_id
    reply.message_id = message_id
    reply.recipients = "\n".join(targets)
    reply.delivery_status = ReplyDelivery.QUEUED
    reply.raw_id = blobs.put_many([data])[0]
    reply.save(update_fields=["queue_id", "message_id", "recipients", "delivery_status",
                              "raw", "text", "new_text"])
    if isinstance(conversation, Case):
        _first_response(conversation, reply)
    return outgoing


def _first_response(case: Case, reply: DeskMessage) -> None:
    now = timezone.now()
    actor = reply.author.get_username() if reply.author else reply.sender
    changed = []
    if case.first_responded_at is None:
        case.first_responded_at = now
        changed.append("first_responded_at")
        CaseEvent.objects.create(case=case, field="first response", after=now.isoformat(),
                                 actor=actor, at=now)
    if case.status == CaseStatus.NEW:
        CaseEvent.objects.create(case=case, field="status", before=CaseStatus.NEW,
                                 after=CaseStatus.OPEN, actor=actor, at=now)
        case.status = CaseStatus.OPEN
        case.status_changed_at = now
        changed += ["status", "status_changed_at"]
    clocks.agent_replied(case, now)
    case.updated_at = now
    case.save(update_fields=[*changed, "updated_at", *clocks.CLOCK_FIELDS])


class ReplyCollision(DeskError):
    """Someone else replied since the agent read the conversation: their reply is held."""

    def __init__(self, newer: list[DeskMessage]) -> None:
        self.newer = newer
        names = sorted({m.author.get_username() if m.author else m.sender for m in newer})
        super().__init__(f"{', '.join(names)} replied since you opened it; read the new reply"
                         " and send yours again if it still says what is needed")


@transaction.atomic
def post_reply(kind: str, conversation_id: int, author: Any, text: str, public: bool = True,
               seen_up_to: int | None = None) -> DeskMessage:
    """An agent's reply (mailed to the requester) or internal note, from the console or API.

    ``seen_up_to``: the newest message the agent had read; a public reply is held
    (:class:`ReplyCollision`) when someone else replied after it.
    """
    if not text.strip():
        raise DeskError("a reply needs some text")
    model = Lead if kind == IntakeKind.LEAD else Case
    conversation = (model.objects.select_for_update().select_related("intake")
                    .filter(pk=conversation_id).first())
    if conversation is None:
        raise DeskError(f"there is no {kind} {conversation_id}")
    link = "lead" if model is Lead else "case"
    config = get_config()
    user = author if isinstance(author, get_user_model()) else None
    if public and seen_up_to is not None:
        newer = list(DeskMessage.objects.filter(
            **{link: conversation}, pk__gt=seen_up_to, direction=Direction.OUTBOUND)
            .exclude(author=user).select_related("author").order_by("id"))
        if newer:
            raise ReplyCollision(newer)
    message = DeskMessage.objects.create(
        **{link: conversation},
        direction=Direction.OUTBOUND if public else Direction.NOTE,
        author=user, sender=from_address(conversation) if public else (user.email if user else ""),
        sender_name=user.get_full_name() or user.get_username() if user else "",
        subject=reply_subject(conversation), text=text, new_text=text,
        created_at=timezone.now(),
    )
    if public:
        outgoing = send(conversation, message, load_table(), config.hostname)
        if outgoing is not None:
            enqueue([outgoing])
    if isinstance(conversation, Case):
        run_after_change(conversation, TriggerEvent.AGENT_REPLIED if public
                         else TriggerEvent.NOTE_ADDED,
                         EventMessage(sender=user.email if user else "", subject=message.subject,
                                      body=text))
    return message

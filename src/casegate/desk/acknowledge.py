"""Acknowledging new cases without ever feeding a mail loop.

An intake with ``acknowledge`` on answers each new case with a short note carrying the
case tag and a signed Message-ID, so the customer's reply threads. No acknowledgement
goes to automated mail (Auto-Submitted, Precedence bulk/junk/list, List-Id, X-Autoreply,
X-Loop, reports, mailer-daemon and no-reply senders), to the null sender, to our own addresses,
or to a sender who already got ``CASEGATE_ACK_LIMIT`` (3) of them in the last hour.
Acknowledgements leave with the null envelope sender and ``Auto-Submitted: auto-replied``
(RFC 3834), so another desk will not answer them either. Their words are the intake's own
for the requester's language, else the built-in ones (:mod:`casegate.desk.texts`).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.utils import timezone

from casegate.config import get_config
from casegate.desk.arrivals import Filed
from casegate.desk.automation.actions import placeholder_values
from casegate.desk.automation.rules import fill_placeholders
from casegate.desk.models import DeskMessage, Lead
from casegate.desk.outgoing import about, tag_of
from casegate.desk.texts import OwnTexts, language_for, own_texts, text_for
from casegate.desk.vocabulary import DeskText, Direction
from casegate.routing.engine import RoutingTable
from casegate.spool.messages import AcceptedMessage, generated_message


def ack_limit() -> int:
    return get_config().ack_limit


def _language(filed: Filed) -> str:
    contact = filed.conversation.contact if filed.conversation else None
    return language_for(filed.arrival.mail.language or (contact.language if contact else ""))


def reason_not_to_acknowledge(filed: Filed, table: RoutingTable) -> str:
    mail = filed.arrival.mail
    if not filed.created:
        return "not a new conversation"
    if filed.arrival.quiet:
        return "old mail (imported, or older than its mailbox)"
    if mail.automated:
        return f"automated mail ({mail.automated})"
    if not filed.arrival.mail_from:
        return "the null sender"
    if not mail.sender or table.is_ours(mail.sender):
        return "one of our own addresses"
    return ""


def compose(filed: Filed, hostname: str, own: OwnTexts) -> tuple[bytes, str]:
    conversation = filed.conversation
    assert conversation is not None
    language = _language(filed)
    subject, body = text_for(conversation.intake_id, DeskText.ACKNOWLEDGEMENT, language, own)
    values = placeholder_values(conversation, None)
    mail = filed.arrival.mail
    message = about(conversation, mail.sender,
                    f"{tag_of(conversation)} {fill_placeholders(subject, values)}: "
                    f"{mail.subject}", hostname, mail.message_id, mail.references)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(fill_placeholders(body, values))
    message["Content-Language"] = language  # after the content, which would drop it
    return message.as_bytes(), message["Message-ID"]


def acknowledgements(filed: list[Filed], table: RoutingTable, hostname: str
                     ) -> list[AcceptedMessage]:
    """The acknowledgements due for a batch; records each as an automatic desk message."""
    candidates = [f for f in filed if f.arrival.intake is not None
                  and f.arrival.intake.acknowledge and not reason_not_to_acknowledge(f, table)]
    if not candidates:
        return []
    since = timezone.now() - timedelta(hours=1)
    sent = Counter(DeskMessage.objects.filter(
        direction=Direction.AUTOMATIC, created_at__gte=since,
        recipients__in={f.arrival.mail.sender for f in candidates},
    ).values_list("recipients", flat=True))
    own = own_texts(DeskText.ACKNOWLEDGEMENT, {f.arrival.intake.pk for f in candidates
                                               if f.arrival.intake is not None})
    outgoing: list[AcceptedMessage] = []
    records: list[DeskMessage] = []
    for item in candidates:
        requester = item.arrival.mail.sender
        targets = table.destinations(requester)
        if sent[requester] >= ack_limit() or not targets:
            continue
        sent[requester] += 1
        raw, message_id = compose(item, hostname, own)
        outgoing.append(generated_message({requester: targets}, raw, hostname, message_id))
        link = "lead" if isinstance(item.conversation, Lead) else "case"
        records.append(DeskMessage(
            **{link: item.conversation}, direction=Direction.AUTOMATIC,
            queue_id=outgoing[-1].queue_id, message_id=message_id, recipients=requester,
            subject=raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode(errors="replace"),
            created_at=timezone.now(),
        ))
    DeskMessage.objects.bulk_create(records)
    return outgoing

"""Acknowledging new cases without ever feeding a mail loop.

An intake with ``acknowledge`` on answers each new case with a short note carrying the
case tag and a signed Message-ID, so the customer's reply threads. No acknowledgement
goes to automated mail (Auto-Submitted, Precedence bulk/junk/list, List-Id, X-Autoreply,
reports, mailer-daemon and no-reply senders), to the null sender, to our own addresses,
or to a sender who already got ``CASEGATE_ACK_LIMIT`` (3) of them in the last hour.
Acknowledgements leave with the null envelope sender and ``Auto-Submitted: auto-replied``
(RFC 3834), so another desk will not answer them either.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from django.utils import timezone

from casegate.desk.models import Case, DeskMessage, Intake, Lead
from casegate.desk.services import Filed
from casegate.desk.threading import case_tag, signed_message_id
from casegate.gateway.store import AcceptedMessage, generated_message
from casegate.routing.engine import RoutingTable

TEMPLATES = {
    "en": ("We received your message",
           "Hello,\n\nthank you for writing to us. Your request is registered as {tag}; we will "
           "answer as soon as we can. Please keep {tag} in the subject when you write about it."
           "\n"),
    "fr": ("Nous avons bien reçu votre message",
           "Bonjour,\n\nmerci de nous avoir écrit. Votre demande est enregistrée sous {tag} ; "
           "nous vous répondrons dès que possible. Gardez {tag} dans l'objet de vos messages.\n"),
    "pt": ("Recebemos sua mensagem",
           "Olá,\n\nobrigado por nos escrever. Sua solicitação foi registrada como {tag}; "
           "responderemos assim que possível. Mantenha {tag} no assunto ao escrever sobre ela.\n"),
    "id": ("Kami telah menerima pesan Anda",
           "Halo,\n\nterima kasih telah menulis kepada kami. Permintaan Anda tercatat sebagai "
           "{tag}; kami akan segera menjawab. Harap sertakan {tag} di subjek email Anda.\n"),
    "he": ("קיבלנו את הודעתך",
           "שלום,\n\nתודה שכתבת לנו. הפנייה שלך נרשמה כ-{tag}; נשיב בהקדם האפשרי. "
           "נא להשאיר את {tag} בשורת הנושא.\n"),
    "ar": ("تلقينا رسالتك",
           "مرحبًا،\n\nشكرًا لتواصلك معنا. تم تسجيل طلبك برقم {tag}؛ سنرد عليك في أقرب وقت. "
           "يُرجى الإبقاء على {tag} في سطر الموضوع.\n"),
}


def ack_limit() -> int:
    return int(os.environ.get("CASEGATE_ACK_LIMIT", "3"))


def _language(filed: Filed) -> str:
    contact = filed.conversation.contact if filed.conversation else None
    wanted = (filed.arrival.mail.language or (contact.language if contact else "")).lower()
    return wanted[:2] if wanted[:2] in TEMPLATES else "en"


def _ours(address: str, table: RoutingTable) -> bool:
    domain = address.rpartition("@")[2]
    return (domain in table.domains or address in table.intakes
            or any(domain == i.rpartition("@")[2] for i in table.intakes))


def reason_not_to_acknowledge(filed: Filed, table: RoutingTable) -> str:
    mail = filed.arrival.mail
    if not filed.created:
        return "not a new conversation"
    if mail.automated:
        return f"automated mail ({mail.automated})"
    if not filed.arrival.mail_from:
        return "the null sender"
    if not mail.sender or _ours(mail.sender, table):
        return "one of our own addresses"
    return ""


def compose(filed: Filed, intake: Intake, hostname: str) -> tuple[bytes, str]:
    conversation = filed.conversation
    assert conversation is not None
    kind = "l" if isinstance(conversation, Lead) else "c"
    tag = case_tag(conversation.pk) if isinstance(conversation, Case) else f"[#L-{conversation.pk}]"
    subject, body = TEMPLATES[_language(filed)]
    mail = filed.arrival.mail
    message = EmailMessage()
    message["From"] = intake.reply_from or filed.arrival.original_recipient or intake.address
    message["To"] = mail.sender
    message["Subject"] = f"{tag} {subject}: {mail.subject}"[:900]
    message["Date"] = format_datetime(datetime.now(UTC))
    message_id = signed_message_id(kind, conversation.pk, hostname)
    message["Message-ID"] = message_id
    if mail.message_id:
        message["In-Reply-To"] = mail.message_id
        message["References"] = " ".join([*mail.references[-10:], mail.message_id])
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message["Content-Language"] = _language(filed)
    message.set_content(body.format(tag=tag))
    return message.as_bytes(policy=SMTP), message_id


def acknowledgements(filed: list[Filed], table: RoutingTable, hostname: str
                     ) -> list[AcceptedMessage]:
    """The acknowledgements due for a batch; records each as an automatic desk message."""
    candidates = [f for f in filed
                  if f.arrival.acknowledge and not reason_not_to_acknowledge(f, table)]
    if not candidates:
        return []
    intakes = Intake.objects.in_bulk({f.arrival.intake_id for f in candidates})
    since = timezone.now() - timedelta(hours=1)
    sent = Counter(DeskMessage.objects.filter(
        direction=DeskMessage.AUTOMATIC, created_at__gte=since,
        recipients__in={f.arrival.mail.sender for f in candidates},
    ).values_list("recipients", flat=True))
    outgoing: list[AcceptedMessage] = []
    records: list[DeskMessage] = []
    for item in candidates:
        requester = item.arrival.mail.sender
        targets = table.targets_for(requester)
        if sent[requester] >= ack_limit() or not targets:
            continue
        sent[requester] += 1
        raw, message_id = compose(item, intakes[item.arrival.intake_id], hostname)
        outgoing.append(generated_message(requester, targets, raw, hostname, message_id))
        link = "lead" if isinstance(item.conversation, Lead) else "case"
        records.append(DeskMessage(
            **{link: item.conversation}, direction=DeskMessage.AUTOMATIC,
            queue_id=outgoing[-1].queue_id, message_id=message_id, recipients=requester,
            subject=raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode(errors="replace"),
            created_at=timezone.now(),
        ))
    DeskMessage.objects.bulk_create(records)
    return outgoing

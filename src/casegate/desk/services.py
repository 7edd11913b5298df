"""Desk intakes, and opening cases and leads from delivered messages."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from casegate.config import get_config
from casegate.desk.models import Attachment, Case, DeskMessage, Intake, Lead
from casegate.desk.parsing import ParsedMail
from casegate.directory.addresses import InvalidAddress, normalize_address, normalize_domain
from casegate.directory.claims import owner_of
from casegate.errors import CasegateError

_ALPHABET = string.ascii_lowercase + string.digits


class DeskError(CasegateError):
    """A desk operation was refused."""


def random_intake_address(kind: str, domain: str) -> str:
    """``support@v1su0245ewejzhe7.case.<domain>``, like the CRMs in the article generate."""
    token = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    local = "support" if kind == Intake.CASE else "sales"
    return f"{local}@{token}.{kind}.{domain}"


@transaction.atomic
def add_intake(kind: str, address: str | None = None, name: str = "",
               domain: str | None = None) -> Intake:
    if kind not in (Intake.CASE, Intake.LEAD):
        raise DeskError(f"the intake kind must be case or lead, not {kind!r}")
    try:
        if address:
            normalized = normalize_address(address)
        else:
            normalized = random_intake_address(
                kind, normalize_domain(domain or get_config().desk_domain)
            )
    except InvalidAddress as exc:
        raise DeskError(str(exc)) from None
    owner = owner_of(normalized)
    if owner is not None:
        raise DeskError(f"{normalized} is already {owner}")
    return Intake.objects.create(address=normalized, kind=kind, name=name)


@dataclass
class DeskArrival:
    """A message delivered to an intake, parsed and ready to become a case or lead."""

    intake_id: int
    kind: str
    queue_id: str
    original_recipient: str
    received_at: datetime
    mail: ParsedMail


def open_conversations(arrivals: list[DeskArrival]) -> list[Case | Lead]:
    """Create a case or lead, its first message and attachments, for each arrival.

    Runs inside the caller's transaction; uses one bulk insert per table.
    """
    now = timezone.now()
    conversations: list[Case | Lead] = []
    for arrival in arrivals:
        model = Lead if arrival.kind == Intake.LEAD else Case
        conversations.append(
            model(
                intake_id=arrival.intake_id,
                subject=arrival.mail.subject,
                requester=arrival.mail.sender[:320],
                requester_name=arrival.mail.sender_name[:200],
                original_recipient=arrival.original_recipient,
                message_id=arrival.mail.message_id,
                created_at=now,
                received_at=arrival.received_at,
            )
        )
    cases = [c for c in conversations if isinstance(c, Case)]
    leads = [c for c in conversations if isinstance(c, Lead)]
    if cases:
        Case.objects.bulk_create(cases)
    if leads:
        Lead.objects.bulk_create(leads)
    messages = []
    for arrival, conversation in zip(arrivals, conversations, strict=True):
        mail = arrival.mail
        link: dict[str, Any] = (
            {"lead": conversation} if isinstance(conversation, Lead) else {"case": conversation}
        )
        messages.append(
            DeskMessage(
                **link,
                queue_id=arrival.queue_id,
                message_id=mail.message_id,
                subject=mail.subject,
                sender=mail.sender[:320],
                sender_name=mail.sender_name[:200],
                text=mail.text,
                html=mail.html,
                parse_problems="\n".join(mail.problems),
                created_at=now,
            )
        )
    DeskMessage.objects.bulk_create(messages)
    attachments = [
        Attachment(
            message=message,
            filename=info.filename,
            content_type=info.content_type,
            size=info.size,
            content_id=info.content_id,
        )
        for arrival, message in zip(arrivals, messages, strict=True)
        for info in arrival.mail.attachments
    ]
    if attachments:
        Attachment.objects.bulk_create(attachments)
    return conversations


def conversation_detail(kind: str, conversation_id: int) -> dict[str, Any] | None:
    """A case or lead with its thread: each message's text, sanitized HTML and attachments."""
    model = Lead if kind == Intake.LEAD else Case
    conversation = model.objects.select_related("intake").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    detail = conversation_as_dict(conversation)
    detail["messages"] = [
        {
            "direction": m.direction,
            "message_id": m.message_id,
            "subject": m.subject,
            "sender": m.sender,
            "sender_name": m.sender_name,
            "text": m.text,
            "html": m.html,
            "parse_problems": m.parse_problems.splitlines(),
            "created_at": m.created_at.isoformat(),
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size,
                 "content_id": a.content_id}
                for a in m.attachments.all()
            ],
        }
        for m in conversation.messages.prefetch_related("attachments")
    ]
    return detail


def conversation_as_dict(conversation: Case | Lead) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "subject": conversation.subject,
        "requester": conversation.requester,
        "requester_name": conversation.requester_name,
        "status": conversation.status,
        "intake": conversation.intake.address,
        "original_recipient": conversation.original_recipient,
        "message_id": conversation.message_id,
        "received_at": conversation.received_at.isoformat(),
        "created_at": conversation.created_at.isoformat(),
    }

"""Rows for the REST API tests, made with the ORM and the desk services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from casegate.desk import blobs
from casegate.desk.models import Attachment, Case, DeskMessage, Intake, Lead, SuspendedMessage
from casegate.desk.vocabulary import SuspensionCause

START = timezone.now().replace(microsecond=0) - timedelta(days=30)


def at(days: int) -> datetime:
    """A moment ``days`` after START."""
    return START + timedelta(days=days)


def make_case(intake: Intake, **fields: Any) -> Case:
    fields.setdefault("subject", "Inverter beeps")
    fields.setdefault("requester", "dana@example.net")
    fields.setdefault("created_at", START)
    fields.setdefault("received_at", fields["created_at"])
    return Case.objects.create(intake=intake, **fields)


def make_lead(intake: Intake, **fields: Any) -> Lead:
    fields.setdefault("subject", "A quote for 40 panels")
    fields.setdefault("requester", "buyer@acme.example")
    fields.setdefault("created_at", START)
    fields.setdefault("received_at", fields["created_at"])
    return Lead.objects.create(intake=intake, **fields)


def make_message(conversation: Case | Lead, raw: bytes | None = None, **fields: Any
                 ) -> DeskMessage:
    link = "lead" if isinstance(conversation, Lead) else "case"
    fields.setdefault("sender", conversation.requester)
    fields.setdefault("subject", conversation.subject)
    fields.setdefault("text", "Hello")
    fields.setdefault("created_at", conversation.created_at)
    if raw is not None:
        fields["raw_id"] = blobs.put_many([raw])[0]
    return DeskMessage.objects.create(**{link: conversation}, **fields)


def make_attachment(message: DeskMessage, data: bytes | None, **fields: Any) -> Attachment:
    """An attachment whose bytes are stored, or (``data`` None) only described."""
    fields.setdefault("filename", "report.pdf")
    fields.setdefault("content_type", "application/pdf")
    fields.setdefault("size", len(data or b""))
    blob_id = blobs.put_many([data])[0] if data is not None else None
    return Attachment.objects.create(message=message, blob_id=blob_id, **fields)


def make_suspended(intake: Intake, **fields: Any) -> SuspendedMessage:
    """Mail from an auto-mailer, suspended at ``intake``."""
    raw = (b"From: Away <away@acme.example>\r\nTo: " + intake.address.encode()
           + b"\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n"
           b"Message-ID: <away@acme.example>\r\n\r\nBack on Monday.\r\n")
    for name, value in {"queue_id": "Q1", "original_recipient": intake.address,
                        "mail_from": "away@acme.example", "received_at": START, "raw": raw,
                        "subject": "Out of office", "sender": "away@acme.example",
                        "cause": SuspensionCause.AUTO_MAILER,
                        "reason": "Auto-Submitted: auto-replied", "created_at": START}.items():
        fields.setdefault(name, value)
    return SuspendedMessage.objects.create(intake=intake, **fields)

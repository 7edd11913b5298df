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
from casegate.desk.models import (
    Attachment,
    Case,
    CaseEvent,
    Company,
    Contact,
    DeskMessage,
    Intake,
    Lead,
)
from casegate.desk.parsing import ParsedMail
from casegate.desk.threading import ThreadHint, hint_for
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
               domain: str | None = None, acknowledge: bool = False,
               reply_from: str = "") -> Intake:
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
    return Intake.objects.create(address=normalized, kind=kind, name=name,
                                 acknowledge=acknowledge, reply_from=reply_from)


@dataclass
class DeskArrival:
    """A message delivered to an intake, parsed and ready to be filed."""

    intake_id: int
    kind: str
    queue_id: str
    original_recipient: str
    received_at: datetime
    mail: ParsedMail
    mail_from: str = ""
    acknowledge: bool = False


@dataclass
class Filed:
    """Where an arrival went: its conversation, whether that is new, and the stored message."""

    arrival: DeskArrival
    conversation: Case | Lead | None
    created: bool
    message: DeskMessage | None

    @property
    def duplicate(self) -> bool:
        return self.message is None


FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "hotmail.com", "outlook.com",
    "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "gmx.com", "gmx.de",
    "gmx.net", "web.de", "mail.ru", "yandex.ru", "yandex.com", "proton.me", "protonmail.com",
    "qq.com", "163.com", "126.com", "zoho.com", "fastmail.com", "hey.com", "mail.com",
})


@dataclass
class Prefetched:
    """What filing a batch needs to read, read before the writing transaction starts."""

    seen: set[tuple[str, str, str]]
    hints: list[ThreadHint]
    found: dict[str, Case | Lead]
    contacts: dict[str, Contact]


def prefetch(arrivals: list[DeskArrival]) -> Prefetched:
    seen = set(DeskMessage.objects.filter(
        message_id__in=[a.mail.message_id for a in arrivals if a.mail.message_id]
    ).values_list("message_id", "sender", "subject"))
    hints, found = _existing_conversations(arrivals)
    contacts = Contact.objects.in_bulk(list({a.mail.sender for a in arrivals if a.mail.sender}),
                                       field_name="address")
    return Prefetched(seen, hints, found, contacts)


def _contacts(arrivals: list[DeskArrival], known: dict[str, Contact]) -> dict[str, Contact]:
    """The contact of every sender, created (with its company) when new."""
    wanted = {a.mail.sender: a for a in arrivals if a.mail.sender}
    missing = [address for address in wanted if address not in known]
    if missing:
        domains = {a.rpartition("@")[2] for a in missing} - FREE_MAIL
        companies = Company.objects.in_bulk(list(domains), field_name="domain")
        new_companies = [Company(domain=d, name=d) for d in domains if d not in companies]
        Company.objects.bulk_create(new_companies, ignore_conflicts=True)
        companies = Company.objects.in_bulk(list(domains), field_name="domain")
        Contact.objects.bulk_create(
            [Contact(address=a, name=wanted[a].mail.sender_name[:200],
                     language=wanted[a].mail.language,
                     company=companies.get(a.rpartition("@")[2])) for a in missing],
            ignore_conflicts=True,
        )
        known = Contact.objects.in_bulk(list(wanted), field_name="address")
    return known


def _existing_conversations(arrivals: list[DeskArrival]
                            ) -> tuple[list[ThreadHint], dict[str, Case | Lead]]:
    """The threading hints of each arrival and every conversation they can point at."""
    hints = [hint_for(a.mail.in_reply_to, a.mail.references, a.mail.subject) for a in arrivals]
    if not any(h.signed or h.tagged_case or h.references for h in hints):
        return hints, {}
    case_ids = {h.signed[1] for h in hints if h.signed and h.signed[0] == "c"}
    case_ids |= {h.tagged_case for h in hints if h.tagged_case}
    lead_ids = {h.signed[1] for h in hints if h.signed and h.signed[0] == "l"}
    refs = {r for h in hints for r in h.references}
    by_ref = {}
    for message_id, case_id, lead_id in DeskMessage.objects.filter(
            message_id__in=refs).values_list("message_id", "case_id", "lead_id"):
        if case_id:
            by_ref[message_id] = ("c", case_id)
            case_ids.add(case_id)
        else:
            by_ref[message_id] = ("l", lead_id)
            lead_ids.add(lead_id)
    found: dict[str, Case | Lead] = {}
    for case in Case.objects.filter(pk__in=case_ids):
        found[f"c{case.pk}"] = case
    for lead in Lead.objects.filter(pk__in=lead_ids):
        found[f"l{lead.pk}"] = lead
    for message_id, (kind, number) in by_ref.items():
        if f"{kind}{number}" in found:
            found[message_id] = found[f"{kind}{number}"]
    return hints, found


def _thread_of(arrival: DeskArrival, hint: ThreadHint, found: dict[str, Case | Lead]
               ) -> Case | Lead | None:
    if hint.signed and f"{hint.signed[0]}{hint.signed[1]}" in found:
        return found[f"{hint.signed[0]}{hint.signed[1]}"]
    tagged = found.get(f"c{hint.tagged_case}") if hint.tagged_case else None
    if tagged is not None and tagged.requester == arrival.mail.sender:
        return tagged
    return next((found[r] for r in hint.references if r in found), None)


def _record(case: Case, field: str, before: str, after: str, actor: str) -> CaseEvent:
    return CaseEvent(case=case, field=field, before=before, after=after, actor=actor,
                     at=timezone.now())


def file_arrivals(arrivals: list[DeskArrival], known: Prefetched | None = None) -> list[Filed]:
    """Thread each arrival into its conversation, or open a new case or lead.

    A message seen before (same Message-ID, sender and subject) is not stored again. A
    reply to a solved case reopens it; a reply to a closed case opens a new case that
    follows the old one. Runs inside the caller's transaction with a handful of queries per
    batch, whatever its size.
    """
    now = timezone.now()
    known = known or prefetch(arrivals)
    seen, hints, found = known.seen, known.hints, known.found
    contacts = _contacts(arrivals, known.contacts)
    filed: list[Filed] = []
    events: list[CaseEvent] = []
    for arrival, hint in zip(arrivals, hints, strict=True):
        # The same message again (a resend, or a copy by another route): stored once. A
        # Message-ID alone is not enough, some senders reuse theirs for different mail.
        repeat = (arrival.mail.message_id, arrival.mail.sender[:320], arrival.mail.subject)
        if arrival.mail.message_id and repeat in seen:
            filed.append(Filed(arrival, None, False, None))
            continue
        if arrival.mail.message_id:
            seen.add(repeat)
        conversation = _thread_of(arrival, hint, found)
        follows = None
        if isinstance(conversation, Case) and conversation.status == "closed":
            conversation, follows = None, conversation
        elif isinstance(conversation, Case) and conversation.status in ("solved", "pending"):
            events.append(_record(conversation, "status", conversation.status, "open",
                                  arrival.mail.sender))
            conversation.status = "open"
            conversation.updated_at = now
            conversation.save(update_fields=["status", "updated_at"])
        created = conversation is None
        if created:
            model = Lead if arrival.kind == Intake.LEAD else Case
            extra: dict[str, Any] = {"follows": follows} if model is Case else {}
            conversation = model(
                intake_id=arrival.intake_id,
                contact=contacts.get(arrival.mail.sender),
                subject=arrival.mail.subject,
                requester=arrival.mail.sender[:320],
                requester_name=arrival.mail.sender_name[:200],
                original_recipient=arrival.original_recipient,
                message_id=arrival.mail.message_id,
                created_at=now,
                received_at=arrival.received_at,
                **extra,
            )
            if arrival.mail.message_id:
                found[arrival.mail.message_id] = conversation
        filed.append(Filed(arrival, conversation, created, None))
    new_cases = [f.conversation for f in filed if f.created and isinstance(f.conversation, Case)]
    new_leads = [f.conversation for f in filed if f.created and isinstance(f.conversation, Lead)]
    Case.objects.bulk_create(new_cases)
    Lead.objects.bulk_create(new_leads)
    for item in filed:
        if item.conversation is None:
            continue
        mail = item.arrival.mail
        link = "lead" if isinstance(item.conversation, Lead) else "case"
        item.message = DeskMessage(
            **{link: item.conversation},
            queue_id=item.arrival.queue_id,
            message_id=mail.message_id,
            in_reply_to=mail.in_reply_to,
            references=" ".join(mail.references),
            automated=mail.automated[:100],
            subject=mail.subject,
            sender=mail.sender[:320],
            sender_name=mail.sender_name[:200],
            text=mail.text,
            html=mail.html,
            parse_problems="\n".join(mail.problems),
            created_at=now,
        )
    DeskMessage.objects.bulk_create([f.message for f in filed if f.message is not None])
    Attachment.objects.bulk_create([
        Attachment(message=f.message, filename=info.filename, content_type=info.content_type,
                   size=info.size, content_id=info.content_id)
        for f in filed if f.message is not None
        for info in f.arrival.mail.attachments
    ])
    CaseEvent.objects.bulk_create(events)
    return filed


@transaction.atomic
def set_status(kind: str, conversation_id: int, status: str, actor: str = "") -> Case | Lead:
    model = Lead if kind == Intake.LEAD else Case
    conversation = model.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        raise DeskError(f"there is no {kind} {conversation_id}")
    allowed = [choice for choice, _ in model.STATUS_CHOICES]
    if status not in allowed:
        raise DeskError(f"the status of a {kind} is one of {', '.join(allowed)}")
    if isinstance(conversation, Case) and conversation.status != status:
        CaseEvent.objects.create(case=conversation, field="status", before=conversation.status,
                                 after=status, actor=actor, at=timezone.now())
        conversation.updated_at = timezone.now()
    conversation.status = status
    conversation.save()
    return conversation


@transaction.atomic
def convert_lead(lead_id: int, actor: str) -> Lead:
    """Mark a lead converted, making sure its contact and company exist and link back."""
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise DeskError(f"there is no lead {lead_id}")
    if lead.status in ("converted", "disqualified"):
        raise DeskError(f"lead {lead_id} is {lead.status} already")
    if lead.contact is None:
        domain = lead.requester.rpartition("@")[2]
        company = None
        if domain and domain not in FREE_MAIL:
            company, _ = Company.objects.get_or_create(domain=domain, defaults={"name": domain})
        lead.contact, _ = Contact.objects.get_or_create(
            address=lead.requester, defaults={"name": lead.requester_name, "company": company})
    lead.status = "converted"
    lead.converted_at = timezone.now()
    lead.converted_by = actor
    lead.save()
    return lead


def conversation_detail(kind: str, conversation_id: int) -> dict[str, Any] | None:
    """A case or lead with its thread: each message's text, sanitized HTML and attachments."""
    model = Lead if kind == Intake.LEAD else Case
    conversation = model.objects.select_related("intake").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    detail = conversation_as_dict(conversation)
    detail["contact"] = conversation.contact.address if conversation.contact else None
    if isinstance(conversation, Case):
        detail["follows"] = conversation.follows_id
        detail["history"] = [
            {"field": e.field, "before": e.before, "after": e.after, "actor": e.actor,
             "at": e.at.isoformat()} for e in conversation.history.all()]
    else:
        detail["converted_by"] = conversation.converted_by or None
        detail["converted_at"] = (conversation.converted_at.isoformat()
                                  if conversation.converted_at else None)
    detail["messages"] = [
        {
            "direction": m.direction,
            "message_id": m.message_id,
            "automated": m.automated or None,
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

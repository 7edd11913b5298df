"""Desk intakes, and opening cases and leads from delivered messages."""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from casegate.config import get_config
from casegate.delivery.models import Delivery
from casegate.delivery.vocabulary import FINAL_FAILURES, DeliveryState
from casegate.desk import blobs
from casegate.desk.authorship import ActiveAgents, Authorship, agent_of_reply_address, judge
from casegate.desk.models import (
    Agent,
    Attachment,
    Case,
    CaseEvent,
    Company,
    Contact,
    DeskMessage,
    Intake,
    Lead,
)
from casegate.desk.parsing import AttachmentInfo, ParsedMail
from casegate.desk.threading import ThreadHint, hint_for
from casegate.desk.vocabulary import (
    FINISHED_LEAD_STATUSES,
    CaseStatus,
    Direction,
    IntakeKind,
    LeadStatus,
    Priority,
    ReplyDelivery,
)
from casegate.directory.addresses import InvalidAddress, normalize_address, normalize_domain
from casegate.directory.claims import owner_of
from casegate.errors import CasegateError

_ALPHABET = string.ascii_lowercase + string.digits

log = logging.getLogger("casegate.desk")


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
               reply_from: str = "", team: str = "", first_response_hours: int = 0) -> Intake:
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
    if first_response_hours < 0:
        raise DeskError("the first-response time is a number of hours, 0 or more")
    return Intake.objects.create(address=normalized, kind=kind, name=name,
                                 acknowledge=acknowledge, reply_from=reply_from,
                                 team=team.strip()[:100],
                                 first_response_hours=first_response_hours)


@transaction.atomic
def add_agent(email: str, name: str = "", username: str | None = None,
              teams: list[str] | None = None, notify: bool = True) -> Agent:
    """A user who works cases; mail from ``email`` answering a notification is their reply."""
    try:
        address = normalize_address(email)
    except InvalidAddress as exc:
        raise DeskError(str(exc)) from None
    owner = owner_of(address)
    if owner is not None and owner.kind != "account":
        raise DeskError(f"{address} is {owner}, not a person's mailbox: notifications would "
                        "go round in circles; use the agent's own address")
    users = get_user_model().objects
    if users.filter(email__iexact=address).exclude(username=username or address).exists():
        raise DeskError(f"another user already has the address {address}")
    first, _, last = name.partition(" ")
    user, _ = users.get_or_create(username=username or address,
                                  defaults={"email": address, "first_name": first[:150],
                                            "last_name": last[:150]})
    if user.email.lower() != address:
        user.email = address
        user.save(update_fields=["email"])
    agent, _ = Agent.objects.update_or_create(
        user=user, defaults={"teams": sorted({t.strip() for t in teams or [] if t.strip()}),
                             "notify": notify})
    from casegate.console.roles import AGENT

    user.groups.add(Group.objects.get_or_create(name=AGENT)[0])  # the console role as well
    return agent


@dataclass
class DeskArrival:
    """A message delivered to the desk, parsed and ready to be filed.

    ``intake`` is None for mail to an agent's reply address: it belongs to the conversation
    it answers, and takes that conversation's intake when filed. ``peer``: the client the
    gateway received it from.
    """

    intake: Intake | None
    queue_id: str
    original_recipient: str
    received_at: datetime
    mail: ParsedMail
    raw: bytes = field(default=b"", repr=False)
    mail_from: str = ""
    peer: str = ""

    def __post_init__(self) -> None:
        # Without a From: address the envelope sender is the best word on who wrote.
        if not self.mail.sender and self.mail_from:
            self.mail.sender = self.mail_from.lower()
            self.mail.problems.append(
                f"From: no address; the envelope sender <{self.mail.sender}> is the requester")

    @property
    def kind(self) -> str:
        return self.intake.kind if self.intake else Intake.CASE


@dataclass
class Filed:
    """Where an arrival went: its conversation, whether that is new, and the stored message.

    ``author`` is set when an agent answered a notification by mail: the message is their
    reply (or, starting with ``#note``, an internal note) rather than the customer's.
    ``unproven`` says why a message sent as an agent's answer was kept as customer mail.
    """

    arrival: DeskArrival
    conversation: Case | Lead | None
    created: bool
    message: DeskMessage | None
    author: Any = None
    unproven: str = ""

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
    authorship: list[Authorship]


def prefetch(arrivals: list[DeskArrival]) -> Prefetched:
    """Also decides who wrote each arrival, checking DKIM signatures of agents' answers (DNS
    lookups, so before the writing transaction)."""
    seen = set(DeskMessage.objects.filter(
        message_id__in=[a.mail.message_id for a in arrivals if a.mail.message_id]
    ).values_list("message_id", "sender", "subject"))
    hints, found = _existing_conversations(arrivals)
    senders = list({a.mail.sender for a in arrivals if a.mail.sender})
    contacts = Contact.objects.in_bulk(senders, field_name="address")
    agents = _active_agents(arrivals, hints, senders)
    authorship = [judge(arrival, _answers_ours(hint, found), agents)
                  for arrival, hint in zip(arrivals, hints, strict=True)]
    for arrival, decided in zip(arrivals, authorship, strict=True):
        if decided.author is not None:
            log.info("queue=%s agent=%s proof=%r", arrival.queue_id,
                     decided.author.get_username(), decided.proof)
        elif decided.refused:
            log.warning("queue=%s sender=<%s> agent-answer=refused reason=%r", arrival.queue_id,
                        arrival.mail.sender, decided.refused)
    return Prefetched(seen, hints, found, contacts, authorship)


def _answers_ours(hint: ThreadHint, found: dict[str, Case | Lead]) -> bool:
    """Whether the message answers a signed Message-ID of a conversation that exists."""
    return hint.signed is not None and f"{hint.signed[0]}{hint.signed[1]}" in found


def _active_agents(arrivals: list[DeskArrival], hints: list[ThreadHint], senders: list[str]
                   ) -> ActiveAgents:
    """The agents an arrival may be the answer of: its sender, or its reply address's."""
    reply_ids = {agent_of_reply_address(a.original_recipient) for a in arrivals} - {None}
    if not reply_ids and not any(h.signed for h in hints):
        return ActiveAgents()
    agents = Agent.objects.filter(user__is_active=True).filter(
        Q(user__email__in=senders) | Q(pk__in=reply_ids)).select_related("user")
    return ActiveAgents({a.user.email.lower(): a for a in agents}, {a.pk: a for a in agents})


def _kept_attachments(mail: ParsedMail) -> list[tuple[AttachmentInfo, bool]]:
    """Each attachment and whether its bytes are kept; over a limit only its metadata is
    (``CASEGATE_ATTACHMENT_MAX_FILE`` and ``CASEGATE_ATTACHMENT_MAX_MESSAGE``)."""
    config = get_config()
    per_file, per_message = config.attachment_max_file, config.attachment_max_message
    kept, total = [], 0
    for info in mail.attachments:
        if info.size > per_file:
            info.problem = info.problem or f"larger than the {per_file}-byte limit per file"
            kept.append((info, False))
        elif total + info.size > per_message:
            info.problem = info.problem or f"over the {per_message}-byte limit per message"
            kept.append((info, False))
        else:
            total += info.size
            kept.append((info, True))
    return kept


def store_contents(arrivals: list[DeskArrival]) -> None:
    """Write the raw messages and attachments of a batch (idempotent: known blobs are skipped).

    Run before the filing transaction to keep file writes out of it; filing runs it again
    and finds everything stored.
    """
    blobs.put_many(_contents(arrivals, [_kept_attachments(a.mail) for a in arrivals]))


def _contents(arrivals: list[DeskArrival],
              kept: list[list[tuple[AttachmentInfo, bool]]]) -> list[bytes]:
    """What a batch stores as blobs, in this order: the raw messages, then the kept files."""
    return ([a.raw for a in arrivals if a.raw]
            + [info.data for attachments in kept for info, keep in attachments if keep])


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
    hints = [hint_for(a.mail.in_reply_to, a.mail.references, a.mail.subject,
                      a.mail.reported_message_id) for a in arrivals]
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
    for case in Case.objects.filter(pk__in=case_ids).select_related("intake"):
        found[f"c{case.pk}"] = case
    for lead in Lead.objects.filter(pk__in=lead_ids).select_related("intake"):
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


def _direction(filed: Filed) -> str:
    if filed.author is None:
        return DeskMessage.INBOUND
    mail = filed.arrival.mail
    if mail.automated or mail.new_text.lstrip().lower().startswith("#note"):
        return DeskMessage.NOTE
    return DeskMessage.OUTBOUND


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
    for arrival, hint, authorship in zip(arrivals, hints, known.authorship, strict=True):
        # The same message again (a resend, or a copy by another route): stored once. A
        # Message-ID alone is not enough, some senders reuse theirs for different mail.
        repeat = (arrival.mail.message_id, arrival.mail.sender[:320], arrival.mail.subject)
        if arrival.mail.message_id and repeat in seen:
            filed.append(Filed(arrival, None, False, None))
            continue
        if arrival.mail.message_id:
            seen.add(repeat)
        conversation = _thread_of(arrival, hint, found)
        if arrival.intake is None:
            if conversation is None:
                raise DeskError(f"queue {arrival.queue_id} to {arrival.original_recipient}"
                                " answers none of our conversations")
            arrival.intake = conversation.intake
        author = authorship.author
        follows = None
        if author is not None:
            pass  # an agent's answer leaves the status to the agent
        elif isinstance(conversation, Case) and conversation.status == "closed":
            conversation, follows = None, conversation
        elif (isinstance(conversation, Case) and conversation.status in ("solved", "pending")
              and not arrival.mail.automated):
            events.append(_record(conversation, "status", conversation.status, "open",
                                  arrival.mail.sender))
            conversation.status = "open"
            conversation.updated_at = now
            conversation.save(update_fields=["status", "updated_at"])
        created = conversation is None
        if created:
            conversation = _new_conversation(arrival, contacts, follows, now)
            if arrival.mail.message_id:
                found[arrival.mail.message_id] = conversation
        filed.append(Filed(arrival, conversation, created, None, author, authorship.refused))
    new_cases = [f.conversation for f in filed if f.created and isinstance(f.conversation, Case)]
    new_leads = [f.conversation for f in filed if f.created and isinstance(f.conversation, Lead)]
    Case.objects.bulk_create(new_cases)
    Lead.objects.bulk_create(new_leads)
    _store_messages([f for f in filed if f.conversation is not None], now)
    CaseEvent.objects.bulk_create(events)
    return filed


def _new_conversation(arrival: DeskArrival, contacts: dict[str, Contact], follows: Case | None,
                      now: datetime) -> Case | Lead:
    common: dict[str, Any] = {
        "intake": arrival.intake,
        "contact": contacts.get(arrival.mail.sender),
        "subject": arrival.mail.subject,
        "requester": arrival.mail.sender[:320],
        "requester_name": arrival.mail.sender_name[:200],
        "original_recipient": arrival.original_recipient,
        "message_id": arrival.mail.message_id,
        "created_at": now,
        "received_at": arrival.received_at,
    }
    if arrival.kind == Intake.LEAD:
        return Lead(**common)
    hours = arrival.intake.first_response_hours
    return Case(**common, follows=follows, team=arrival.intake.team,
                first_response_due_at=now + timedelta(hours=hours) if hours else None)


def _store_messages(filed: list[Filed], now: datetime) -> None:
    """The desk messages of filed arrivals, with their raw bytes and attachments."""
    kept = [_kept_attachments(f.arrival.mail) for f in filed]
    digests = iter(blobs.put_many(_contents([f.arrival for f in filed], kept)))
    raws = {id(f): next(digests) for f in filed if f.arrival.raw}
    for item in filed:
        mail = item.arrival.mail
        link = "lead" if isinstance(item.conversation, Lead) else "case"
        item.message = DeskMessage(
            **{link: item.conversation},
            direction=_direction(item),
            author=item.author,
            queue_id=item.arrival.queue_id,
            message_id=mail.message_id,
            in_reply_to=mail.in_reply_to,
            references=" ".join(mail.references),
            cc="\n".join(mail.cc),
            automated=mail.automated[:100],
            subject=mail.subject,
            sender=mail.sender[:320],
            sender_name=mail.sender_name[:200],
            text=mail.text,
            new_text=mail.new_text,
            html=mail.html,
            parse_problems="\n".join([*mail.problems, item.unproven] if item.unproven
                                      else mail.problems),
            raw_id=raws.get(id(item)),
            created_at=now,
        )
    DeskMessage.objects.bulk_create([f.message for f in filed])
    Attachment.objects.bulk_create([
        Attachment(message=f.message, filename=info.filename, content_type=info.content_type,
                   size=info.size, content_id=info.content_id, inline=info.inline,
                   container=info.container, problem=info.problem,
                   blob_id=next(digests) if keep else None)
        for f, attachments in zip(filed, kept, strict=True)
        for info, keep in attachments
    ])


CASE_FIELDS = ("status", "priority", "assignee", "team", "tags", "first_response_due_at")


def _display(field_name: str, value: Any) -> str:
    if value is None:
        return ""
    if field_name == "assignee":
        return value.get_username()
    if field_name == "tags":
        return ", ".join(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _checked(field_name: str, value: Any) -> Any:
    if field_name == "status":
        if value not in CaseStatus.values:
            raise DeskError(f"the status of a case is one of {', '.join(CaseStatus.values)}")
    elif field_name == "priority" and value not in Priority.values:
        raise DeskError(f"the priority of a case is one of {', '.join(Priority.values)}")
    elif field_name == "assignee" and value is not None and not isinstance(value, get_user_model()):
        user = get_user_model().objects.filter(username=value, is_active=True).first()
        if user is None:
            raise DeskError(f"there is no active user {value!r} to assign")
        return user
    elif field_name == "tags":
        tags = sorted({str(t).strip().lower() for t in value if str(t).strip()})
        if any(len(t) > 50 or "," in t for t in tags):
            raise DeskError("a tag is at most 50 characters, without commas")
        return tags
    elif field_name == "team":
        return str(value or "").strip()[:100]
    elif field_name == "first_response_due_at" and value is not None and (
            not isinstance(value, datetime) or value.tzinfo is None):
        raise DeskError("the first-response due time needs a date, a time and a time zone")
    return value


@transaction.atomic
def update_case(case_id: int, actor: str, **changes: Any) -> Case:
    """Change a case's fields (status, priority, assignee, team, tags, SLA due time).

    Each change that alters a value is recorded in the case's history with who made it.
    ``assignee`` is a user or a username (None unassigns).
    """
    unknown = set(changes) - set(CASE_FIELDS)
    if unknown:
        raise DeskError(f"a case has no field {', '.join(sorted(unknown))}")
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise DeskError(f"there is no case {case_id}")
    now = timezone.now()
    events = []
    for field_name, value in changes.items():
        value = _checked(field_name, value)
        before = getattr(case, field_name)
        if _display(field_name, before) == _display(field_name, value):
            continue
        events.append(_record(case, field_name, _display(field_name, before),
                              _display(field_name, value), actor))
        setattr(case, field_name, value)
    if events:
        case.updated_at = now
        case.save()
        CaseEvent.objects.bulk_create(events)
    return case


@transaction.atomic
def set_status(kind: str, conversation_id: int, status: str, actor: str = "") -> Case | Lead:
    if kind != IntakeKind.LEAD:
        return update_case(conversation_id, actor, status=status)
    lead = Lead.objects.select_for_update().filter(pk=conversation_id).first()
    if lead is None:
        raise DeskError(f"there is no lead {conversation_id}")
    if status not in LeadStatus.values:
        raise DeskError(f"the status of a lead is one of {', '.join(LeadStatus.values)}")
    lead.status = status
    lead.save(update_fields=["status"])
    return lead


@transaction.atomic
def convert_lead(lead_id: int, actor: str) -> Lead:
    """Mark a lead converted, making sure its contact and company exist and link back."""
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise DeskError(f"there is no lead {lead_id}")
    if lead.status in FINISHED_LEAD_STATUSES:
        raise DeskError(f"lead {lead_id} is {lead.status} already")
    if lead.contact is None:
        domain = lead.requester.rpartition("@")[2]
        company = None
        if domain and domain not in FREE_MAIL:
            company, _ = Company.objects.get_or_create(domain=domain, defaults={"name": domain})
        lead.contact, _ = Contact.objects.get_or_create(
            address=lead.requester, defaults={"name": lead.requester_name, "company": company})
    lead.status = LeadStatus.CONVERTED
    lead.converted_at = timezone.now()
    lead.converted_by = actor
    lead.save()
    return lead


def conversation_detail(kind: str, conversation_id: int) -> dict[str, Any] | None:
    """A case or lead with its thread: each message's text, sanitized HTML and attachments."""
    model = Lead if kind == IntakeKind.LEAD else Case
    conversation = (model.objects.select_related("intake", "contact")
                    .filter(pk=conversation_id).first())
    if conversation is None:
        return None
    detail = conversation_as_dict(conversation)
    detail["contact"] = conversation.contact.address if conversation.contact else None
    detail["contact_id"] = conversation.contact_id
    if isinstance(conversation, Case):
        detail["follows"] = conversation.follows_id
        detail["history"] = [
            {"field": e.field, "before": e.before, "after": e.after, "actor": e.actor,
             "at": e.at.isoformat()} for e in conversation.history.all()]
        detail["other_cases"] = list(
            Case.objects.filter(requester=conversation.requester).exclude(pk=conversation.pk)
            .order_by("-id").values_list("pk", flat=True)[:50]) if conversation.requester else []
    else:
        detail["converted_by"] = conversation.converted_by or None
        detail["converted_at"] = _iso(conversation.converted_at)
    messages = list(conversation.messages.select_related("author")
                    .prefetch_related("attachments"))
    detail["messages"] = [message_as_dict(m, states) for m, states in
                          zip(messages, delivery_states(messages), strict=True)]
    return detail


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def delivery_states(messages: list[DeskMessage]) -> list[str]:
    """Where each outbound message's delivery stands: from the queue, or a report about it."""
    queue_ids = [m.queue_id for m in messages if m.direction == Direction.OUTBOUND and m.queue_id]
    states: dict[str, set[str]] = {}
    for queue_id, state in Delivery.objects.filter(message_id__in=queue_ids).values_list(
            "message_id", "state"):
        states.setdefault(queue_id, set()).add(state)
    result = []
    for m in messages:
        if m.direction != Direction.OUTBOUND or m.delivery_status == ReplyDelivery.FAILED:
            result.append(m.delivery_status)
        elif states.get(m.queue_id, set()) & set(FINAL_FAILURES):
            result.append(ReplyDelivery.FAILED)
        elif states.get(m.queue_id) == {DeliveryState.DELIVERED}:
            result.append(ReplyDelivery.DELIVERED)
        else:
            result.append(m.delivery_status)
    return result


def message_as_dict(m: DeskMessage, delivery_status: str = "") -> dict[str, Any]:
    return {
        "id": m.pk,
        "direction": m.direction,
        "message_id": m.message_id,
        "in_reply_to": m.in_reply_to,
        "automated": m.automated or None,
        "subject": m.subject,
        "sender": m.sender,
        "sender_name": m.sender_name,
        "author": m.author.get_username() if m.author else None,
        "recipients": m.recipients.split(),
        "cc": m.cc.split(),
        "delivery_status": delivery_status or m.delivery_status or None,
        "text": m.text,
        "new_text": m.new_text,
        "html": m.html,
        "raw_sha256": m.raw_id,
        "parse_problems": m.parse_problems.splitlines(),
        "created_at": m.created_at.isoformat(),
        "attachments": [attachment_as_dict(a) for a in m.attachments.all()],
    }


def attachment_as_dict(a: Attachment) -> dict[str, Any]:
    return {"id": a.pk, "filename": a.filename, "content_type": a.content_type, "size": a.size,
            "content_id": a.content_id, "inline": a.inline, "container": a.container or None,
            "problem": a.problem or None, "sha256": a.blob_id, "stored": a.blob_id is not None}


def conversation_as_dict(conversation: Case | Lead) -> dict[str, Any]:
    common = {
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
    if isinstance(conversation, Case):
        common.update({
            "priority": conversation.priority,
            "assignee": conversation.assignee.get_username() if conversation.assignee else None,
            "team": conversation.team or None,
            "tags": conversation.tags,
            "first_response_due_at": _iso(conversation.first_response_due_at),
            "first_responded_at": _iso(conversation.first_responded_at),
            "updated_at": _iso(conversation.updated_at),
        })
    return common

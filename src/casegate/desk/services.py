"""Desk administration: intakes and agents, and the changes made to cases and leads."""

from __future__ import annotations

import secrets
import string
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from casegate.access import AGENT
from casegate.config import get_config
from casegate.desk.automation.engine import run_after_change
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.changes import CASE_FIELDS, DeskError, change_fields
from casegate.desk.models import Agent, Case, CaseEvent, Company, Contact, Intake, Lead
from casegate.desk.signatures import checked_signature
from casegate.desk.sla.policies import add_policy, intake_policy
from casegate.desk.vocabulary import FINISHED_LEAD_STATUSES, IntakeKind, LeadStatus
from casegate.directory.addresses import InvalidAddress, normalize_address, normalize_domain
from casegate.directory.claims import owner_of, owner_of_tagged

_ALPHABET = string.ascii_lowercase + string.digits


def random_intake_address(kind: str, domain: str) -> str:
    """``support@v1su0245ewejzhe7.case.<domain>``, like the CRMs in the article generate."""
    token = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    local = "support" if kind == Intake.CASE else "sales"
    return f"{local}@{token}.{kind}.{domain}"


@transaction.atomic
def add_intake(kind: str, address: str | None = None, name: str = "",
               domain: str | None = None, acknowledge: bool = False,
               reply_from: str = "", team: str = "", first_response_hours: int = 0,
               survey: bool = False, signature: str = "") -> Intake:
    """A new intake; ``first_response_hours`` adds an SLA policy for its cases (last in
    order, around the clock)."""
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
    if (tagging := owner_of_tagged(normalized, get_config().recipient_delimiter)) is not None:
        raise DeskError(f"a tagged form of {normalized} is {tagging}; remove the rule first")
    if first_response_hours < 0:
        raise DeskError("the first-response time is a number of hours, 0 or more")
    intake = Intake.objects.create(address=normalized, kind=kind, name=name,
                                   acknowledge=acknowledge, reply_from=reply_from,
                                   team=team.strip()[:100], survey=survey,
                                   signature=checked_signature(signature))
    if first_response_hours and kind == Intake.CASE:
        add_policy(intake_policy(normalized, first_response_hours))
    return intake


@transaction.atomic
def configure_intake(intake: Intake, survey: bool | None = None, signature: str | None = None
                     ) -> Intake:
    """Turn the intake's satisfaction survey on or off, set its signature (None: as it is)."""
    if survey is not None:
        intake.survey = survey
    if signature is not None:
        intake.signature = checked_signature(signature)
    intake.save(update_fields=["survey", "signature"])
    return intake


def intake_as_dict(intake: Intake) -> dict[str, Any]:
    """An intake's settings, with the texts it words itself."""
    return {"id": intake.pk, "address": intake.address, "kind": intake.kind,
            "name": intake.name, "team": intake.team or None,
            "acknowledge": intake.acknowledge, "survey": intake.survey,
            "signature": intake.signature,
            "texts": [{"kind": t.kind, "language": t.language, "subject": t.subject,
                       "body": t.body} for t in intake.texts.all()]}


@transaction.atomic
def add_agent(email: str, name: str = "", username: str | None = None,
              teams: list[str] | None = None, notify: bool = True, signature: str = ""
              ) -> Agent:
    """A user who works cases; mail from ``email`` answering a notification is their reply.
    ``signature``: added to their replies (and ``{{agent.signature}}`` in macros')."""
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
                             "notify": notify, "signature": checked_signature(signature)})
    user.groups.add(Group.objects.get_or_create(name=AGENT)[0])  # the console role as well
    return agent


# Domains of many unrelated people: a contact there belongs to no company.
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "hotmail.com", "outlook.com",
    "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "gmx.com", "gmx.de",
    "gmx.net", "web.de", "mail.ru", "yandex.ru", "yandex.com", "proton.me", "protonmail.com",
    "qq.com", "163.com", "126.com", "zoho.com", "fastmail.com", "hey.com", "mail.com",
})


@transaction.atomic
def update_case(case_id: int, actor: str, **changes: Any) -> Case:
    """Change a case's fields (status, priority, assignee, team, tags, SLA due time).

    Each change that alters a value is recorded in the case's history with who made it,
    and runs the triggers listening to field changes. ``assignee`` is a user or a username
    (None unassigns).
    """
    case = Case.objects.select_for_update().select_related("intake").filter(pk=case_id).first()
    if case is None:
        raise DeskError(f"there is no case {case_id}")
    if case.merged_into_id and changes.get("status", case.status) != case.status:
        # Its messages are on the other case: opened again, it would sit empty in the queue.
        raise DeskError(f"CG-{case.pk} was merged into CG-{case.merged_into_id}; unmerge it"
                        " to open it again")
    events = change_fields(case, actor, changes)
    if events:
        case.save()
        CaseEvent.objects.bulk_create(events)
        run_after_change(case, TriggerEvent.FIELD_CHANGED,
                         changed=frozenset(e.field for e in events) & frozenset(CASE_FIELDS))
    return case


MAX_BULK = 500  # cases changed in one action


@transaction.atomic
def update_cases(case_ids: list[int], actor: str, add_tags: list[str] | None = None,
                 **changes: Any) -> list[Case]:
    """The same changes to many cases at once, all or none; each case's history records
    its own changes (see :func:`update_case`). ``add_tags`` go beside each case's own."""
    case_ids = list(dict.fromkeys(case_ids))
    if not case_ids or len(case_ids) > MAX_BULK:
        raise DeskError(f"choose between 1 and {MAX_BULK} cases")
    tags = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "tags")) if add_tags \
        else {}
    return [update_case(case_id, actor, **changes,
                        **({"tags": [*tags.get(case_id, []), *add_tags]} if add_tags else {}))
            for case_id in case_ids]


@transaction.atomic
def set_status(kind: str, conversation_id: int, status: str, actor: str = "") -> Case | Lead:
    if kind != IntakeKind.LEAD:
        return update_case(conversation_id, actor, status=status)
    lead = Lead.objects.select_for_update().filter(pk=conversation_id).first()
    if lead is None:
        raise DeskError(f"there is no lead {conversation_id}")
    if status not in LeadStatus.values:
        raise DeskError(f"the status of a lead is one of {', '.join(LeadStatus.values)}")
    if status == lead.status:
        return lead
    if lead.status == LeadStatus.CONVERTED:
        raise DeskError(f"lead {conversation_id} is converted; a converted lead stays so")
    if status == LeadStatus.CONVERTED:  # recorded with who converted it and when
        return convert_lead(conversation_id, actor)
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

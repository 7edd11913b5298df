"""The audit log (django-auditlog): every change to rules, directory, transports, keys,
roles, intakes (their texts too) and the senders they block, agents, API tokens, triggers,
automations, macros, webhooks (never their secrets), SLA calendars and policies, case state
(naming the trigger, automation or macro that made a change) and decisions on suspended
mail, with who, when, from where, and the values before and after;
and each sign-in or password reset limit reached (see :mod:`casegate.console.throttle`).

Console requests record the signed-in user and their address (auditlog's middleware);
``casegate`` commands record ``cli:<login name>`` as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.db.models import Q

from casegate.delivery.models import SigningKey, Transport
from casegate.desk.models import (
    Agent,
    Automation,
    BlockedSender,
    Case,
    Intake,
    IntakeText,
    Lead,
    Macro,
    SlaCalendar,
    SlaPolicy,
    SuspendedMessage,
    Trigger,
    Webhook,
)
from casegate.directory.models import Account, Domain, Group, GroupMember
from casegate.routing.models import Rule
from casegate.spool.models import Quarantine


def register_audited_models() -> None:
    """The API registers its tokens itself (``api/apps.py``)."""
    for model in (Rule, Domain, Account, Group, GroupMember, Transport, Intake, IntakeText,
                  Agent, BlockedSender, Trigger, Automation, Macro, SlaCalendar, SlaPolicy):
        auditlog.register(model)
    auditlog.register(SigningKey, exclude_fields=["private_key"])
    auditlog.register(Webhook, include_fields=["name", "url", "events"])  # never the secret
    auditlog.register(Case, include_fields=["status", "priority", "assignee", "team", "tags",
                                            "first_response_due_at", "merged_into",
                                            "sla_policy"])
    auditlog.register(Lead, include_fields=["status", "converted_by"])
    auditlog.register(Quarantine, include_fields=["state"])
    auditlog.register(SuspendedMessage, include_fields=["state"])
    auditlog.register(get_user_model(), include_fields=["username", "email", "is_active",
                                                        "is_superuser"],
                      m2m_fields={"groups"})


AUDITED_KINDS = ("rule", "domain", "account", "group", "groupmember", "transport", "intake",
                 "ruleversion", "agent", "blockedsender", "signingkey", "apitoken", "case", "lead",
                 "quarantine", "suspendedmessage", "user", "throttle", "trigger", "macro",
                 "automation", "webhook", "slacalendar", "slapolicy", "intaketext")


@dataclass(frozen=True)
class AuditFilter:
    text: str = ""
    actor: str = ""
    kind: str = ""
    since: datetime | None = None
    until: datetime | None = None


def search(wanted: AuditFilter, limit: int = 200) -> list[dict[str, Any]]:
    """Entries matching every filter, newest first."""
    found = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp")
    if wanted.text:
        found = found.filter(Q(object_repr__icontains=wanted.text)
                             | Q(changes_text__icontains=wanted.text))
    if wanted.actor:
        found = found.filter(Q(actor__username__icontains=wanted.actor)
                             | Q(actor_email__icontains=wanted.actor)
                             | Q(additional_data__by__icontains=wanted.actor))
    if wanted.kind:
        found = found.filter(content_type__model=wanted.kind.lower())
    if wanted.since:
        found = found.filter(timestamp__gte=wanted.since)
    if wanted.until:
        found = found.filter(timestamp__lte=wanted.until)
    return [{
        "at": entry.timestamp,
        "actor": ", ".join(filter(None, [
            entry.actor.get_username() if entry.actor else (entry.actor_email or ""),
            (entry.additional_data or {}).get("by", "")])),
        "from": entry.remote_addr or "",
        "action": entry.get_action_display(),
        "kind": entry.content_type.model,
        "object": entry.object_repr,
        "changes": entry.changes or {},
    } for entry in found[:limit]]

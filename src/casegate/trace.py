"""The message trace: find messages like a mail log search, and tell one message's hops.

Each hop has a time: received (client, HELO, size), classified (the spam classifier's
action, score and symbols, or why the message was not scanned), routed (per
final recipient, the rules that applied) or quarantined, every delivery attempt with the
remote reply, operator actions, and the case or lead the desk filed it on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from casegate.desk.models import DeskMessage
from casegate.filtering.reports import describe
from casegate.spool.models import Delivery, Message, Quarantine
from casegate.spool.vocabulary import DeliveryState

_WHOLE_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_WHOLE_MESSAGE_ID = re.compile(r"<?[^<>\s@]+@[^<>\s@]+>?")
# What a search can ask for: a delivery state an operator acts on, or held in quarantine.
STATUSES = (*(state.value for state in DeliveryState
              if state not in (DeliveryState.INFLIGHT, DeliveryState.DELETED)), "quarantined")


@dataclass(frozen=True)
class TraceFilter:
    message_id: str = ""
    sender: str = ""
    recipient: str = ""
    status: str = ""
    since: datetime | None = None
    until: datetime | None = None


def find_messages(wanted: TraceFilter, limit: int = 100) -> list[dict[str, Any]]:
    """Messages matching every given filter, newest first, each with its delivery summary."""
    found: QuerySet[Message] = Message.objects.defer("raw").order_by("-received_at")
    if wanted.message_id:
        term = wanted.message_id.strip()
        if _WHOLE_MESSAGE_ID.fullmatch(term):  # the indexed column, not a scan
            term = term if term.startswith("<") else f"<{term}>"
            found = found.filter(Q(message_id=term) | Q(queue_id=term.strip("<>").upper()))
        else:
            found = found.filter(Q(message_id__icontains=term) | Q(queue_id=term.upper()))
    if wanted.sender:
        found = found.filter(mail_from__icontains=wanted.sender.strip())
    if wanted.recipient:
        found = _for_recipient(found, wanted.recipient.strip(), limit)
    if wanted.since:
        found = found.filter(received_at__gte=wanted.since)
    if wanted.until:
        found = found.filter(received_at__lte=wanted.until)
    if wanted.status == "quarantined":
        found = found.filter(quarantined__state=Quarantine.HELD).distinct()
    elif wanted.status == DeliveryState.PENDING:
        found = found.filter(
            deliveries__state__in=[DeliveryState.PENDING, DeliveryState.INFLIGHT]).distinct()
    elif wanted.status:
        found = found.filter(deliveries__state=wanted.status).distinct()
    messages = list(found[:limit])
    states: dict[str, list[str]] = {}
    for queue_id, state in Delivery.objects.filter(
            message_id__in=[m.queue_id for m in messages]).values_list("message_id", "state"):
        states.setdefault(queue_id, []).append(state)
    held = set(Quarantine.objects.filter(message_id__in=[m.queue_id for m in messages],
                                         state=Quarantine.HELD)
               .values_list("message_id", flat=True))
    return [{"queue_id": m.queue_id, "received_at": m.received_at, "mail_from": m.mail_from,
             "rcpt_tos": m.rcpt_tos, "message_id": m.message_id, "spam": m.spam,
             "status": _summary(states.get(m.queue_id, []), m.queue_id in held)}
            for m in messages]


def _for_recipient(found: QuerySet[Message], term: str, limit: int) -> QuerySet[Message]:
    """Messages for a recipient: a whole address through the indexes, newest first; part
    of one by a substring match."""
    if _WHOLE_ADDRESS.fullmatch(term):
        term = term.lower()
        newest = set()
        for column in ("recipient", "original_recipient"):
            newest |= set(Delivery.objects.filter(**{column: term}).order_by("-created_at")
                          .values_list("message_id", flat=True)[:limit])
        newest |= set(Quarantine.objects.filter(recipient=term).order_by("-created_at")
                      .values_list("message_id", flat=True)[:limit])
        return found.filter(queue_id__in=newest)
    return found.filter(Q(deliveries__recipient__icontains=term)
                        | Q(deliveries__original_recipient__icontains=term)
                        | Q(quarantined__recipient__icontains=term)).distinct()


def _summary(states: list[str], quarantined: bool) -> str:
    parts = [f"{states.count(s)} {s}" for s in dict.fromkeys(states)]
    if quarantined:
        parts.append("quarantined")
    return ", ".join(parts) or "no deliveries"


def _classified(message: Message) -> str:
    """The classifier's verdict: its report (action, score, symbols) when it left one."""
    if message.spam_report:
        return describe(message.spam_report)
    return f"spam: {message.spam_reason}" if message.spam else "not spam"


def message_hops(queue_id: str) -> dict[str, Any] | None:
    """One message and each hop it took, in time order."""
    message = Message.objects.defer("raw").filter(queue_id=queue_id).first()
    if message is None:
        return None
    hops: list[dict[str, Any]] = [
        {"at": message.received_at, "hop": "received",
         "detail": f"from <{message.mail_from}> by {message.helo or '?'} [{message.peer}], "
                   f"{message.size} bytes, for {', '.join(message.rcpt_tos)}"},
        {"at": message.received_at, "hop": "classified", "detail": _classified(message),
         "report": message.spam_report or None},
    ]
    deliveries = list(Delivery.objects.filter(message_id=queue_id)
                      .prefetch_related("attempt_log", "actions").order_by("id"))
    for delivery in deliveries:
        rules = ", ".join(f"#{r}" for r in delivery.rules)
        routed = f"by rule {rules}" if rules else "to a recognized address"
        hops.append({"at": delivery.created_at, "hop": "routed",
                     "detail": f"{delivery.original_recipient} {routed} -> "
                               f"{delivery.recipient} ({delivery.kind})"})
        hops += [{"at": a.started_at, "hop": f"delivery attempt ({a.outcome})",
                  "detail": f"{delivery.recipient} via {a.host}: {a.reply}"[:1000]}
                 for a in delivery.attempt_log.all()]
        hops += [{"at": a.at, "hop": f"operator {a.action}",
                  "detail": f"{delivery.recipient} by {a.actor}: {a.reason}"}
                 for a in delivery.actions.all()]
    hops += [{"at": q.created_at, "hop": "quarantined", "detail": f"{q.recipient}: {q.reason} "
              f"({q.state})"} for q in Quarantine.objects.filter(message_id=queue_id)]
    for filed in DeskMessage.objects.filter(queue_id=queue_id):
        where = f"case {filed.case_id}" if filed.case_id else f"lead {filed.lead_id}"
        hops.append({"at": filed.created_at, "hop": "filed at the desk", "detail": where,
                     "case": filed.case_id, "lead": filed.lead_id})
    hops.sort(key=lambda hop: hop["at"])
    return {"queue_id": message.queue_id, "message_id": message.message_id,
            "mail_from": message.mail_from, "received_at": message.received_at,
            "deliveries": deliveries, "hops": hops}

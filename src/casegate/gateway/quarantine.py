"""Held mail: finding it, and releasing it into normal routing or deleting it, one entry or
many."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from casegate.desk.onward import desk_only, is_agent_answer
from casegate.errors import CasegateError
from casegate.filtering.auth_results import result_text, verdicts
from casegate.filtering.learning import teach
from casegate.filtering.phishing import phishing_reason
from casegate.filtering.reports import spam_status_headers
from casegate.gateway.admission import route
from casegate.mail.headers import HeaderFields
from casegate.routing.engine import RoutingTable, Verdict
from casegate.routing.snapshot import load_table
from casegate.spool.messages import wake_workers
from casegate.spool.models import Delivery, Message, Quarantine
from casegate.spool.vocabulary import BULK_LIMIT, QuarantineDecision

_CHUNK = 200  # entries decided in one transaction


class QuarantineError(CasegateError):
    """A quarantine action was refused."""


def quarantine_as_dict(entry: Quarantine) -> dict[str, Any]:
    message = entry.message
    return {
        "id": entry.pk,
        "queue_id": message.queue_id,
        "recipient": entry.recipient,
        "sender": message.mail_from,
        "from_header": message.from_header,
        "message_id": message.message_id,
        "subject": message.subject,
        "reason": entry.reason,
        "spam_reason": message.spam_reason,
        "auth_results": message.auth_results,
        "authentication": verdicts(message.auth_results),
        "spam": message.spam_report or None,
        "state": entry.state,
        "created_at": entry.created_at.isoformat(),
    }


def _held(entry_id: int) -> Quarantine:
    entry = Quarantine.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise QuarantineError(
            f"there is no quarantine entry #{entry_id}; see: casegate quarantine list"
        )
    if entry.state != Quarantine.HELD:
        raise QuarantineError(f"quarantine entry #{entry_id} was {entry.state} already")
    return entry


@transaction.atomic
def delete(entry_id: int) -> Quarantine:
    """Drop held mail for good (the entry stays, marked deleted, for the trace)."""
    entry = _held(entry_id)
    entry.state = Quarantine.DELETED
    entry.decided_at = timezone.now()
    entry.save(update_fields=["state", "decided_at"])
    return entry


@dataclass(frozen=True)
class QuarantineFilter:
    """What a search of the quarantine asks for; every given filter must match."""

    text: str = ""  # in the subject, the envelope sender, the From header or the recipient
    reason: str = ""  # in the entry's reason or the classifier's
    dmarc: str = ""  # DMARC's result (DMARC_RESULTS)
    min_score: float | None = None  # the classifier's score, at least
    since: datetime | None = None
    until: datetime | None = None
    held_only: bool = True


def find(wanted: QuarantineFilter) -> QuerySet[Quarantine]:
    """The entries matching ``wanted``, newest first, with their messages but not their
    bytes: every filter is a column or a JSON key the database matches."""
    found = (Quarantine.objects.select_related("message").defer("message__raw")
             .order_by("-id"))
    if wanted.held_only:
        found = found.filter(state=Quarantine.HELD)
    if text := wanted.text.strip():
        found = found.filter(Q(message__subject__icontains=text)
                             | Q(message__mail_from__icontains=text)
                             | Q(message__from_header__icontains=text)
                             | Q(recipient__icontains=text))
    if reason := wanted.reason.strip():
        found = found.filter(Q(reason__icontains=reason)
                             | Q(message__spam_reason__icontains=reason))
    if wanted.dmarc:
        found = found.filter(message__auth_results__icontains=result_text("dmarc", wanted.dmarc))
    if wanted.min_score is not None:
        found = (found.filter(message__spam_report__score__gte=wanted.min_score)
                 .exclude(message__spam_report__score=None))  # a JSON null is text on SQLite
    if wanted.since:
        found = found.filter(created_at__gte=wanted.since)
    if wanted.until:
        found = found.filter(created_at__lte=wanted.until)
    return found


def matching_ids(wanted: QuarantineFilter) -> list[int]:
    """The held entries matching ``wanted``, newest first, at most :data:`BULK_LIMIT`."""
    held = find(replace(wanted, held_only=True))
    return list(held.values_list("id", flat=True)[:BULK_LIMIT])


@dataclass
class Decided:
    """What became of entries decided together."""

    done: dict[int, list[str]] = field(default_factory=dict)  # id: recipients released to
    refused: list[str] = field(default_factory=list)  # why, for each entry left as it was


def decide(decision: QuarantineDecision, entry_ids: Sequence[int]) -> Decided:
    """Release or delete each entry once (at most :data:`BULK_LIMIT`), as :func:`release` and
    :func:`delete` do one; an entry refused (decided already, no route now) is left as it
    was and the others go ahead."""
    table = load_table() if decision == QuarantineDecision.RELEASE else None
    outcome = Decided()
    entry_ids = list(dict.fromkeys(entry_ids))[:BULK_LIMIT]
    for start in range(0, len(entry_ids), _CHUNK):
        with transaction.atomic():  # each entry below is a savepoint within it
            for entry_id in entry_ids[start:start + _CHUNK]:
                try:
                    if table is None:
                        delete(entry_id)
                        outcome.done[entry_id] = []
                    else:
                        outcome.done[entry_id] = [d.recipient for d in release(entry_id, table)]
                except QuarantineError as exc:
                    outcome.refused.append(str(exc))
    return outcome


@transaction.atomic
def release(entry_id: int, table: RoutingTable | None = None) -> list[Delivery]:
    """Route the held recipient as if the message were not spam, and queue its deliveries
    (routed by ``table``, or the rules as they are now)."""
    # The message locked first, then the entry, as every release does: another entry of the
    # same message released at the same time must see this release's deliveries, or a
    # recipient both share would get two copies.
    message_id = Quarantine.objects.filter(pk=entry_id).values_list("message_id", flat=True)
    message = Message.objects.select_for_update().filter(pk__in=message_id).first()
    entry = _held(entry_id)
    assert message is not None
    if table is None:
        table = load_table()
    routing = route(entry.recipient, table, releasing=True, sender=message.mail_from)
    if routing.verdict is not Verdict.ACCEPT:
        raise QuarantineError(
            f"{entry.recipient} has no route now ({routing.reason}); add a rule, then release again"
        )
    now = timezone.now()
    headers = HeaderFields(bytes(message.raw))
    spam_headers = routing.edits.spam_headers
    edits = routing.edits.written(
        routing.recipient, message.spam, message.spam_reason,
        phishing_reason(headers) if spam_headers else "",
        spam_status_headers(message.spam_report, message.spam) if spam_headers else ())
    targets = (desk_only(routing.targets) if is_agent_answer(headers, message.mail_from, table)
               else routing.targets)
    already = set(Delivery.objects.filter(message_id=entry.message_id)
                  .values_list("recipient", "kind"))
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            message_id=entry.message_id,
            original_recipient=entry.recipient,
            recipient=target.address,
            kind=target.kind.value,
            intake_id=target.intake_id,
            relay=target.relay,
            rules=list(routing.rules),
            edits=edits.to_json(),
            notify=entry.notify,
            orcpt=entry.orcpt,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for target in targets
        if (target.address, target.kind.value) not in already  # no second copy to anyone
    )
    entry.state = Quarantine.RELEASED
    entry.decided_at = now
    entry.save(update_fields=["state", "decided_at"])
    if deliveries:
        wake_workers({d.kind for d in deliveries})
    if message.spam:  # a person says it is not: the filter learns, once the release stands
        raw = bytes(message.raw)
        transaction.on_commit(lambda: teach(raw, spam=False))
    return deliveries

"""Held mail: listing it, and releasing it into normal routing."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from casegate.desk.onward import desk_only, is_agent_answer
from casegate.errors import CasegateError
from casegate.filtering.learning import teach
from casegate.filtering.phishing import phishing_reason
from casegate.filtering.reports import spam_status_headers
from casegate.mail.headers import HeaderFields, decoded
from casegate.routing.engine import Verdict
from casegate.routing.snapshot import load_table
from casegate.spool.messages import wake_workers
from casegate.spool.models import Delivery, Quarantine


class QuarantineError(CasegateError):
    """A quarantine action was refused."""


def quarantine_as_dict(entry: Quarantine) -> dict[str, Any]:
    message = entry.message
    return {
        "id": entry.pk,
        "queue_id": message.queue_id,
        "recipient": entry.recipient,
        "sender": message.mail_from,
        "message_id": message.message_id,
        "subject": decoded(HeaderFields(bytes(message.raw)).get("Subject") or ""),
        "reason": entry.reason,
        "spam_reason": message.spam_reason,
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


@transaction.atomic
def release(entry_id: int) -> list[Delivery]:
    """Route the held recipient as if the message were not spam, and queue its deliveries."""
    entry = _held(entry_id)
    message = entry.message
    table = load_table()
    routing = table.route(entry.recipient, spam=False, releasing=True, sender=message.mail_from)
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
        wake_workers()
    if message.spam:  # a person says it is not: the filter learns, once the release stands
        raw = bytes(message.raw)
        transaction.on_commit(lambda: teach(raw, spam=False))
    return deliveries

"""Cases, leads and their messages as the dictionaries the CLI prints and the API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from casegate.desk.models import Attachment, Case, DeskMessage, Lead
from casegate.desk.ratings import satisfaction_of
from casegate.desk.sla import clocks
from casegate.desk.vocabulary import Direction, IntakeKind, ReplyDelivery
from casegate.spool.models import Delivery
from casegate.spool.vocabulary import FINAL_FAILURES, DeliveryState


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
        detail["merged_into"] = conversation.merged_into_id
        detail["satisfaction"] = satisfaction_of(conversation.pk)
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


def sla_as_dict(case: Case) -> dict[str, Any]:
    """The case's SLA clock: its policy, the earliest due time running, since when it stands
    still, the targets breached."""
    return {"policy": case.sla_policy.name if case.sla_policy_id and case.sla_policy else None,
            "due_at": _iso(case.sla_due_at), "paused_at": _iso(case.sla_paused_at),
            "breached": clocks.breached(case)}


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
            "next_response_due_at": _iso(conversation.next_response_due_at),
            "resolution_due_at": _iso(conversation.resolution_due_at),
            "sla": sla_as_dict(conversation),
            "updated_at": _iso(conversation.updated_at),
        })
    return common

"""New conversations: a case or a lead (by the intake's kind) for an arrival that answers
none, opened in turn and saved together."""

from __future__ import annotations

from typing import Any

from casegate.desk.arrivals import Filed
from casegate.desk.filing.batch import Batch
from casegate.desk.models import Case, Intake, Lead
from casegate.desk.threading import is_signed_test
from casegate.desk.verification import TEST_TAG


def open_conversation(batch: Batch, item: Filed) -> None:
    """A new case or lead for an arrival without a conversation; a later arrival of the
    batch that answers this one threads onto it."""
    if item.conversation is not None:
        return
    item.conversation, item.created = _new_conversation(batch, item), True
    if item.arrival.mail.message_id:
        batch.found[item.arrival.mail.message_id] = item.conversation


def _new_conversation(batch: Batch, item: Filed) -> Case | Lead:
    arrival = item.arrival
    assert arrival.intake is not None  # threading gave mail to a reply address its intake
    common: dict[str, Any] = {
        "intake": arrival.intake,
        "subject": arrival.mail.subject,
        "requester": arrival.mail.sender[:320],
        "requester_name": arrival.mail.sender_name[:200],
        "original_recipient": arrival.original_recipient,
        "message_id": arrival.mail.message_id,
        "created_at": arrival.filed_at(batch.now),
        "received_at": arrival.received_at,
    }
    if arrival.kind == Intake.LEAD:
        return Lead(**common)
    test = is_signed_test(arrival.mail.message_id)  # casegate verify's: nobody answers it
    return Case(**common, follows=item.follows, team=arrival.intake.team,
                tags=[TEST_TAG] if test else [])


def save_new_conversations(batch: Batch) -> None:
    """The batch's new cases and leads, in two queries."""
    created = [item.conversation for item in batch.filed if item.created]
    Case.objects.bulk_create([c for c in created if isinstance(c, Case)])
    Lead.objects.bulk_create([c for c in created if isinstance(c, Lead)])

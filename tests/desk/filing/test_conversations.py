"""New conversations: opened one arrival at a time, saved together."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casegate.desk.filing.conversations import open_conversation, save_new_conversations
from casegate.desk.filing.sla import start_clocks
from casegate.desk.models import Case, Intake, Lead
from casegate.desk.services import add_intake
from tests.desk.filing.batches import arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db


def test_an_arrival_without_a_conversation_opens_a_case_on_its_intakes_terms(
        db: None) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example", team="Tier 1", first_response_hours=4)
    closed = Case.objects.create(intake=intake, status="closed", created_at=intake.created_at,
                                 received_at=intake.created_at)
    batch = batch_of(arrival(intake, mail(subject="Panel dark", sender="Bo <bo@acme.example>",
                                          message_id="<new@acme.example>")[0]))
    item = batch.filed[0]
    item.follows = closed
    open_conversation(batch, item)
    case = item.conversation
    assert isinstance(case, Case) and item.created and case.pk is None
    assert (case.subject, case.requester, case.requester_name, case.team, case.follows) == (
        "Panel dark", "bo@acme.example", "Bo", "Tier 1", closed)
    assert batch.found["<new@acme.example>"] is case  # later arrivals can answer it

    start_clocks(batch)  # the intake's first-response hours are a policy of its own
    assert case.first_response_due_at - batch.now == timedelta(hours=4)
    assert [(e.field, e.after, e.actor) for e in batch.events] == [
        ("sla", "First response at help@desk.example",
         "sla:First response at help@desk.example")]
    save_new_conversations(batch)
    assert Case.objects.get(follows=closed).pk == case.pk


def test_a_lead_intake_opens_leads_and_a_threaded_arrival_opens_nothing(db: None) -> None:
    sales = add_intake(Intake.LEAD, "sales@desk.example")
    batch = batch_of(arrival(sales, mail()[0]), arrival(sales, mail()[0]))
    first, threaded = batch.filed
    open_conversation(batch, first)
    threaded.conversation = first.conversation
    open_conversation(batch, threaded)
    assert isinstance(first.conversation, Lead) and not threaded.created

    save_new_conversations(batch)
    assert Lead.objects.count() == 1 and not Case.objects.exists()

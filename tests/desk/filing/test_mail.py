"""The mail a filed batch sets off, and delivery reports marking our replies failed."""

from __future__ import annotations

import pytest

from casegate.desk.arrivals import Filed
from casegate.desk.filing.batch import Batch
from casegate.desk.filing.mail import (
    acknowledge,
    mark_failed_replies,
    notify,
    send_agent_replies,
)
from casegate.desk.filing.messages import store_messages
from casegate.desk.models import Case, DeskMessage, Intake
from casegate.desk.services import add_agent, add_intake
from casegate.desk.vocabulary import Direction
from tests.desk.filing.batches import arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db


def filed_on_new_case(intake: Intake, raw: bytes | None = None) -> tuple[Batch, Filed]:
    """A batch of one arrival that opened a case, its message stored."""
    batch = batch_of(arrival(intake, raw or mail(sender="bo@acme.example")[0]))
    item = batch.filed[0]
    item.conversation = Case.objects.create(
        intake=intake, requester="bo@acme.example", created_at=batch.now, received_at=batch.now)
    item.created = True
    return batch, item


def recipients(batch: Batch) -> list[list[str]]:
    return [sorted(d.recipient for d in m.deliveries) for m in batch.outgoing]


def test_a_new_case_is_acknowledged_when_its_intake_says_so(db: None) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example", acknowledge=True)
    batch, _ = filed_on_new_case(intake)
    acknowledge(batch)
    assert recipients(batch) == [["bo@acme.example"]]
    assert DeskMessage.objects.get().direction == Direction.AUTOMATIC

    quiet, _ = filed_on_new_case(add_intake(Intake.CASE, "quiet@desk.example"))
    acknowledge(quiet)
    assert not quiet.outgoing


def test_agents_are_notified_of_a_customers_message(intake: Intake) -> None:
    add_agent("ivy@agents.example", "Ivy Agent", "ivy")
    batch, _ = filed_on_new_case(intake)
    store_messages(batch)
    notify(batch)
    assert recipients(batch) == [["ivy@agents.example"]]


def test_an_agents_emailed_reply_is_mailed_to_the_customer(intake: Intake) -> None:
    ivy = add_agent("ivy@agents.example", "Ivy Agent", "ivy").user
    batch, item = filed_on_new_case(intake, mail(sender="ivy@agents.example",
                                                 body="A new panel is on its way.")[0])
    item.author, item.direction, item.created = ivy, DeskMessage.OUTBOUND, False
    store_messages(batch)
    send_agent_replies(batch)
    assert recipients(batch) == [["bo@acme.example"]]
    assert DeskMessage.objects.get().delivery_status == "queued"


def test_a_delivery_report_on_the_case_marks_our_reply_about_it_failed(intake: Intake) -> None:
    batch, item = filed_on_new_case(intake, mail(subject="Undeliverable")[0])
    reply = DeskMessage.objects.create(
        case=item.conversation, direction=DeskMessage.OUTBOUND, message_id="<reply@desk>",
        delivery_status="queued", created_at=batch.now)
    item.arrival.mail.reported_message_id = "<reply@desk>"
    store_messages(batch)
    mark_failed_replies(batch)
    reply.refresh_from_db()
    assert reply.delivery_status == "failed"
    assert reply.parse_problems == "a delivery report came back: Undeliverable"

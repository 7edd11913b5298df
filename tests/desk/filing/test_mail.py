"""The mail a filed batch sets off, and delivery reports marking our replies failed."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

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


def test_an_agents_inline_answers_and_files_reach_the_customer(intake: Intake) -> None:
    ivy = add_agent("ivy@agents.example", "Ivy Agent", "ivy").user
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ivy@agents.example", "help@desk.example", "Re: x"
    msg.set_content("Hi Bo,\n\nanswers inline below.\n\nOn Mon, 1 Jan 2024, Bo <bo@acme.example>"
                    " wrote:\n> What is the price?\nIt is 10 EUR.\n> When can it ship?\n"
                    "Tomorrow.\n")
    msg.add_attachment(b"%PDF-1.4 quote", maintype="application", subtype="pdf",
                       filename="quote.pdf")
    batch, item = filed_on_new_case(intake, msg.as_bytes())
    item.author, item.direction, item.created = ivy, DeskMessage.OUTBOUND, False
    store_messages(batch)
    send_agent_replies(batch)
    [sent] = batch.outgoing
    mailed = BytesParser(policy=policy.default).parsebytes(sent.raw)
    body = mailed.get_body(("plain",))
    assert body is not None
    assert "It is 10 EUR." in body.get_content() and "Tomorrow." in body.get_content()
    [quote] = mailed.iter_attachments()
    assert (quote.get_filename(), quote.get_content()) == ("quote.pdf", b"%PDF-1.4 quote")


def test_a_reply_never_goes_to_an_intake_that_became_a_requester(intake: Intake) -> None:
    ivy = add_agent("ivy@agents.example", "Ivy Agent", "ivy").user
    batch, item = filed_on_new_case(intake, mail(sender="ivy@agents.example", body="On it.")[0])
    assert item.conversation is not None
    item.conversation.requester = intake.address
    item.author, item.direction, item.created = ivy, DeskMessage.OUTBOUND, False
    store_messages(batch)
    send_agent_replies(batch)
    assert batch.outgoing == []
    assert DeskMessage.objects.get().delivery_status == "failed"


def test_a_signature_under_the_quote_is_no_inline_answer() -> None:
    from casegate.desk.replies import _answered_between_quotes

    assert _answered_between_quotes("Hi\n\nOn Mon, Bo wrote:\n> price?\n10 EUR.\n> when?\n")
    assert not _answered_between_quotes("On top.\n\nOn Mon, Bo wrote:\n> price?\n\n--\nIvy\n"
                                         "This e-mail is confidential.\n")
    assert not _answered_between_quotes("On top.\n> price?\nIvy Agent\nSupport\n")


def test_what_of_an_agents_mail_goes_along_to_the_customer() -> None:
    from casegate.desk.filing.mail import sent_along
    from casegate.desk.parsing import AttachmentInfo

    def file(**fields: Any) -> AttachmentInfo:
        return AttachmentInfo(**{"filename": "quote.pdf", "content_type": "application/pdf",
                                 "size": 3, "data": b"PDF", **fields})

    assert sent_along(file())
    assert sent_along(file(container="winmail.dat"))  # a file Outlook packed
    assert not sent_along(file(filename="body.txt", content_type="text/plain",
                               container="winmail.dat"))  # the reply itself, packed
    assert not sent_along(file(filename="winmail.dat", content_type="application/ms-tnef"))
    assert not sent_along(file(inline=True))
    assert not sent_along(file(problem="too large"))

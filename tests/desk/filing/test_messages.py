"""The stored messages of a batch, and the case history its steps recorded."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from casegate.desk import blobs
from casegate.desk.changes import case_event
from casegate.desk.filing.messages import record_history, store_contents, store_messages
from casegate.desk.models import Attachment, Blob, Case, CaseEvent, DeskMessage, Intake
from tests.desk.filing.batches import arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db


def new_case(intake: Intake) -> Case:
    return Case.objects.create(intake=intake, created_at=intake.created_at,
                               received_at=intake.created_at)


def with_attachment(content: bytes = b"log lines") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "ann@acme.example", "Logs", "<a@acme>"
    msg.set_content("see attached")
    msg.add_attachment(content, maintype="text", subtype="plain", filename="app.log")
    return msg.as_bytes()


def test_each_arrival_but_a_duplicate_is_stored_with_its_bytes_and_attachments(
        intake: Intake) -> None:
    raw = with_attachment()
    batch = batch_of(arrival(intake, raw), arrival(intake, mail()[0]))
    stored, duplicate = batch.filed
    stored.conversation, stored.unproven = new_case(intake), "sent as agent ivy but not proven"
    duplicate.duplicate = True
    store_messages(batch)
    message = DeskMessage.objects.get()
    assert stored.message == message and duplicate.message is None
    assert (message.case, message.subject, message.created_at) == (
        stored.conversation, "Logs", batch.now)
    assert blobs.read(message.raw) == raw
    assert message.parse_problems.endswith("sent as agent ivy but not proven")
    [attachment] = Attachment.objects.all()
    assert (attachment.filename, blobs.read(attachment.blob)) == ("app.log", b"log lines")


def test_contents_kept_in_files_are_stored_before_filing_and_found_again(
        intake: Intake) -> None:
    large = with_attachment(b"log lines\n" * blobs.INLINE_LIMIT)
    store_contents([arrival(intake, large), arrival(intake, with_attachment())])
    assert Blob.objects.filter(data=None).count() == Blob.objects.count() == 2
    batch = batch_of(arrival(intake, large))
    batch.filed[0].conversation = new_case(intake)
    store_messages(batch)
    assert Blob.objects.count() == 2


def test_the_history_the_steps_recorded_is_saved(intake: Intake) -> None:
    batch = batch_of()
    batch.events.append(case_event(new_case(intake), "status", "solved", "open", "bo@x"))
    record_history(batch)
    assert CaseEvent.objects.get().after == "open"

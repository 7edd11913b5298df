"""Console pages show a message with hostile headers instead of failing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from casegate.access import add_user
from casegate.desk.arrivals import DeskArrival
from casegate.desk.filing import file_batch
from casegate.desk.models import Case, Intake
from casegate.desk.parsing import parse_message
from casegate.desk.services import add_intake
from casegate.routing.snapshot import load_table
from casegate.spool.models import Message, Quarantine

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
CRLF_WORD = "=?utf-8?b?eA0KWTogeg==?="  # "x\r\nY: z"
POISON = (f"From: {CRLF_WORD} <p@example.net>\r\nCc: {CRLF_WORD} <c@example.net>\r\n"
          f"Subject: poisoned {CRLF_WORD}\r\nMessage-ID: <poison@example.net>\r\n\r\n"
          "the body\r\n").encode()


@pytest.fixture
def client(tmp_path, monkeypatch) -> Client:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CASEGATE_HOME", str(tmp_path))
    add_user("admin", "super administrator", PASSWORD, "admin@people.example")
    client = Client()
    assert client.login(username="admin", password=PASSWORD)
    return client


def stored(queue_id: str) -> Message:
    return Message.objects.create(queue_id=queue_id, mail_from="p@example.net",
                                  rcpt_tos=["held@solarmora.com"], received_at=timezone.now(),
                                  raw=POISON)


def test_a_held_message_with_an_encoded_line_break_in_its_address_opens(client: Client) -> None:
    entry = Quarantine.objects.create(message=stored("Q1"), recipient="held@solarmora.com",
                                      reason="held by rule #1", created_at=timezone.now())
    page = client.get(f"/console/quarantine/{entry.pk}/")
    assert page.status_code == 200
    assert b"poisoned x Y: z" in page.content and b"the body" in page.content


def test_the_case_and_the_trace_of_such_a_message_open(client: Client) -> None:
    stored("Q2")
    intake = add_intake(Intake.CASE, "help@desk.example")
    file_batch([DeskArrival(intake, "Q2", intake.address, timezone.now(),
                            parse_message(POISON), POISON, "p@example.net")],
               load_table(), "mx.desk.example")
    case = Case.objects.get()
    page = client.get(f"/console/cases/{case.pk}/")
    assert page.status_code == 200 and b"the body" in page.content
    assert client.get("/console/trace/Q2/").status_code == 200

"""The test message of ``casegate verify`` on the desk: a case tagged ``test``, removed with
what only it used, and nothing else removed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from casegate.desk.arrivals import DeskArrival
from casegate.desk.filing import file_batch
from casegate.desk.models import Blob, Case, Company, Contact, DeskMessage, Intake
from casegate.desk.services import add_intake
from casegate.desk.sla.policies import add_policy, intake_policy
from casegate.desk.threading import signed_test_message_id
from casegate.desk.verification import remove_test_conversations
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = pytest.mark.django_db


def queued(intake: Intake, queue_id: str, **fields: Any) -> DeskArrival:
    delivered = arrival(intake, mail(**fields)[0])
    delivered.queue_id = queue_id
    return delivered


def test_the_test_case_is_tagged_and_removed_with_what_only_it_used(
        home: Path, django_capture_on_commit_callbacks: Callable[..., Any]) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    add_policy(intake_policy(intake.address, 4))
    intake.refresh_from_db()
    test = queued(intake, "QTEST", sender="verify@gw.desk.example",
                  message_id=signed_test_message_id(HOSTNAME),
                  headers={"Auto-Submitted": "auto-generated"})
    customer = queued(intake, "QCUSTOMER", sender="dana@example.net")
    tested, asked = file_batch([test, customer], load_table(), HOSTNAME).filed
    assert isinstance(tested.conversation, Case) and isinstance(asked.conversation, Case)
    assert (tested.conversation.tags, tested.conversation.first_response_due_at) == (
        ["test"], None)
    assert asked.conversation.tags == [] and asked.conversation.first_response_due_at
    raw = DeskMessage.objects.get(queue_id="QTEST").raw_id
    assert raw is not None and Blob.objects.filter(sha256=raw).exists()

    assert remove_test_conversations("QCUSTOMER") == []  # not a test message: left alone
    with django_capture_on_commit_callbacks(execute=True):
        removed = remove_test_conversations("QTEST")
    assert removed == [f"case {tested.conversation.pk}"]
    assert list(Case.objects.values_list("pk", flat=True)) == [asked.conversation.pk]
    assert list(Contact.objects.values_list("address", flat=True)) == ["dana@example.net"]
    assert not Company.objects.filter(domain="gw.desk.example").exists()
    assert not Blob.objects.filter(sha256=raw).exists()
    assert remove_test_conversations("QTEST") == []

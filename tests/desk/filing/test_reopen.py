"""A customer's answer reopens a solved or pending case; on a closed case a new one follows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from casegate.desk.arrivals import Filed
from casegate.desk.filing.batch import Batch
from casegate.desk.filing.reopen import reopen_or_follow_up
from casegate.desk.models import Case, Intake
from tests.desk.filing.batches import arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db


def answer_on(intake: Intake, status: str, headers: dict[str, str] | None = None,
              author: object = None) -> tuple[Batch, Filed, Case]:
    case = Case.objects.create(intake=intake, status=status, requester="bo@acme.example",
                               created_at=intake.created_at, received_at=intake.created_at)
    batch = batch_of(arrival(intake, mail(sender="bo@acme.example", headers=headers)[0]))
    item = batch.filed[0]
    item.conversation, item.author = case, author
    reopen_or_follow_up(batch, item)
    return batch, item, case


@pytest.mark.parametrize("status", ["solved", "pending"])
def test_an_answer_reopens_a_solved_or_pending_case_with_its_history(
        intake: Intake, status: str) -> None:
    batch, item, case = answer_on(intake, status)
    case.refresh_from_db()
    assert case.status == "open" and case.updated_at == batch.now
    assert item.conversation == case and item.follows is None
    [event] = batch.events
    assert (event.field, event.before, event.after, event.actor) == (
        "status", status, "open", "bo@acme.example")


def test_an_answer_on_a_closed_case_leaves_it_for_a_new_case_that_follows(
        intake: Intake) -> None:
    batch, item, case = answer_on(intake, "closed")
    assert (item.conversation, item.follows) == (None, case)
    assert not batch.events


@pytest.mark.parametrize("headers, author", [
    ({"Auto-Submitted": "auto-replied"}, None),  # an out-of-office
    (None, SimpleNamespace(username="ivy")),     # the agent decides the status
])
def test_automated_mail_and_agents_answers_change_no_status(
        intake: Intake, headers: dict[str, str] | None, author: object) -> None:
    batch, item, case = answer_on(intake, "solved", headers, author)
    case.refresh_from_db()
    assert case.status == "solved" and item.conversation == case and not batch.events


def test_a_report_that_our_reply_failed_stays_on_the_closed_case(intake: Intake) -> None:
    case = Case.objects.create(intake=intake, status="closed", requester="bo@acme.example",
                               created_at=intake.created_at, received_at=intake.created_at)
    batch = batch_of(arrival(intake, mail(sender="MAILER-DAEMON@mx.acme.example")[0]))
    item = batch.filed[0]
    item.arrival.mail.reported_message_id = "<reply@desk>"
    item.conversation = case
    reopen_or_follow_up(batch, item)
    case.refresh_from_db()
    assert (item.conversation, item.follows) == (case, None)
    assert case.status == "closed" and not batch.events

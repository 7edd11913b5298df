"""Noise is suspended instead of opening a case: spam a rule let through, auto-mailers,
loops and blocked senders; mail that threads onto a case is filed there as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from casegate.desk.arrivals import DeskArrival
from casegate.desk.filing import file_batch
from casegate.desk.filing.batch import Batch
from casegate.desk.models import (
    BlockedSender,
    Case,
    Contact,
    DeskMessage,
    Intake,
    SuspendedMessage,
)
from casegate.desk.services import add_agent, add_intake
from casegate.desk.threading import signed_message_id, signed_test_message_id
from casegate.desk.vocabulary import CaseStatus, SuspensionCause
from casegate.routing.snapshot import load_table
from casegate.spool.messages import AcceptedMessage, QuarantineRow, enqueue
from casegate.spool.models import Quarantine
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = pytest.mark.django_db

OUT_OF_OFFICE = {"Auto-Submitted": "auto-replied"}


def file(*arrivals: DeskArrival) -> Batch:
    return file_batch(list(arrivals), load_table(), HOSTNAME)


def gateway_message(queue_id: str, spam: bool = True, **fields: Any) -> None:
    """The gateway's row for ``queue_id``, as the suspension copies its verdict from it."""
    enqueue([AcceptedMessage(queue_id, "bulk@spam.example", ["help@desk.example"],
                             timezone.now(), "192.0.2.9", "spam.example", "", spam,
                             "GTUBE" if spam else "", b"", **fields)])


def spam_arrival(intake: Intake, queue_id: str = "QSPAM") -> DeskArrival:
    suspicious = arrival(intake, mail(subject="You won", sender="win@spam.example")[0])
    suspicious.queue_id, suspicious.spam = queue_id, True
    return suspicious


def test_spam_a_rule_let_through_is_suspended_with_the_gateways_verdict(
        intake: Intake) -> None:
    gateway_message("QSPAM", auth_results="gw.test; spf=fail smtp.mailfrom=spam.example",
                    spam_report={"classifier": "rspamd", "score": 15.5, "action": "reject"})
    [item] = file(spam_arrival(intake)).filed
    assert item.suspended == SuspensionCause.SPAM
    assert (item.conversation, item.message, item.created) == (None, None, False)
    assert not Case.objects.exists() and not DeskMessage.objects.exists()
    assert not Contact.objects.exists()  # suspended mail makes no contact
    kept = SuspendedMessage.objects.get()
    assert (kept.intake, kept.queue_id, kept.cause, kept.reason, kept.spam_score) == (
        intake, "QSPAM", "spam", "classified as spam: GTUBE", 15.5)
    assert kept.auth_results == "gw.test; spf=fail smtp.mailfrom=spam.example"
    assert (kept.subject, kept.sender, kept.state) == ("You won", "win@spam.example",
                                                       "suspended")
    assert bytes(kept.raw) == item.arrival.raw


def test_spam_a_person_released_from_the_quarantine_opens_a_case(intake: Intake) -> None:
    gateway_message("QREL", quarantine=[QuarantineRow("help@desk.example", "spam")])
    Quarantine.objects.update(state=Quarantine.RELEASED)
    [item] = file(spam_arrival(intake, "QREL")).filed
    assert not item.suspended and item.created


def test_an_out_of_office_that_threads_onto_no_case_is_suspended_without_any_mail(
        db: None) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example", acknowledge=True)
    add_agent("ivy@agents.example", "Ivy Agent", "ivy")
    batch = file(arrival(intake, mail(subject="Out of office", sender="carl@acme.example",
                                      headers=OUT_OF_OFFICE)[0]))
    assert batch.filed[0].suspended == SuspensionCause.AUTO_MAILER
    assert batch.outgoing == []  # neither acknowledged nor notified
    assert SuspendedMessage.objects.get().reason == "Auto-Submitted: auto-replied"
    assert not Case.objects.exists()


@pytest.mark.parametrize("headers", [{"Precedence": "bulk"}, {"List-Id": "<news.acme>"}])
def test_bulk_and_list_mail_is_from_an_auto_mailer(intake: Intake,
                                                   headers: dict[str, str]) -> None:
    [item] = file(arrival(intake, mail(headers=headers)[0])).filed
    assert item.suspended == SuspensionCause.AUTO_MAILER


def test_mail_from_the_null_sender_opens_nothing_and_reopens_nothing(intake: Intake) -> None:
    question, question_id = mail(subject="Panel dark", sender="carl@acme.example")
    [opened] = file(arrival(intake, question)).filed
    Case.objects.update(status=CaseStatus.SOLVED)
    # A plain-text bounce, with none of the headers automated mail is known by.
    bounced = arrival(intake, mail(subject="Returned mail", sender="mdaemon@mx.acme.example",
                                   headers={"In-Reply-To": question_id})[0])
    stray = arrival(intake, mail(subject="Returned mail", sender="mdaemon@mx.acme.example")[0])
    for item in (bounced, stray):
        item.mail_from, item.null_sender = "", True
    threaded, suspended = file(bounced, stray).filed
    assert threaded.conversation == opened.conversation
    assert Case.objects.get().status == CaseStatus.SOLVED
    assert suspended.suspended == SuspensionCause.AUTO_MAILER
    assert SuspendedMessage.objects.get().reason == "sent from the null sender (MAIL FROM:<>)"


def test_an_out_of_office_that_threads_onto_a_case_is_filed_on_it(intake: Intake) -> None:
    question, question_id = mail(subject="Panel dark", sender="carl@acme.example")
    [opened] = file(arrival(intake, question)).filed
    answer = mail(subject="Out of office", sender="carl@acme.example",
                  headers={**OUT_OF_OFFICE, "In-Reply-To": question_id})[0]
    [threaded] = file(arrival(intake, answer)).filed
    assert not threaded.suspended
    assert threaded.conversation == opened.conversation
    assert DeskMessage.objects.filter(case=opened.conversation).count() == 2
    assert not SuspendedMessage.objects.exists()


def test_an_out_of_office_to_a_closed_case_opens_no_follow_up(intake: Intake) -> None:
    question, question_id = mail(subject="Panel dark", sender="carl@acme.example")
    file(arrival(intake, question))
    Case.objects.update(status=CaseStatus.CLOSED)
    answer = mail(sender="carl@acme.example", headers={**OUT_OF_OFFICE,
                                                       "In-Reply-To": question_id})[0]
    [item] = file(arrival(intake, answer)).filed
    assert item.suspended == SuspensionCause.AUTO_MAILER
    assert Case.objects.count() == 1


def test_our_own_mail_coming_back_is_a_loop(intake: Intake) -> None:
    ours = signed_message_id("c", 7, "mx.desk.example")
    [item] = file(arrival(intake, mail(message_id=ours)[0])).filed
    assert item.suspended == SuspensionCause.LOOP
    assert SuspendedMessage.objects.get().reason == f"our own message {ours} came back"


def test_a_sender_opening_too_many_cases_within_the_hour_is_a_loop(
        intake: Intake, setting: Callable[..., None]) -> None:
    setting("CASEGATE_LOOP_LIMIT", "3")
    robot = "robot@acme.example"
    earlier = Case.objects.create(intake=intake, requester=robot, created_at=timezone.now(),
                                  received_at=timezone.now())
    Case.objects.create(intake=intake, requester=robot, received_at=timezone.now(),
                        created_at=timezone.now() - timedelta(hours=2))  # counts no more
    filed = file(*[arrival(intake, mail(subject=f"ticket {n}", sender=robot)[0])
                   for n in range(3)]).filed
    assert [item.suspended for item in filed] == ["", "", SuspensionCause.LOOP]
    assert SuspendedMessage.objects.get().reason == (
        f"3 cases opened by {robot} in the last hour (CASEGATE_LOOP_LIMIT is 3)")
    other = add_intake(Intake.CASE, "sales@desk.example")
    [elsewhere] = file(arrival(other, mail(sender=robot)[0])).filed  # per intake
    assert not elsewhere.suspended
    assert Case.objects.filter(requester=robot).exclude(pk=earlier.pk).count() == 4


def test_the_loop_limit_can_be_turned_off(intake: Intake, setting: Callable[..., None]) -> None:
    setting("CASEGATE_LOOP_LIMIT", "0")
    filed = file(*[arrival(intake, mail(sender="robot@acme.example")[0])
                   for _ in range(25)]).filed
    assert not any(item.suspended for item in filed)


@pytest.mark.parametrize(("entry", "sender", "blocked"), [
    ("pest@acme.example", "Pest <PEST@acme.example>", True),
    ("pest@acme.example", "other@acme.example", False),
    ("acme.example", "anyone@acme.example", True),
    ("acme.example", "anyone@mail.acme.example", True),  # a domain covers its subdomains
    ("acme.example", "anyone@notacme.example", False),
])
def test_a_sender_the_intake_blocks_is_suspended(intake: Intake, entry: str, sender: str,
                                                 blocked: bool) -> None:
    BlockedSender.objects.create(intake=intake, entry=entry)
    other = add_intake(Intake.CASE, "other@desk.example")
    here, there = file(arrival(intake, mail(sender=sender)[0]),
                       arrival(other, mail(sender=sender)[0])).filed
    assert here.suspended == (SuspensionCause.BLOCKED_SENDER if blocked else "")
    assert not there.suspended  # only the intake that blocks it
    if blocked:
        assert SuspendedMessage.objects.get().reason == f"the intake blocks {entry}"


def test_a_blocked_sender_wins_over_every_other_cause(intake: Intake) -> None:
    BlockedSender.objects.create(intake=intake, entry="spam.example")
    [item] = file(spam_arrival(intake)).filed
    assert item.suspended == SuspensionCause.BLOCKED_SENDER


def test_an_arrival_a_person_recovered_is_not_suspended_again(intake: Intake) -> None:
    recovered = spam_arrival(intake)
    recovered.recovered = True
    [item] = file(recovered).filed
    assert not item.suspended and isinstance(item.conversation, Case)


def test_a_test_message_of_casegate_verify_opens_its_case_and_cannot_be_forged(
        intake: Intake) -> None:
    ours = signed_test_message_id("mx.desk.example")
    signature_end = ours.index("@") - 1
    forged = (ours[:signature_end] + ("1" if ours[signature_end] == "0" else "0")
              + ours[signature_end + 1:])
    verify, fake = (arrival(intake, mail(sender="verify@mx.desk.example", message_id=m,
                                         headers={"Auto-Submitted": "auto-generated"})[0])
                    for m in (ours, forged))
    opened, suspended = file(verify, fake).filed
    assert opened.created and not opened.suspended
    assert suspended.suspended == SuspensionCause.AUTO_MAILER

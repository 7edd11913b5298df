"""The desk's door for the delivery worker: what becomes of each delivery."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from itertools import count

import pytest
from django.utils import timezone

from casegate.desk import reception
from casegate.desk.models import Case, Intake, SuspendedMessage
from casegate.desk.reception import DeskDelivery, receive
from casegate.desk.services import add_intake
from casegate.routing.snapshot import load_table
from tests.mails import mail

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("home")]

HOSTNAME = "mx.desk.example"
_ids = count(1)


def delivery(intake_id: int | None, subject: str) -> DeskDelivery:
    raw = mail(subject=subject, sender="bo@acme.example")[0]
    return DeskDelivery(next(_ids), f"Q{subject}", intake_id, "help@desk.example",
                        timezone.now(), raw, "bo@acme.example", "192.0.2.1")


def test_each_delivery_is_filed_or_not_with_the_mail_filing_sets_off() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example", acknowledge=True)
    filed, gone = delivery(intake.pk, "one"), delivery(intake.pk + 1, "gone")
    receipt = receive([filed, gone]).file({filed.id, gone.id}, load_table(), HOSTNAME)
    assert (receipt.filed, receipt.failed) == ({filed.id}, {})
    assert [m.deliveries[0].recipient for m in receipt.outgoing] == ["bo@acme.example"]
    assert Case.objects.get().subject == "one"


def test_only_the_deliveries_still_held_are_filed() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    kept, lost = delivery(intake.pk, "kept"), delivery(intake.pk, "lost")
    receipt = receive([kept, lost]).file({kept.id}, load_table(), HOSTNAME)
    assert receipt.filed == {kept.id}
    assert list(Case.objects.values_list("subject", flat=True)) == ["kept"]


def test_a_message_that_cannot_be_parsed_or_filed_fails_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    parsing, filing = reception.parse_message, reception.file_batch

    def parse_but_unreadable(raw: bytes):  # type: ignore[no-untyped-def]
        if b"unreadable" in raw:
            raise ValueError("a defect")
        return parsing(raw)

    def file_all_but_poison(arrivals, *rest):  # type: ignore[no-untyped-def]
        if any(a.mail.subject == "poison" for a in arrivals):
            raise ValueError("cannot be filed")
        return filing(arrivals, *rest)

    monkeypatch.setattr(reception, "parse_message", parse_but_unreadable)
    monkeypatch.setattr(reception, "file_batch", file_all_but_poison)
    batch = [delivery(intake.pk, s) for s in ("good", "poison", "unreadable", "fine")]
    receipt = receive(batch).file({d.id for d in batch}, load_table(), HOSTNAME)
    good, poison, unreadable, fine = batch
    assert receipt.filed == {good.id, fine.id}
    assert {i: str(e) for i, e in receipt.failed.items()} == {
        poison.id: "cannot be filed", unreadable.id: "a defect"}
    assert sorted(Case.objects.values_list("subject", flat=True)) == ["fine", "good"]


def test_a_delivery_the_gateway_classified_as_spam_is_suspended() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    spam = dataclasses.replace(delivery(intake.pk, "win"), spam=True)
    receipt = receive([spam]).file({spam.id}, load_table(), HOSTNAME)
    assert receipt.filed == {spam.id} and receipt.outgoing == []
    assert SuspendedMessage.objects.get().cause == "spam"
    assert not Case.objects.exists()


def test_old_mail_keeps_its_date_and_owes_no_first_response() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example", first_response_hours=4)
    raw = mail(subject="From 2019", sender="bo@acme.example",
               headers={"Date": "Tue, 12 Mar 2019 09:30:00 +0100"})[0]
    old = DeskDelivery(next(_ids), "Qold", intake.pk, "help@desk.example", timezone.now(), raw,
                       "", "", quiet=True)
    receive([old]).file({old.id}, load_table(), HOSTNAME)
    case = Case.objects.get()
    written = datetime(2019, 3, 12, 8, 30, tzinfo=UTC)
    assert (case.received_at, case.created_at, case.messages.get().created_at) == (
        written, written, written)
    assert case.first_response_due_at is None


@pytest.mark.parametrize("date", ["", "not a date", "Mon, 32 Foo 2019 99:99:99 +0000"])
def test_old_mail_without_a_readable_date_is_dated_when_it_arrived(date: str) -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    raw = mail(subject="Undated", sender="bo@acme.example")[0]
    if date:
        raw = f"Date: {date}\r\n".encode() + raw
    arrived = timezone.now()
    old = DeskDelivery(next(_ids), "Qundated", intake.pk, "help@desk.example", arrived, raw,
                       "", "", quiet=True)
    receive([old]).file({old.id}, load_table(), HOSTNAME)
    assert Case.objects.get().received_at == arrived


def test_a_date_later_than_its_arrival_or_on_live_mail_is_not_taken() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example", first_response_hours=4)
    raw = mail(subject="Ahead", sender="bo@acme.example",
               headers={"Date": "Fri, 1 Jan 2100 00:00:00 +0000"})[0]
    arrived = timezone.now()
    ahead = DeskDelivery(next(_ids), "Qahead", intake.pk, "help@desk.example", arrived, raw,
                         "", "", quiet=True)
    dated = mail(subject="Live", sender="bo@acme.example",
                 headers={"Date": "Tue, 12 Mar 2019 09:30:00 +0100"})[0]
    live = DeskDelivery(next(_ids), "Qlive", intake.pk, "help@desk.example", arrived, dated,
                        "bo@acme.example", "192.0.2.1")
    receive([ahead, live]).file({ahead.id, live.id}, load_table(), HOSTNAME)
    assert {c.subject: c.received_at for c in Case.objects.all()} == {
        "Ahead": arrived, "Live": arrived}
    assert Case.objects.get(subject="Live").first_response_due_at is not None

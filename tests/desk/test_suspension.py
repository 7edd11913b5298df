"""Suspended mail: recovering it onto a case, deleting it, one or many at once, its removal
after CASEGATE_SUSPENDED_DAYS; and the senders an intake blocks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from casegate.desk.filing import file_batch
from casegate.desk.models import BlockedSender, Case, DeskMessage, Intake, SuspendedMessage
from casegate.desk.services import DeskError, add_intake
from casegate.desk.suspension import (
    block_sender,
    blocked_senders,
    delete,
    recover,
    remove_expired,
    unblock_sender,
    waiting,
)
from casegate.desk.vocabulary import Direction, SuspensionCause, SuspensionState
from casegate.routing.snapshot import load_table
from casegate.spool.models import Delivery
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("home")]

OUT_OF_OFFICE = {"Auto-Submitted": "auto-replied"}


@pytest.fixture
def intake() -> Intake:
    return add_intake(Intake.CASE, "help@desk.example", acknowledge=True)


def suspend(intake: Intake, *subjects: str, headers: dict[str, str] | None = None
            ) -> list[SuspendedMessage]:
    """Mail with ``subjects`` from an auto-mailer (unless ``headers`` say otherwise),
    suspended at ``intake``."""
    arrivals = [arrival(intake, mail(subject=s, sender=f"{s.replace(' ', '')}@acme.example",
                                     headers=OUT_OF_OFFICE if headers is None else headers)[0])
                for s in subjects]
    filed = file_batch(arrivals, load_table(), HOSTNAME).filed
    assert all(item.suspended for item in filed)
    return list(SuspendedMessage.objects.order_by("id"))


def test_recovering_opens_a_case_acknowledged_as_a_new_one(intake: Intake) -> None:
    BlockedSender.objects.create(intake=intake, entry="acme.example")
    [entry] = suspend(intake, "Panel dark", headers={})
    [recovered] = recover([entry.pk], "ivy")
    case = Case.objects.get()
    assert (recovered.state, recovered.case, recovered.decided_by) == ("recovered", case, "ivy")
    assert bytes(recovered.raw) == b""  # the message lives on the case now
    assert case.subject == "Panel dark" and case.requester == "paneldark@acme.example"
    assert case.contact is not None and case.contact.address == "paneldark@acme.example"
    assert DeskMessage.objects.get(direction=Direction.INBOUND).raw is not None
    # Acknowledged as a new case is: a desk message, and a queued delivery to the sender.
    assert DeskMessage.objects.filter(direction=Direction.AUTOMATIC, case=case).exists()
    assert list(Delivery.objects.values_list("recipient", flat=True)) == [
        "paneldark@acme.example"]
    assert not waiting().exists()


def test_a_recovered_out_of_office_opens_a_case_but_is_never_answered(intake: Intake) -> None:
    [entry] = suspend(intake, "Away")
    recover([entry.pk], "ivy")
    assert Case.objects.get().subject == "Away"
    assert not Delivery.objects.exists()


def test_recovering_or_deleting_several_at_once(intake: Intake) -> None:
    first, second, third = suspend(intake, "one", "two", "three")
    assert [e.case is not None for e in recover([third.pk, first.pk], "ivy")] == [True, True]
    assert Case.objects.count() == 2
    [deleted] = delete([second.pk], "ivy")
    assert deleted.state == SuspensionState.DELETED and bytes(deleted.raw) == b""
    assert Case.objects.count() == 2


def test_a_decision_is_all_or_nothing_and_happens_once(intake: Intake) -> None:
    first, second = suspend(intake, "one", "two")
    delete([first.pk], "ivy")
    with pytest.raises(DeskError, match=f"#{first.pk} was deleted already"):
        recover([second.pk, first.pk], "ivy")
    with pytest.raises(DeskError, match="there is no suspended message 999"):
        delete([second.pk, 999], "ivy")
    with pytest.raises(DeskError, match="name at least one"):
        delete([], "ivy")
    assert SuspendedMessage.objects.get(pk=second.pk).state == SuspensionState.SUSPENDED
    assert not Case.objects.exists()


def test_each_decision_is_in_the_audit_log(intake: Intake) -> None:
    first, second = suspend(intake, "one", "two")
    recover([first.pk], "ivy")
    delete([second.pk], "ivy")
    changes = [entry.changes for entry in LogEntry.objects.filter(
        content_type__model="suspendedmessage").order_by("id")]
    assert changes == [{"state": ["suspended", "recovered"]}, {"state": ["suspended", "deleted"]}]


def test_the_list_filters_by_intake_and_cause(intake: Intake) -> None:
    other = add_intake(Intake.CASE, "other@desk.example")
    suspend(intake, "away")
    suspend(other, "bulk", headers={"Precedence": "bulk"})
    BlockedSender.objects.create(intake=other, entry="acme.example")
    suspend(other, "blocked", headers={})
    assert [m.subject for m in waiting()] == ["blocked", "bulk", "away"]
    assert [m.subject for m in waiting("other@desk.example")] == ["blocked", "bulk"]
    assert [m.subject for m in waiting(str(other.pk), SuspensionCause.AUTO_MAILER)] == ["bulk"]
    with pytest.raises(DeskError, match=r"there is no intake 'nowhere@desk\.example'"):
        waiting("nowhere@desk.example")


def test_entries_older_than_the_days_kept_are_removed(
        intake: Intake, setting: Callable[..., None]) -> None:
    old, recovered, young = suspend(intake, "old", "recovered", "young")
    recover([recovered.pk], "ivy")
    SuspendedMessage.objects.filter(pk__in=[old.pk, recovered.pk]).update(
        created_at=timezone.now() - timedelta(days=14, minutes=1))
    assert remove_expired() == 2
    assert list(SuspendedMessage.objects.values_list("pk", flat=True)) == [young.pk]
    assert Case.objects.count() == 1  # what was recovered stays on its case
    setting("CASEGATE_SUSPENDED_DAYS", "1")
    assert remove_expired(timezone.now() + timedelta(days=1, minutes=1)) == 1
    setting("CASEGATE_SUSPENDED_DAYS", "0")  # kept until someone decides
    suspend(intake, "forever")
    assert remove_expired(timezone.now() + timedelta(days=3650)) == 0


def test_blocking_an_address_or_a_domain_and_unblocking_it(intake: Intake) -> None:
    assert block_sender("help@desk.example", " Pest@Acme.Example ").entry == "pest@acme.example"
    assert block_sender(str(intake.pk), "@Bücher.example").entry == "xn--bcher-kva.example"
    with pytest.raises(DeskError, match=r"blocks pest@acme\.example already"):
        block_sender("help@desk.example", "pest@acme.example")
    with pytest.raises(DeskError, match="neither an address nor a domain"):
        block_sender("help@desk.example", "not a domain")
    with pytest.raises(DeskError, match="there is no intake"):
        block_sender("nowhere@desk.example", "acme.example")
    assert [b.entry for b in blocked_senders("help@desk.example")] == [
        "pest@acme.example", "xn--bcher-kva.example"]
    unblock_sender("help@desk.example", "PEST@acme.example")
    with pytest.raises(DeskError, match=r"does not block pest@acme\.example"):
        unblock_sender("help@desk.example", "pest@acme.example")
    assert [b.entry for b in blocked_senders()] == ["xn--bcher-kva.example"]

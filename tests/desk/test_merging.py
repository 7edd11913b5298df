"""Merging cases and splitting a message off, each undone by the other."""

from __future__ import annotations

import pytest

from casegate.desk.filing import file_batch
from casegate.desk.filing.prefetch import prefetch
from casegate.desk.merging import merge, split, unmerge
from casegate.desk.models import Case, CaseEvent, DeskMessage, Intake
from casegate.desk.services import DeskError, add_intake, update_case
from casegate.desk.vocabulary import CaseChannel, CaseStatus, Direction
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.desk.test_search import case_of, file_mail
from tests.mails import mail

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("home")]


def thread(case: Case | int) -> list[str]:
    return list(DeskMessage.objects.filter(case=case).order_by("created_at", "id")
                .values_list("subject", flat=True))


def test_three_cases_of_one_customer_merge_into_one_and_mail_follows() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example", acknowledge=True)
    ids = [file_mail(intake, subject, "Please help.") for subject in ("one", "two", "three")]
    first, second, third = (case_of(i) for i in ids)
    Case.objects.filter(pk=third).update(tags=["vip"])
    merge(first, [second, third], "ann")
    subjects = [s for s in thread(first) if not s.startswith("[#")]
    assert subjects == ["one", "two", "three"]
    assert len(thread(first)) == 6  # each customer message and its acknowledgement, once
    merged = Case.objects.get(pk=second)
    assert (merged.merged_into_id, merged.status) == (first, CaseStatus.CLOSED)
    assert Case.objects.get(pk=first).tags == ["vip"]
    assert ("merged", f"CG-{second}") in CaseEvent.objects.filter(case=first).values_list(
        "field", "after")
    ack = DeskMessage.objects.get(direction=Direction.AUTOMATIC, moved_from=second)
    file_mail(intake, f"Re: {ack.subject}", "Any news?", reply_to=ack.message_id)
    assert thread(second) == [] and thread(first)[-1] == f"Re: {ack.subject}"


def test_a_merge_is_undone_by_unmerge_and_a_split_by_a_merge() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    first = case_of(file_mail(intake, "one", "first"))
    second = case_of(file_mail(intake, "two", "second"))
    merge(first, [second], "ann")
    unmerge(second, "ann")
    assert (thread(first), thread(second)) == (["one"], ["two"])
    assert Case.objects.get(pk=second).status == CaseStatus.OPEN
    file_mail(intake, "Re: one", "more", reply_to=DeskMessage.objects.get(case=first).message_id)
    message = DeskMessage.objects.get(subject="Re: one")
    created = split(message.pk, "ann", CaseChannel.CONSOLE)
    assert (thread(first), thread(created)) == (["one"], ["Re: one"])
    assert (created.channel, Case.objects.get(pk=first).channel) == ("console", "mail")
    merge(first, [created.pk], "ann")
    assert thread(first) == ["one", "Re: one"]
    assert DeskMessage.objects.get(pk=message.pk).moved_from_id is None


def test_what_cannot_be_merged_or_split_says_why() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    first = case_of(file_mail(intake, "one", "first"))
    second = case_of(file_mail(intake, "two", "second"))
    with pytest.raises(DeskError, match="into itself"):
        merge(first, [first], "ann")
    with pytest.raises(DeskError, match="there is no case CG-999"):
        merge(first, [999], "ann")
    merge(first, [second], "ann")
    with pytest.raises(DeskError, match="already merged"):
        merge(first, [second], "ann")
    with pytest.raises(DeskError, match="not merged"):
        unmerge(first, "ann")
    lone = case_of(file_mail(intake, "three", "third"))
    with pytest.raises(DeskError, match="the only one"):
        split(DeskMessage.objects.get(case=lone).pk, "ann", CaseChannel.CONSOLE)


def test_an_unmerge_leaves_a_message_split_off_since_where_the_split_put_it() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    first = case_of(file_mail(intake, "A one", "first"))
    file_mail(intake, "A two", "more", sender="dave@other.example",
              reply_to=DeskMessage.objects.get(case=first).message_id)
    other = case_of(file_mail(intake, "X", "other"))
    merge(other, [first], "ann")
    split_off = split(DeskMessage.objects.get(subject="A two").pk, "ann", CaseChannel.CONSOLE)
    unmerge(first, "ann")
    assert (thread(first), thread(split_off), thread(other)) == (["A one"], ["A two"], ["X"])
    assert (split_off.requester, split_off.contact.address) == (  # type: ignore[union-attr]
        "dave@other.example", "dave@other.example")


def test_a_case_split_off_then_merged_and_unmerged_gets_its_message_back() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    source = case_of(file_mail(intake, "B one", "first"))
    file_mail(intake, "B two", "more", reply_to=DeskMessage.objects.get(case=source).message_id)
    other = case_of(file_mail(intake, "X", "other"))
    split_off = split(DeskMessage.objects.get(subject="B two").pk, "ann", CaseChannel.CONSOLE)
    merge(other, [split_off.pk], "ann")
    unmerge(split_off.pk, "ann")
    assert (thread(split_off), thread(other), thread(source)) == (["B two"], ["X"], ["B one"])


def test_only_a_message_a_customer_sent_is_split_off() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example", acknowledge=True)
    first = case_of(file_mail(intake, "one", "first"))
    ack = DeskMessage.objects.get(case=first, direction=Direction.AUTOMATIC)
    with pytest.raises(DeskError, match="only a message a customer sent"):
        split(ack.pk, "ann", CaseChannel.CONSOLE)


def test_a_merged_case_opens_again_only_by_an_unmerge() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    first = case_of(file_mail(intake, "one", "first"))
    second = case_of(file_mail(intake, "two", "second"))
    merge(first, [second], "ann")
    with pytest.raises(DeskError, match=f"CG-{second} was merged into CG-{first}; unmerge it"):
        update_case(second, "ann", status=CaseStatus.OPEN)
    assert update_case(second, "ann", status=CaseStatus.CLOSED, tags=["x"]).tags == ["x"]


def test_mail_read_before_a_merge_and_filed_after_it_lands_on_the_survivor() -> None:
    intake = add_intake(Intake.CASE, "help@desk.example")
    first, second = (case_of(file_mail(intake, subject, "Please help."))
                     for subject in ("one", "two"))
    asked = DeskMessage.objects.get(case=second).message_id
    raw = mail(subject="Re: two", sender="Ann <ann@acme.example>",
               headers={"In-Reply-To": asked, "References": asked})[0]
    arrivals = [arrival(intake, raw)]
    known = prefetch(arrivals)  # the worker reads before its filing transaction
    merge(first, [second], "ann")  # an agent merges meanwhile
    [item] = file_batch(arrivals, load_table(), HOSTNAME, known).filed
    assert item.conversation is not None and item.conversation.pk == first
    assert thread(first)[-1] == "Re: two" and thread(second) == []

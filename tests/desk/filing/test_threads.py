"""Threading: the conversation an arrival answers, found from what was prefetched."""

from __future__ import annotations

import pytest

from casegate.desk.arrivals import Filed
from casegate.desk.filing import file_batch
from casegate.desk.filing.threads import find_conversation
from casegate.desk.models import Case, Intake
from casegate.desk.services import DeskError
from casegate.desk.threading import case_tag, signed_message_id
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db


def existing_case(intake: Intake, message_id: str = "<first@example.net>") -> Case:
    raw = mail(subject="Panel dark", sender="bo@acme.example", message_id=message_id)[0]
    [filed] = file_batch([arrival(intake, raw)], load_table(), HOSTNAME).filed
    assert isinstance(filed.conversation, Case)
    return filed.conversation


def threaded(intake: Intake | None, raw: bytes, to: str = "help@desk.example") -> Filed:
    batch = batch_of(arrival(intake, raw, to))
    find_conversation(batch, batch.filed[0])
    return batch.filed[0]


def test_an_answer_to_our_signed_message_id_finds_its_case(intake: Intake) -> None:
    case = existing_case(intake)
    ours = signed_message_id("c", case.pk, "desk.example")
    answer = mail(sender="anyone@else.example", headers={"In-Reply-To": ours})[0]
    assert threaded(intake, answer).conversation == case


def test_a_case_tag_counts_only_from_the_requester(intake: Intake) -> None:
    case = existing_case(intake)
    subject = f"Re: Panel dark {case_tag(case.pk)}"
    assert threaded(intake, mail(subject=subject, sender="bo@acme.example")[0]
                    ).conversation == case
    assert threaded(intake, mail(subject=subject, sender="eve@else.example")[0]
                    ).conversation is None


def test_references_to_a_stored_message_find_its_case(intake: Intake) -> None:
    case = existing_case(intake)
    answer = mail(headers={"References": "<unknown@x> <first@example.net>"})[0]
    assert threaded(intake, answer).conversation == case
    assert threaded(intake, mail()[0]).conversation is None


def test_mail_to_a_reply_address_takes_its_conversations_intake_or_is_refused(
        intake: Intake) -> None:
    case = existing_case(intake)
    ours = signed_message_id("c", case.pk, "desk.example")
    answer = threaded(None, mail(headers={"In-Reply-To": ours})[0], "reply+1.x@desk.example")
    assert answer.arrival.intake == intake
    with pytest.raises(DeskError, match="answers none of our conversations"):
        threaded(None, mail()[0], "reply+1.x@desk.example")

"""Filing a batch: the steps in their order, and what runs them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from casegate.desk import filing
from casegate.desk.arrivals import Filed
from casegate.desk.authorship import reply_address
from casegate.desk.filing import STEPS, file_batch
from casegate.desk.filing.batch import Batch, each_arrival
from casegate.desk.models import Case, DeskMessage, Intake
from casegate.desk.services import add_agent
from casegate.desk.threading import signed_message_id
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db


def test_each_arrival_goes_through_all_its_steps_before_the_next_and_a_duplicate_stops(
        intake: Intake) -> None:
    batch = batch_of(arrival(intake, mail(subject="one")[0]),
                     arrival(intake, mail(subject="two")[0]))
    seen: list[tuple[str, str]] = []

    def first(batch: Batch, item: Filed) -> None:
        seen.append(("first", item.arrival.mail.subject))
        item.duplicate = item.arrival.mail.subject == "one"

    def second(batch: Batch, item: Filed) -> None:
        seen.append(("second", item.arrival.mail.subject))

    each_arrival(first, second)(batch)
    assert seen == [("first", "one"), ("first", "two"), ("second", "two")]


def test_an_answer_to_a_message_earlier_in_the_batch_threads_onto_its_new_case(
        intake: Intake) -> None:
    question, message_id = mail(subject="Panel dark", sender="bo@acme.example")
    answer = mail(subject="Re: Panel dark", sender="bo@acme.example",
                  headers={"In-Reply-To": message_id})[0]
    opened, threaded, again = file_batch(
        [arrival(intake, question), arrival(intake, answer), arrival(intake, question)],
        load_table(), HOSTNAME).filed
    assert opened.created and not threaded.created
    assert threaded.conversation == opened.conversation == Case.objects.get()
    assert again.duplicate and again.conversation is None and again.message is None
    assert DeskMessage.objects.count() == 2


def test_a_copy_of_an_agents_answer_to_their_reply_address_is_a_duplicate_like_any(
        intake: Intake) -> None:
    agent = add_agent("ivy@agents.example", "Ivy Agent", "ivy")
    [question] = file_batch([arrival(intake, mail(sender="bo@acme.example")[0])],
                            load_table(), HOSTNAME).filed
    assert question.conversation is not None
    ours = signed_message_id("c", question.conversation.pk, "desk.example")
    answer = mail(sender="ivy@agents.example", headers={"In-Reply-To": ours})[0]
    # Reply-all: one copy to the intake, one to the agent's reply address.
    to_intake, to_reply_address = file_batch(
        [arrival(intake, answer), arrival(None, answer, reply_address(agent.pk))],
        load_table(), HOSTNAME).filed
    assert to_intake.conversation == question.conversation and to_reply_address.duplicate


def test_a_batch_takes_as_many_queries_whatever_its_size(intake: Intake) -> None:
    def queries(size: int) -> int:
        arrivals = [arrival(intake, mail(sender=f"c{n}-{size}@acme{n}.example")[0])
                    for n in range(size)]
        with CaptureQueriesContext(connection) as captured:
            file_batch(arrivals, load_table(), HOSTNAME)
        return len(captured)

    assert queries(2) == queries(20)


def test_a_step_is_added_by_inserting_it_in_the_order(
        intake: Intake, monkeypatch: pytest.MonkeyPatch) -> None:
    def tag_everything(batch: Batch) -> None:
        for item in batch.filed:
            assert isinstance(item.conversation, Case)
            item.conversation.tags = ["triaged"]

    opening = STEPS.index(filing.save_new_conversations)
    monkeypatch.setattr(filing, "STEPS",
                        (*STEPS[:opening], tag_everything, *STEPS[opening:]))
    file_batch([arrival(intake, mail()[0])], load_table(), HOSTNAME)
    assert Case.objects.get().tags == ["triaged"]

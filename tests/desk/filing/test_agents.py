"""An agent's proven answer is theirs: a public reply, or an internal note."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from casegate.desk.arrivals import Filed
from casegate.desk.authorship import Authorship
from casegate.desk.filing.agents import take_agent_answer
from casegate.desk.models import DeskMessage
from casegate.desk.threading import hint_for
from tests.desk.filing.batches import arrival, batch_of
from tests.mails import mail

pytestmark = pytest.mark.django_db

AGENT = SimpleNamespace(username="ivy")


def taken(body: str, authorship: Authorship, headers: dict[str, str] | None = None) -> Filed:
    item = Filed(arrival(None, mail(body=body, headers=headers)[0]), hint_for("", [], ""),
                 authorship)
    take_agent_answer(batch_of(), item)
    return item


def test_a_proven_answer_is_the_agents_reply() -> None:
    item = taken("We sent a new panel.", Authorship(AGENT, "trusted network"))
    assert (item.author, item.direction) == (AGENT, DeskMessage.OUTBOUND)


def test_an_answer_beginning_with_note_or_an_automated_one_is_an_internal_note() -> None:
    assert taken("#note call them", Authorship(AGENT, "DKIM")).direction == DeskMessage.NOTE
    out_of_office = taken("Away until Monday", Authorship(AGENT, "DKIM"),
                          {"Auto-Submitted": "auto-replied"})
    assert out_of_office.direction == DeskMessage.NOTE


def test_an_unproven_answer_stays_the_customers_with_the_reason() -> None:
    item = taken("Sure.", Authorship(refused="not authenticated"))
    assert (item.author, item.direction, item.unproven) == (
        None, DeskMessage.INBOUND, "not authenticated")

"""Signatures under agents' replies, whichever way the reply is written: by mail (what
filing sends), from the command line (the desk's, without an agent) and by a macro."""

from __future__ import annotations

import pytest
from django.utils import timezone

from casegate.desk.automation.macros import add_macro, apply_macro
from casegate.desk.changes import DeskError
from casegate.desk.models import Case, DeskMessage
from casegate.desk.replies import post_reply, send
from casegate.desk.services import add_agent, add_intake, configure_intake
from casegate.desk.signatures import set_agent_signature
from casegate.desk.vocabulary import Direction, IntakeKind
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_home(home: object) -> None:
    """Blobs in the test's own home."""


@pytest.fixture
def case(db: None) -> Case:
    intake = configure_intake(add_intake(IntakeKind.CASE, "help@desk.example"),
                              signature="Solarmora {{case.team}}, {{case.number}}")
    return Case.objects.create(intake=intake, subject="Panel", team="Billing",
                               requester="dana@example.net", created_at=timezone.now(),
                               received_at=timezone.now())


def test_an_agents_answer_by_mail_is_sent_signed(case: Case) -> None:
    ivy = add_agent("ivy@agents.example", "Ivy Stone", "ivy",
                    signature="{{agent.name}} ({{case.team}}) {{case.number}}").user
    answer = DeskMessage.objects.create(
        case=case, direction=Direction.OUTBOUND, author=ivy, subject="Re: Panel",
        text="A new panel is on its way.\n\n> the notification", sender="help@desk.example",
        new_text="A new panel is on its way.", created_at=timezone.now())
    outgoing = send(case, answer, load_table(), HOSTNAME)
    assert outgoing is not None
    signature = f"Ivy Stone (Billing) CG-{case.pk}"
    assert signature in outgoing.raw.decode()
    answer.refresh_from_db()
    assert answer.new_text == f"A new panel is on its way.\n\n{signature}\n"
    assert "> the notification" in answer.text  # the mail as it came stays whole


def test_the_desks_reply_without_an_agent_has_the_intakes_signature(case: Case) -> None:
    reply = post_reply(IntakeKind.CASE, case.pk, None, "Solved on our side.")
    assert reply.text == f"Solved on our side.\n\nSolarmora Billing, CG-{case.pk}\n"


def test_a_macro_naming_the_signature_is_signed_once(case: Case) -> None:
    ivy = add_agent("ivy@agents.example", "Ivy Stone", "ivy", ["Billing"],
                    signature="Ivy, {{case.number}}").user
    add_macro("Thanks", [], reply="Thank you.\n\n{{agent.signature}}")
    applied = apply_macro("Thanks", case.pk, ivy)
    assert applied.reply is not None
    assert applied.reply.text == f"Thank you.\n\nIvy, CG-{case.pk}"


def test_a_signature_naming_itself_or_an_unknown_placeholder_is_refused(case: Case) -> None:
    add_agent("ivy@agents.example", "Ivy Stone", "ivy")
    for text in ("{{agent.signature}}", "{{agent.phone}}"):
        with pytest.raises(DeskError, match="unknown placeholder"):
            set_agent_signature("ivy", text)
    with pytest.raises(DeskError, match="no agent"):
        set_agent_signature("nobody", "x")

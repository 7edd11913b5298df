"""Running triggers: on filed mail, on changes made by people, in order, to a fixed depth."""

from __future__ import annotations

from typing import Any

import pytest
from auditlog.models import LogEntry

from casegate.desk.automation.engine import MAX_DEPTH, STOPPED, run_triggers
from casegate.desk.automation.triggers import add_trigger
from casegate.desk.filing import file_batch
from casegate.desk.models import Agent, Case, CaseEvent, DeskMessage, Intake
from casegate.desk.replies import post_reply
from casegate.desk.services import update_case
from casegate.desk.vocabulary import Direction
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = pytest.mark.django_db

REFUNDS: dict[str, Any] = {
    "name": "Refunds to billing", "events": ["case_created"],
    "conditions": {"all": [{"field": "intake", "is": "help@desk.example"},
                           {"field": "subject", "contains": "REFUND"}]},
    "actions": [{"team": "Billing"}, {"assign_round_robin": "Billing"},
                {"add_tags": ["refund"]},
                {"reply": "Hello {{requester.name}}, {{agent.name}} has {{case.number}}."}],
}


def file(intake: Intake, subject: str, sender: str = "Dana <dana@example.net>") -> Case:
    [item] = file_batch([arrival(intake, mail(subject=subject, sender=sender)[0])],
                        load_table(), HOSTNAME).filed
    assert isinstance(item.conversation, Case)
    item.conversation.refresh_from_db()
    return item.conversation


def history(case: Case) -> list[tuple[str, str, str]]:
    return [(e.field, e.after, e.actor) for e in CaseEvent.objects.filter(case=case)]


def test_a_new_case_matching_a_trigger_gets_its_actions_each_named_in_the_history(
        intake: Intake, billing: list[Agent]) -> None:
    add_trigger(REFUNDS)
    cases = [file(intake, f"Refund please {n}", f"C{n} <c{n}@example.net>") for n in range(4)]
    assert [c.assignee.get_username() for c in cases if c.assignee] == ["ann", "bob", "cid",
                                                                       "ann"]
    first = cases[0]
    assert first.team == "Billing" and first.tags == ["refund"]
    actor = "trigger:Refunds to billing"
    assert history(first) == [("team", "Billing", actor), ("assignee", "ann", actor),
                              ("tags", "refund", actor), ("reply", "sent to c0@example.net",
                                                          actor)]
    [audited] = LogEntry.objects.get_for_object(first)
    assert audited.additional_data == {"by": actor}
    assert audited.changes["team"] == ["", "Billing"]
    reply = DeskMessage.objects.get(case=first, direction=Direction.AUTOMATIC)
    assert reply.text == f"Hello C0, Ann Agent has CG-{first.pk}."
    other = file(intake, "Where is my panel")
    assert other.team == "" and other.assignee is None and not history(other)


def test_a_reply_is_never_sent_to_automated_mail(intake: Intake, billing: list[Agent]) -> None:
    add_trigger(REFUNDS)
    raw = mail(subject="Refund auto", headers={"Auto-Submitted": "auto-replied"})[0]
    [item] = file_batch([arrival(intake, raw)], load_table(), HOSTNAME).filed
    assert item.suspended  # automated mail opens no case at all
    case = file(intake, "Refund from a person")
    post_reply("case", case.pk, None, "We are on it")
    assert ("reply", "sent to dana@example.net", "trigger:Refunds to billing") in history(case)


def test_least_loaded_assignment_picks_the_agent_with_fewest_unsolved_cases(
        intake: Intake, billing: list[Agent]) -> None:
    busy = file(intake, "one")
    update_case(busy.pk, "x", assignee="ann")
    update_case(file(intake, "two").pk, "x", assignee="bob")
    add_trigger({"name": "Least", "events": ["case_created"],
                 "actions": [{"assign_least_loaded": "Billing"}]})
    assert file(intake, "three").assignee.get_username() == "cid"


def test_changes_by_people_and_notes_fire_their_events(intake: Intake,
                                                        billing: list[Agent]) -> None:
    add_trigger({"name": "Urgent to Billing", "events": ["field_changed"],
                 "conditions": {"all": [{"field": "changed", "includes": "priority"},
                                        {"field": "priority", "is": "urgent"}]},
                 "actions": [{"team": "Billing"}, {"note": "escalated"}]})
    add_trigger({"name": "Note tags", "events": ["note_added"],
                 "conditions": {"any": [{"field": "body", "matches": r"\bvip\b"}]},
                 "actions": [{"add_tags": ["vip"]}]})
    case = file(intake, "Panel")
    update_case(case.pk, "dan", priority="urgent")
    case.refresh_from_db()
    assert case.team == "Billing"
    by_trigger = [e for e in LogEntry.objects.get_for_object(case) if e.additional_data]
    assert [e.additional_data for e in by_trigger] == [{"by": "trigger:Urgent to Billing"}]
    assert ("note", "escalated", "trigger:Urgent to Billing") in history(case)
    post_reply("case", case.pk, None, "This one is a VIP", public=False)
    case.refresh_from_db()
    assert case.tags == ["vip"]


def test_two_triggers_undoing_each_other_stop_at_the_fixed_depth_with_a_note(
        intake: Intake) -> None:
    for name, when, then in (("Up", "low", "high"), ("Down", "high", "low")):
        add_trigger({"name": name, "events": ["field_changed"],
                     "conditions": {"all": [{"field": "priority", "is": when}]},
                     "actions": [{"priority": then}]})
    case = file(intake, "Ping pong")
    update_case(case.pk, "dan", priority="low")
    changes = [e for e in CaseEvent.objects.filter(case=case) if e.field == "priority"]
    # The person's, then both triggers in each round: the event and MAX_DEPTH more.
    assert len(changes) == 1 + 2 * (1 + MAX_DEPTH)
    [stop] = CaseEvent.objects.filter(case=case, field=STOPPED)
    assert f"after {MAX_DEPTH} rounds" in stop.after and "Up" in stop.after


def test_each_trigger_fires_once_per_event_and_sees_the_changes_before_it(
        intake: Intake) -> None:
    add_trigger({"name": "A", "events": ["case_created"], "actions": [{"add_tags": ["a"]}]})
    add_trigger({"name": "B", "events": ["case_created"],
                 "conditions": {"all": [{"field": "tags", "includes": "a"}]},
                 "actions": [{"add_tags": ["b"]}]})
    case = file(intake, "x")
    assert case.tags == ["a", "b"]
    assert [e.actor for e in CaseEvent.objects.filter(case=case)] == ["trigger:A", "trigger:B"]


def test_a_dry_run_changes_nothing_and_says_what_would_happen(
        intake: Intake, billing: list[Agent]) -> None:
    case = file(intake, "Refund")
    add_trigger(REFUNDS)
    outcome = run_triggers(case, "case_created", None, HOSTNAME, dry=True)
    [fired] = outcome.fired
    assert fired.trigger == "Refunds to billing"
    assert fired.done[:3] == ("team: - -> Billing", "assignee: - -> ann", "tags: - -> refund")
    case.refresh_from_db()
    assert case.team == "" and not history(case) and not outcome.outgoing


def test_a_trigger_fired_by_another_s_change_does_not_answer_automated_mail(
        intake: Intake, billing: list[Agent]) -> None:
    add_trigger({"name": "Replies are urgent", "events": ["customer_replied"],
                 "actions": [{"priority": "urgent"}]})
    add_trigger({"name": "Tell of urgency", "events": ["field_changed"],
                 "conditions": {"all": [{"field": "changed", "includes": "priority"}]},
                 "actions": [{"reply": "We took it up."}]})
    case = file(intake, "Panel")
    first = DeskMessage.objects.get(case=case).message_id
    raw = mail(subject="Re: Panel", headers={"Auto-Submitted": "auto-replied",
                                             "In-Reply-To": first, "References": first})[0]
    [item] = file_batch([arrival(intake, raw)], load_table(), HOSTNAME).filed
    assert item.conversation == case  # an auto-reply on a case is kept on it
    case.refresh_from_db()
    assert case.priority == "urgent"
    assert not DeskMessage.objects.filter(case=case, direction=Direction.AUTOMATIC).exists()

"""Each case's SLA clock: the policy that applies, its due times in business time, the clock
standing still while the case is pending, and the warnings and breaches the clock job
tells the triggers, once each."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from casegate.desk.automation.triggers import add_trigger
from casegate.desk.changes import change_fields
from casegate.desk.filing import file_batch
from casegate.desk.filing.prefetch import prefetch
from casegate.desk.merging import merge, split, unmerge
from casegate.desk.models import (
    Case,
    CaseEvent,
    Company,
    Contact,
    DeskMessage,
    Intake,
    SlaCalendar,
)
from casegate.desk.replies import post_reply
from casegate.desk.services import add_agent, update_case
from casegate.desk.sla.alarms import tell_alarms
from casegate.desk.sla.clocks import breached, current_policies, customer_replied, start
from casegate.desk.sla.policies import add_policy
from casegate.desk.vocabulary import CaseChannel
from casegate.routing.snapshot import load_table
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def paris(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PARIS)  # type: ignore[misc]


def open_case(intake: Intake, at: datetime, **fields: object) -> Case:
    """A case opened at ``at``, its clock started as filing starts it."""
    case = Case(intake=intake, subject="Panel dark", requester="dana@example.net",
                created_at=at, received_at=at, **fields)
    event = start(case, at, current_policies())
    case.save()
    if event is not None:
        event.save()
    return case


def set_status(case: Case, status: str, at: datetime) -> None:
    events = change_fields(case, "ann", {"status": status}, now=at)
    case.save()
    CaseEvent.objects.bulk_create(events)


@pytest.fixture
def office_hours(intake: Intake, office: SlaCalendar) -> None:
    add_policy({"name": "Office hours", "calendar": "Paris office", "first_response": "2h",
                "resolution": "16h"})


@pytest.mark.parametrize(("opened", "due"), [
    (paris(2026, 1, 9, 16, 30), paris(2026, 1, 12, 10, 30)),
    (paris(2026, 3, 27, 16, 30), paris(2026, 3, 30, 10, 30)),  # summer time begins Sunday
    (paris(2026, 4, 3, 16, 30), paris(2026, 4, 7, 10, 30)),    # Easter Monday is a holiday
])
def test_a_case_opened_friday_afternoon_is_due_after_the_weekend(
        intake: Intake, office_hours: None, opened: datetime, due: datetime) -> None:
    case = open_case(intake, opened)
    case.refresh_from_db()
    assert case.first_response_due_at == due == case.sla_due_at
    assert case.resolution_due_at == (due + timedelta(days=1)).replace(hour=16)  # 16h
    assert case.sla_alarm_at == due - timedelta(minutes=24)  # 80% of two hours used
    assert [(e.field, e.after, e.actor) for e in CaseEvent.objects.filter(case=case)] == [
        ("sla", "Office hours", "sla:Office hours")]


def test_pending_stops_the_clock_and_the_due_time_moves_by_the_business_time_it_stood(
        intake: Intake, office_hours: None) -> None:
    case = open_case(intake, paris(2026, 1, 9, 16, 30))
    set_status(case, "pending", paris(2026, 1, 9, 16, 45))
    case.refresh_from_db()
    assert case.sla_paused_at == paris(2026, 1, 9, 16, 45)
    assert case.sla_due_at is None and case.sla_alarm_at is None
    set_status(case, "open", paris(2026, 1, 12, 9, 30))  # 15 + 30 business minutes later
    case.refresh_from_db()
    assert case.sla_paused_at is None
    assert case.first_response_due_at == paris(2026, 1, 12, 11, 15)
    set_status(case, "pending", paris(2026, 1, 12, 10))
    set_status(case, "open", paris(2026, 1, 12, 12))
    case.refresh_from_db()
    assert case.first_response_due_at == paris(2026, 1, 12, 13, 15) == case.sla_due_at


def test_a_warning_and_a_breach_are_told_to_the_triggers_once_each(
        intake: Intake, office_hours: None) -> None:
    for event, tag in (("sla_warning", "nearly-late"), ("sla_breached", "late")):
        add_trigger({"name": f"Tag {tag}", "events": [event],
                     "conditions": {"all": [{"field": "changed", "includes": "first_response"}]},
                     "actions": [{"add_tags": [tag]}]})
    case = open_case(intake, paris(2026, 1, 9, 16, 30))
    assert tell_alarms(paris(2026, 1, 12, 10)) == 0
    assert tell_alarms(paris(2026, 1, 12, 10, 10)) == 1  # 10:06, 80% of the time used
    assert tell_alarms(paris(2026, 1, 12, 10, 10)) == 0
    case.refresh_from_db()
    assert case.tags == ["nearly-late"] and case.sla_fired == ["first_response:warning"]
    assert case.sla_alarm_at == paris(2026, 1, 12, 10, 30)
    for _ in range(2):
        tell_alarms(paris(2026, 1, 12, 10, 31))
    case.refresh_from_db()
    assert case.tags == ["late", "nearly-late"]
    assert case.sla_fired == ["first_response:warning", "first_response:breach"]
    assert [(e.field, e.after, e.actor) for e in CaseEvent.objects.filter(case=case)] == [
        ("sla", "Office hours", "sla:Office hours"),
        ("sla", "first response warning", "sla:Office hours"),
        ("tags", "nearly-late", "trigger:Tag nearly-late"),
        ("sla", "first response breach", "sla:Office hours"),
        ("tags", "late, nearly-late", "trigger:Tag late")]
    # the resolution's own warning comes later, and the clock stands still while pending
    set_status(case, "pending", paris(2026, 1, 12, 11))
    assert tell_alarms(paris(2026, 1, 30)) == 0


def test_a_policy_chosen_again_keeps_the_time_the_clock_stood(
        intake: Intake, office: SlaCalendar) -> None:
    add_policy({"name": "Urgent", "calendar": "Paris office", "first_response": "30m",
                "conditions": {"priority": ["urgent"]}})
    add_policy({"name": "Office hours", "calendar": "Paris office", "first_response": "2h"})
    case = open_case(intake, paris(2026, 1, 12, 9))  # Office hours: due 11:00
    set_status(case, "pending", paris(2026, 1, 12, 9, 10))
    set_status(case, "open", paris(2026, 1, 13, 9, 30))  # 8 business hours 20 stood
    change_fields(case, "ann", {"priority": "urgent"}, now=paris(2026, 1, 13, 9, 35))
    # 30 minutes from its creation and the time it stood (not Monday 9:30, a breach at once).
    assert case.first_response_due_at == paris(2026, 1, 13, 9, 50)


def test_the_time_stood_is_counted_in_the_new_policy_s_hours(
        intake: Intake, office: SlaCalendar) -> None:
    add_policy({"name": "Urgent", "first_response": "30m",  # around the clock
                "conditions": {"priority": ["urgent"]}})
    add_policy({"name": "Office hours", "calendar": "Paris office", "first_response": "2h"})
    case = open_case(intake, paris(2026, 1, 12, 9), priority="urgent")
    set_status(case, "pending", paris(2026, 1, 12, 9, 10))
    set_status(case, "open", paris(2026, 1, 14, 9))  # 47 hours 50 stood, 15 h 50 in office
    change_fields(case, "ann", {"priority": "normal"}, now=paris(2026, 1, 14, 9, 5))
    # Two office hours from Monday 9:00 and the 15 h 50 stood: not the 47 h 50 of the
    # clock around the clock (a week later), nor none (Monday 11:00, a breach at once).
    assert case.first_response_due_at == paris(2026, 1, 14, 10, 50)


def test_the_first_policy_whose_conditions_hold_applies(intake: Intake, office: SlaCalendar
                                                         ) -> None:
    add_policy({"name": "Urgent at Acme", "first_response": "30m",
                "conditions": {"priority": ["urgent", "high"], "company": "acme.example"}})
    add_policy({"name": "Everyone else", "first_response": "8h", "calendar": "Paris office",
                "conditions": {"intake": "help@desk.example"}})
    acme = Contact.objects.create(
        address="bo@acme.example", company=Company.objects.create(domain="acme.example"))
    at = paris(2026, 1, 12, 9)
    urgent = open_case(intake, at, priority="urgent", contact=acme)
    normal = open_case(intake, at, contact=acme)
    elsewhere = open_case(intake, at, priority="urgent")
    assert urgent.sla_policy is not None and urgent.sla_policy.name == "Urgent at Acme"
    assert urgent.first_response_due_at == at + timedelta(minutes=30)
    assert normal.sla_policy is not None and normal.sla_policy.name == "Everyone else"
    assert elsewhere.sla_policy == normal.sla_policy
    assert normal.first_response_due_at == paris(2026, 1, 12, 17)
    update_case(normal.pk, "ann", priority="high")  # chosen again, from the case's creation
    normal.refresh_from_db()
    assert normal.sla_policy == urgent.sla_policy
    assert normal.first_response_due_at == at + timedelta(minutes=30)
    assert CaseEvent.objects.filter(case=normal, field="sla").last().before == "Everyone else"


def test_filing_replies_and_status_move_the_clock(intake: Intake) -> None:
    add_policy({"name": "Around the clock", "first_response": "4h", "next_response": "1h",
                "resolution": "24h", "warning": "15m"})
    agent = add_agent("ann@agents.example", "Ann Agent", "ann")
    raw, message_id = mail(subject="Panel dark", message_id="<first@example.net>")
    [item] = file_batch([arrival(intake, raw)], load_table(), HOSTNAME).filed
    case = Case.objects.get(pk=item.conversation.pk)  # type: ignore[union-attr]
    opened = case.created_at
    assert case.first_response_due_at == opened + timedelta(hours=4)
    assert case.sla_alarm_at == opened + timedelta(hours=3, minutes=45)
    post_reply("case", case.pk, agent.user, "Looking into it.")
    case.refresh_from_db()
    assert case.first_responded_at and case.sla_due_at == opened + timedelta(hours=24)
    answer, _ = mail(subject="Re: Panel dark", headers={"In-Reply-To": message_id,
                                                         "References": message_id})
    file_batch([arrival(intake, answer)], load_table(), HOSTNAME)
    case.refresh_from_db()
    assert case.next_response_due_at is not None
    assert case.next_response_due_at - timezone.now() < timedelta(hours=1)
    assert case.sla_due_at == case.next_response_due_at
    post_reply("case", case.pk, agent.user, "Fixed.")
    case.refresh_from_db()
    assert case.next_response_due_at is None
    update_case(case.pk, "ann", status="solved")
    case.refresh_from_db()
    assert case.sla_paused_at and case.sla_due_at is None and case.sla_alarm_at is None


def test_a_trigger_raising_the_priority_of_a_new_case_chooses_its_policy_again(
        intake: Intake) -> None:
    add_policy({"name": "Urgent", "conditions": {"priority": "urgent"},
                "first_response": "30m"})
    add_policy({"name": "Everyone", "first_response": "8h"})
    add_trigger({"name": "Outages are urgent", "events": ["case_created"],
                 "conditions": {"all": [{"field": "subject", "contains": "outage"}]},
                 "actions": [{"priority": "urgent"}]})
    batch = file_batch([arrival(intake, mail(subject="Outage in Lyon")[0]),
                        arrival(intake, mail(subject="A question")[0])], load_table(), HOSTNAME)
    outage, question = (Case.objects.select_related("sla_policy").get(pk=item.conversation.pk)
                        for item in batch.filed)  # type: ignore[union-attr]
    assert outage.sla_policy is not None and outage.sla_policy.name == "Urgent"
    assert outage.first_response_due_at == batch.now + timedelta(minutes=30)
    assert outage.sla_alarm_at == batch.now + timedelta(minutes=24)
    assert question.sla_policy is not None and question.sla_policy.name == "Everyone"
    assert [(e.before, e.after, e.actor) for e in CaseEvent.objects.filter(
        case=outage, field="sla")] == [("", "Everyone", "sla:Everyone"),
                                        ("Everyone", "Urgent", "sla:Urgent")]


@pytest.mark.django_db
def test_each_way_a_status_changes_stamps_the_time_and_moves_the_clock(intake: Intake) -> None:
    """The customer's reopening, an agent's first reply, a merge and its undoing each save
    the status's time (automations count from it) and the SLA clock with the status."""
    add_policy({"name": "Everyone", "first_response": "2h", "resolution": "8h"})
    [first, second] = [item.conversation for item in file_batch(
        [arrival(intake, mail(subject=subject)[0]) for subject in ("One", "Two")],
        load_table(), HOSTNAME).filed]
    assert isinstance(first, Case) and isinstance(second, Case)

    def stamped(case: Case) -> tuple[str, object, object]:
        case.refresh_from_db()
        return case.status, case.status_changed_at, case.sla_paused_at

    update_case(first.pk, "ann", status="pending")
    _, pending_at, paused_at = stamped(first)
    assert paused_at is not None
    file_batch([arrival(intake, mail(subject=f"Re: [#CG-{first.pk}] One")[0])], load_table(),
               HOSTNAME)
    status, reopened_at, paused_at = stamped(first)
    assert status == "open" and reopened_at > pending_at and paused_at is None

    ann = get_user_model().objects.create(username="ann")
    post_reply("case", second.pk, ann, "On it")
    status, replied_at, _ = stamped(second)
    assert status == "open" and replied_at is not None

    merge(first.pk, [second.pk], "ann")
    status, merged_at, paused_at = stamped(second)
    assert status == "closed" and merged_at > replied_at and paused_at is not None
    unmerge(second.pk, "ann")
    status, unmerged_at, paused_at = stamped(second)
    assert status == "open" and unmerged_at > merged_at and paused_at is None


def test_a_case_solved_without_a_reply_owes_none_and_a_new_message_starts_a_new_one(
        intake: Intake) -> None:
    add_policy({"name": "Around the clock", "first_response": "4h", "next_response": "4h"})
    opened = timezone.now() - timedelta(days=8)
    case = open_case(intake, opened, first_responded_at=opened + timedelta(hours=1))
    assert customer_replied(case, opened + timedelta(hours=2))  # "thanks"
    set_status(case, "solved", opened + timedelta(hours=7))  # solved late, unanswered
    assert case.next_response_due_at is None and breached(case) == ["next_response"]
    set_status(case, "open", timezone.now())
    assert customer_replied(case, timezone.now())
    assert case.next_response_due_at - timezone.now() > timedelta(hours=3, minutes=59)
    assert "next_response:breach" not in case.sla_fired


def test_a_target_timed_anew_tells_its_warning_and_breach_again(intake: Intake) -> None:
    add_policy({"name": "Urgent", "conditions": {"priority": ["urgent"]},
                "first_response": "1h"})
    add_policy({"name": "Normal", "first_response": "8h"})
    opened = timezone.now() - timedelta(hours=2)
    case = open_case(intake, opened, priority="urgent")
    case.sla_fired = ["first_response:warning", "first_response:breach"]
    events = change_fields(case, "ann", {"priority": "normal"}, now=timezone.now())
    assert case.first_response_due_at == opened + timedelta(hours=8)
    assert case.sla_fired == [] and breached(case) == [] and events


def test_a_case_split_off_is_timed_like_any_new_case(intake: Intake) -> None:
    add_policy({"name": "Around the clock", "first_response": "4h"})
    raw, message_id = mail(subject="Panel dark", message_id="<dark@example.net>")
    file_batch([arrival(intake, raw)], load_table(), HOSTNAME)
    other, _ = mail(subject="Also the inverter", sender="bo@example.net",
                    headers={"In-Reply-To": message_id, "References": message_id})
    file_batch([arrival(intake, other)], load_table(), HOSTNAME)
    message = DeskMessage.objects.get(subject="Also the inverter")
    created = split(message.pk, "ann", CaseChannel.CONSOLE)
    assert created.sla_policy_id is not None and created.first_response_due_at is not None


def test_a_warning_told_while_a_reply_was_being_read_is_not_told_again(intake: Intake) -> None:
    add_policy({"name": "Around the clock", "first_response": "4h", "next_response": "1h",
                "resolution": "24h", "warning": "15m"})
    raw, message_id = mail(subject="Panel dark", message_id="<late@example.net>")
    [item] = file_batch([arrival(intake, raw)], load_table(), HOSTNAME).filed
    case = Case.objects.get(pk=item.conversation.pk)  # type: ignore[union-attr]
    agent = add_agent("ann@agents.example", "Ann Agent", "ann")
    post_reply("case", case.pk, agent.user, "Looking into it.")
    answer, _ = mail(subject="Re: Panel dark", headers={"In-Reply-To": message_id})
    arrivals = [arrival(intake, answer)]
    known = prefetch(arrivals)  # read before the filing transaction, as the worker does
    assert tell_alarms(case.created_at + timedelta(hours=23, minutes=50)) == 1
    file_batch(arrivals, load_table(), HOSTNAME, known)
    case.refresh_from_db()
    assert "resolution:warning" in case.sla_fired
    tell_alarms(case.created_at + timedelta(hours=23, minutes=50))
    assert CaseEvent.objects.filter(case=case, after="resolution warning").count() == 1

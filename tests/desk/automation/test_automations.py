"""Automations: the hours they count, the clock's pass acting once a period, the set as
data (versions, YAML)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection, connections
from django.utils import timezone

from casegate.desk.automation.automations import AUTOMATIONS
from casegate.desk.automation.rules import TriggerError, check_automation
from casegate.desk.automation.rulesets import TriggerSetError
from casegate.desk.automation.scheduled import preview, run_automations
from casegate.desk.automation.triggers import add_trigger
from casegate.desk.clock import JOBS
from casegate.desk.models import (
    AutomationRun,
    Case,
    CaseEvent,
    DeskMessage,
    Intake,
    Survey,
    WebhookCall,
)
from casegate.desk.services import update_case
from casegate.desk.webhooks.hooks import add_webhook

SOLVE_PENDING = {
    "name": "Solve pending after 3 days",
    "conditions": {"all": [{"field": "status", "is": "pending"},
                           {"field": "hours_since_status_changed", "at_least": 72}]},
    "actions": [{"status": "solved"}],
}


def new_case(intake: Intake, subject: str = "Panel dark", at: datetime | None = None) -> Case:
    at = at or timezone.now()
    return Case.objects.create(intake=intake, subject=subject, requester="dana@example.net",
                               created_at=at, received_at=at)


@pytest.mark.parametrize(("automation", "problem"), [
    ({"name": "x", "actions": [{"status": "solved"}],
      "conditions": {"all": [{"field": "status", "is": "pending"}]}}, "counts at least"),
    ({"name": "x", "actions": [{"status": "solved"}],
      "conditions": {"all": [{"field": "hours_since_created", "less_than": 5}]}},
     "counts at least"),
    ({"name": "x", "actions": [{"status": "solved"}],
      "conditions": {"all": [{"field": "hours_since_created", "at_least": 5}],
                     "any": [{"field": "hours_since_updated", "at_least": 5}]}},
     "in all, not in any"),
    ({"name": "x", "actions": [{"status": "solved"}],
      "conditions": {"all": [{"field": "hours_since_created", "at_least": "5"}]}},
     "whole number of hours"),
    ({"name": "x", "actions": [{"status": "solved"}],
      "conditions": {"all": [{"field": "hours_since_created", "is": 5}]}},
     "takes one of at_least, less_than"),
    ({"name": "x", "actions": [{"status": "solved"}],
      "conditions": {"all": [{"field": "hours_since_created", "at_least": 5},
                             {"field": "body", "contains": "refund"}]}},
     "an automation's condition reads one of"),
    ({"name": "x", "events": ["case_created"], "actions": [{"status": "solved"}],
      "conditions": {"all": [{"field": "hours_since_created", "at_least": 5}]}},
     "an automation has no 'events'"),
])
def test_an_automation_that_cannot_work_is_refused_with_the_reason(
        automation: dict[str, object], problem: str) -> None:
    with pytest.raises(TriggerError, match=problem):
        check_automation(automation)


def test_the_worker_clock_runs_the_automations() -> None:
    assert "automations" in [job.name for job in JOBS]


@pytest.mark.django_db
def test_pending_for_three_days_is_solved_once_when_the_clock_passes_it(intake: Intake
                                                                        ) -> None:
    AUTOMATIONS.add(SOLVE_PENDING)
    add_trigger({"name": "Tag solved", "events": ["field_changed"],
                 "conditions": {"all": [{"field": "changed", "includes": "status"},
                                        {"field": "status", "is": "solved"}]},
                 "actions": [{"add_tags": ["auto-solved"]}]})
    waiting, open_case = new_case(intake), new_case(intake, "Still open")
    update_case(waiting.pk, "ann", status="pending")
    start = timezone.now()

    assert run_automations(start + timedelta(hours=71)) == {SOLVE_PENDING["name"]: 0}
    assert run_automations(start + timedelta(hours=73)) == {SOLVE_PENDING["name"]: 1}
    assert run_automations(start + timedelta(hours=74)) == {SOLVE_PENDING["name"]: 0}

    waiting.refresh_from_db()
    open_case.refresh_from_db()
    assert (waiting.status, waiting.tags) == ("solved", ["auto-solved"])
    assert open_case.status == "new"
    history = list(CaseEvent.objects.filter(case=waiting).values_list("field", "after",
                                                                      "actor"))
    assert ("status", "solved", f"automation:{SOLVE_PENDING['name']}") in history
    assert ("tags", "auto-solved", "trigger:Tag solved") in history
    assert AutomationRun.objects.filter(case=waiting).count() == 1
    audited = LogEntry.objects.get(object_pk=str(waiting.pk),
                                   additional_data__by=f"automation:{SOLVE_PENDING['name']}")
    assert audited.changes["status"] == ["pending", "solved"]


@pytest.mark.django_db
def test_the_webhooks_of_field_changes_hear_of_what_an_automation_changed(intake: Intake
                                                                           ) -> None:
    AUTOMATIONS.add(SOLVE_PENDING)
    add_trigger({"name": "Tag solved", "events": ["field_changed"],
                 "conditions": {"all": [{"field": "status", "is": "solved"}]},
                 "actions": [{"add_tags": ["auto-solved"]}]})
    crm = add_webhook("crm", "https://crm.example/casegate", ["field_changed"]).webhook
    case = new_case(intake)
    update_case(case.pk, "ann", status="pending")
    WebhookCall.objects.all().delete()
    assert run_automations(timezone.now() + timedelta(hours=73))[SOLVE_PENDING["name"]] == 1
    told = [json.loads(call.body) for call in WebhookCall.objects.filter(webhook=crm)
            .order_by("id")]
    assert [(body["changed"], body["case"]["status"], body["case"]["id"]) for body in told] \
        == [(["status"], "solved", case.pk), (["tags"], "solved", case.pk)]


@pytest.mark.django_db
def test_a_status_change_on_one_case_leaves_the_others_time_of_change(intake: Intake) -> None:
    AUTOMATIONS.add({"name": "Remind after 2 days",
                     "conditions": {"all": [{"field": "status", "is": "pending"},
                                            {"field": "hours_since_status_changed",
                                             "at_least": 48}]},
                     "actions": [{"add_tags": ["reminded"]}]})
    add_trigger({"name": "VIPs reopen", "events": ["field_changed"],
                 "conditions": {"all": [{"field": "tags", "includes": "vip"},
                                        {"field": "tags", "includes": "reminded"}]},
                 "actions": [{"status": "open"}]})
    vip, other = new_case(intake, "VIP"), new_case(intake, "Other")
    for case in (vip, other):
        update_case(case.pk, "ann", status="pending")
    update_case(vip.pk, "ann", tags=["vip"])
    other.refresh_from_db()
    waiting_since = other.status_changed_at
    assert run_automations(timezone.now() + timedelta(hours=60))["Remind after 2 days"] == 2
    vip.refresh_from_db()
    other.refresh_from_db()
    assert vip.status == "open" and vip.status_changed_at != waiting_since
    assert (other.status, other.status_changed_at) == ("pending", waiting_since)


@pytest.mark.django_db
def test_a_new_period_begins_when_the_time_counted_from_moves(intake: Intake) -> None:
    AUTOMATIONS.add(SOLVE_PENDING)
    case = new_case(intake)
    update_case(case.pk, "ann", status="pending")
    start = timezone.now()
    assert run_automations(start + timedelta(hours=80))[SOLVE_PENDING["name"]] == 1
    update_case(case.pk, "ann", status="pending")  # the customer's answer did not settle it
    again = timezone.now()
    assert run_automations(again + timedelta(hours=1))[SOLVE_PENDING["name"]] == 0
    assert run_automations(again + timedelta(hours=73))[SOLVE_PENDING["name"]] == 1
    assert run_automations(again + timedelta(hours=90))[SOLVE_PENDING["name"]] == 0
    assert AutomationRun.objects.filter(case=case).count() == 2


@pytest.mark.django_db
def test_an_automation_reads_the_satisfaction_rating(intake: Intake) -> None:
    AUTOMATIONS.add({"name": "Follow up bad ratings", "conditions": {"all": [
        {"field": "satisfaction", "is": "bad"}, {"field": "hours_since_updated", "at_least": 24}]},
        "actions": [{"add_tags": ["follow-up"]}]})
    bad, good = new_case(intake), new_case(intake, "Fine now")
    for case, rating in ((bad, "bad"), (good, "good")):
        Survey.objects.create(case=case, token_sha256=rating * 16, sent_at=timezone.now(),
                              rating=rating, answered_at=timezone.now())
    assert run_automations(timezone.now() + timedelta(hours=25)) == {
        "Follow up bad ratings": 1}
    assert Case.objects.get(pk=bad.pk).tags == ["follow-up"]
    assert Case.objects.get(pk=good.pk).tags == []


@pytest.mark.django_db
def test_hours_since_the_customer_and_the_agent_wrote(intake: Intake) -> None:
    now = timezone.now()
    case = new_case(intake, at=now - timedelta(hours=100))
    DeskMessage.objects.create(case=case, direction="inbound", text="hello",
                               created_at=now - timedelta(hours=100))
    DeskMessage.objects.create(case=case, direction="outbound", text="on it",
                               created_at=now - timedelta(hours=30))
    DeskMessage.objects.create(case=case, direction="inbound", text="away", automated="x",
                               created_at=now - timedelta(hours=1))
    AUTOMATIONS.add({"name": "Nudge", "conditions": {"all": [
        {"field": "hours_since_customer_message", "at_least": 48},
        {"field": "hours_since_agent_reply", "at_least": 24},
        {"field": "hours_since_agent_reply", "less_than": 36}]},
        "actions": [{"add_tags": ["nudge"]}]})
    AUTOMATIONS.add({"name": "Never", "conditions": {"all": [
        {"field": "hours_since_agent_reply", "at_least": 48}]},
        "actions": [{"add_tags": ["never"]}]})
    [nudge, never] = preview(case.pk, now)
    assert (nudge.holds, nudge.changes) == (True, ("tags: - -> nudge",))
    assert not never.holds
    assert run_automations(now) == {"Nudge": 1, "Never": 0}
    case.refresh_from_db()
    assert case.tags == ["nudge"]
    assert preview(case.pk, now)[0].done_this_period


@pytest.mark.django_db
def test_conditions_sql_cannot_read_are_checked_on_the_candidates(intake: Intake) -> None:
    now = timezone.now()
    for subject in ("Refund please", "Panel dark"):
        new_case(intake, subject, at=now - timedelta(hours=10))
    AUTOMATIONS.add({"name": "Refunds", "conditions": {
        "all": [{"field": "hours_since_created", "at_least": 5},
                {"field": "intake", "is": "help@desk.example"},
                {"field": "status", "is_not": ["solved", "closed"]}],
        "any": [{"field": "subject", "contains": "refund"},
                {"field": "tags", "includes": "billing"}]},
        "actions": [{"priority": "high"}]})
    assert run_automations(now) == {"Refunds": 1}
    assert list(Case.objects.order_by("pk").values_list("priority", flat=True)) == [
        "high", "normal"]


@pytest.mark.django_db
def test_the_set_has_versions_rollback_and_yaml_imported_all_or_nothing() -> None:
    AUTOMATIONS.add(SOLVE_PENDING)
    first = AUTOMATIONS.history()[0].number
    exported = AUTOMATIONS.export()
    assert exported.startswith("# casegate automations")
    assert "hours_since_status_changed" in exported
    bad = exported.replace("at_least: 72", "at_least: soon")
    with pytest.raises(TriggerSetError, match=r"automations.yaml:\d+: .*whole number"):
        AUTOMATIONS.import_(bad, "automations.yaml")
    renamed = exported.replace("after 3 days", "after three days")
    dry = AUTOMATIONS.import_(renamed, "automations.yaml", dry_run=True)
    assert "+- name: Solve pending after three days" in dry.diff
    assert AUTOMATIONS.ordered()[0].name == SOLVE_PENDING["name"]
    done = AUTOMATIONS.import_(renamed, "automations.yaml")
    assert done.version is not None
    AUTOMATIONS.rollback(first)
    assert [a.name for a in AUTOMATIONS.ordered()] == [SOLVE_PENDING["name"]]
    assert [v.summary for v in AUTOMATIONS.history()][:2] == [
        f"rollback to version {first}", "import automations.yaml"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_passes_act_once_per_case_in_total(intake: Intake) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("several workers share one database on PostgreSQL")
    AUTOMATIONS.add(SOLVE_PENDING)
    past = timezone.now() - timedelta(days=4)
    Case.objects.bulk_create([Case(intake=intake, subject=f"c{n}", created_at=past,
                                   received_at=past, status="pending")
                              for n in range(600)])
    acted: list[int] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            start.wait()
            acted.append(run_automations()[SOLVE_PENDING["name"]])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(acted) == 600, acted
    assert Case.objects.filter(status="solved").count() == 600
    assert CaseEvent.objects.filter(field="status", after="solved").count() == 600
    assert AutomationRun.objects.count() == 600

"""The clock job run by several workers at once tells each warning and breach once.

Several workers share one PostgreSQL; on SQLite (one worker) the workers take turns."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from casegate.desk.automation.triggers import add_trigger
from casegate.desk.models import Case, CaseEvent, Intake, SlaCalendar, WebhookCall
from casegate.desk.sla import alarms
from casegate.desk.sla.alarms import tell_alarms
from casegate.desk.sla.clocks import current_policies, start
from casegate.desk.sla.policies import add_policy
from casegate.desk.webhooks.hooks import add_webhook

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.django_db(transaction=True)
def test_workers_running_the_job_at_once_tell_each_breach_once(
        intake: Intake, office: SlaCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alarms, "BATCH", 7)  # a run reads its cases a few at a time
    add_policy({"name": "Office hours", "calendar": "Paris office", "first_response": "2h",
                "warning": "0%"})
    add_trigger({"name": "Tag late", "events": ["sla_breached"],
                 "actions": [{"add_tags": ["late"]}]})
    opened = datetime(2026, 1, 9, 16, 30, tzinfo=PARIS)
    cases = []
    for n in range(20):
        case = Case(intake=intake, subject=f"Case {n}", created_at=opened, received_at=opened)
        start(case, opened, current_policies())
        cases.append(case)
    Case.objects.bulk_create(cases)
    told: list[int] = []
    failed: list[BaseException] = []

    def worker() -> None:
        try:
            told.append(tell_alarms(datetime(2026, 1, 12, 11, tzinfo=PARIS)))
        except BaseException as exc:  # a worker's failure fails the test
            failed.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    at_once = connection.vendor != "sqlite"  # the test's SQLite database is one connection's
    for thread in threads:
        thread.start()
        if not at_once:
            thread.join()
    for thread in threads:
        thread.join()
    assert not failed and sum(told) == 20
    assert all(tags == ["late"] for tags in Case.objects.values_list("tags", flat=True))
    assert CaseEvent.objects.filter(field="sla", after="first response breach").count() == 20
    assert CaseEvent.objects.filter(field="tags", actor="trigger:Tag late").count() == 20


@pytest.mark.django_db
def test_a_webhook_of_sla_breached_is_told_each_breach_with_its_target(
        intake: Intake, office: SlaCalendar) -> None:
    crm = add_webhook("crm", "https://crm.example/casegate", ["sla_breached"]).webhook
    add_policy({"name": "Office hours", "calendar": "Paris office", "first_response": "2h",
                "resolution": "4h", "warning": "0%"})
    opened = datetime(2026, 1, 9, 16, 30, tzinfo=PARIS)
    case = Case(intake=intake, subject="Panel dark", created_at=opened, received_at=opened)
    start(case, opened, current_policies())
    case.save()
    assert tell_alarms(datetime(2026, 1, 12, 15, tzinfo=PARIS)) == 2
    told = [json.loads(call.body) for call in WebhookCall.objects.filter(webhook=crm)]
    assert sorted((body["event"], *body["changed"]) for body in told) == [
        ("sla_breached", "first_response"), ("sla_breached", "resolution")]


@pytest.mark.django_db
def test_the_case_an_alarm_is_told_on_stays_locked_while_its_triggers_save_it(
        intake: Intake, office: SlaCalendar) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite the job's transaction holds the one writer's lock already")
    add_policy({"name": "Office hours", "calendar": "Paris office", "first_response": "2h",
                "warning": "0%"})
    opened = datetime(2026, 1, 9, 16, 30, tzinfo=PARIS)
    case = Case(intake=intake, subject="Panel dark", created_at=opened, received_at=opened)
    start(case, opened, current_policies())
    case.save()
    with CaptureQueriesContext(connection) as queries:
        assert tell_alarms(datetime(2026, 1, 12, 15, tzinfo=PARIS)) == 1
    assert any('FROM "desk_case"' in q["sql"] and 'FOR UPDATE OF "desk_case"' in q["sql"]
               for q in queries.captured_queries)

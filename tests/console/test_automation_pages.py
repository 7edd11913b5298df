"""The triggers and automations pages, and applying a macro from a case's page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from casegate.access import add_user
from casegate.desk.automation.automations import AUTOMATIONS
from casegate.desk.automation.macros import add_macro
from casegate.desk.automation.triggers import add_trigger
from casegate.desk.models import Automation, Case, CaseEvent, Trigger
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def case() -> Case:
    intake = add_intake(IntakeKind.CASE, "cases@desk.example")
    return Case.objects.create(intake=intake, subject="Panel", requester="ann@acme.example",
                               created_at=timezone.now(), received_at=timezone.now())


def signed_in(name: str, role: str, csrf: bool = False) -> Client:
    add_user(name, role, PASSWORD, f"{name}@people.example")
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=name, password=PASSWORD)
    return client


def test_the_triggers_page_lists_them_in_order_and_enables_and_disables() -> None:
    add_trigger({"name": "Refunds", "events": ["case_created"],
                 "conditions": {"all": [{"field": "subject", "contains": "refund"}]},
                 "actions": [{"team": "Billing"}]})
    assert signed_in("ann", "agent").get("/console/triggers/").status_code == 403
    admin = signed_in("mia", "mail-settings administrator")
    page = admin.get("/console/triggers/")
    assert page.status_code == 200
    assert b"Refunds" in page.content and b"contains: refund" in page.content
    trigger = Trigger.objects.get()
    answer = admin.post(f"/console/triggers/{trigger.pk}/disable", follow=True)
    assert b"Trigger Refunds disabled." in answer.content
    assert not Trigger.objects.get().enabled
    assert b"disable Refunds" in admin.get("/console/triggers/").content  # its version


def test_an_agent_applies_a_macro_from_the_case_page_with_the_csrf_token(case: Case) -> None:
    add_macro("Pending", [{"status": "pending"}])
    agent = signed_in("ann", "agent", csrf=True)
    page = agent.get(f"/console/cases/{case.pk}/")
    assert b'id="macro-form"' in page.content
    macro_id = add_macro("Solved", [{"status": "solved"}]).pk
    assert agent.post(f"/console/cases/{case.pk}/macro", {"macro": macro_id}).status_code == 403
    token = page.cookies["csrftoken"].value
    answer = agent.post(f"/console/cases/{case.pk}/macro",
                        {"macro": macro_id, "csrfmiddlewaretoken": token}, follow=True)
    assert b"Macro Solved applied." in answer.content
    case.refresh_from_db()
    assert case.status == "solved"
    assert CaseEvent.objects.get(case=case).actor == "ann (macro Solved)"
    viewer = signed_in("vic", "viewer")
    assert viewer.post(f"/console/cases/{case.pk}/macro", {"macro": macro_id}).status_code == 403


def test_the_automations_pages_add_edit_and_roll_back_with_csrf_for_administrators() -> None:
    assert signed_in("ann", "agent").get("/console/automations/").status_code == 403
    admin = signed_in("mia", "mail-settings administrator", csrf=True)
    form = admin.get("/console/automations/new")
    assert b"hours_since_status_changed" in form.content
    token = form.cookies["csrftoken"].value
    text = ("name: Solve pending\nconditions:\n  all:\n  - {field: status, is: pending}\n"
            "  - {field: hours_since_status_changed, at_least: 72}\n"
            "actions:\n- {status: solved}\n")
    assert admin.post("/console/automations/new", {"text": text}).status_code == 403
    added = admin.post("/console/automations/new",
                       {"text": text, "csrfmiddlewaretoken": token}, follow=True)
    assert b"Automation Solve pending saved." in added.content
    automation = Automation.objects.get()
    refused = admin.post(f"/console/automations/{automation.pk}/",
                         {"text": text.replace("72", "soon"), "csrfmiddlewaretoken": token})
    assert b"whole number of hours" in refused.content and b"at_least: soon" in refused.content
    admin.post(f"/console/automations/{automation.pk}/",
               {"text": text.replace("72", "96"), "csrfmiddlewaretoken": token})
    assert Automation.objects.get().conditions["all"][1]["at_least"] == 96
    page = admin.get("/console/automations/")
    assert b"at_least: 96" in page.content and b"edit Solve pending" in page.content
    first = AUTOMATIONS.history()[-1].number
    admin.post(f"/console/automations/versions/{first}/rollback",
               {"csrfmiddlewaretoken": token})
    assert Automation.objects.get().conditions["all"][1]["at_least"] == 72
    admin.post(f"/console/automations/{automation.pk}/remove", {"csrfmiddlewaretoken": token})
    assert not Automation.objects.exists()

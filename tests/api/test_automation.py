"""Triggers, automations and macros over the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from casegate.access import add_user
from casegate.api.tokens import create_token
from casegate.desk.automation.macros import add_macro
from casegate.desk.models import Agent, CaseEvent, Intake
from casegate.spool.models import Delivery
from tests.api.factories import make_case

pytestmark = pytest.mark.django_db


def test_triggers_are_for_mail_settings_administrators(api: Client, intake: Intake) -> None:
    assert api.get("/api/triggers").status_code == 403  # the fixture's token is an agent's
    add_user("mailadmin", "mail-settings administrator", "correct horse battery")
    admin = Client(headers={"Authorization": f"Bearer {create_token('mailadmin')}"})
    trigger = {"name": "VIP", "events": ["case_created"],
               "conditions": {"all": [{"field": "sender_domain", "is": "acme.example"}]},
               "actions": [{"priority": "high"}, {"add_tags": ["vip"]}]}
    created = admin.post("/api/triggers", trigger, content_type="application/json")
    assert created.status_code == 201, created.json()
    shown = created.json()
    assert shown["position"] == 1 and shown["conditions"] == trigger["conditions"]
    assert [t["name"] for t in admin.get("/api/triggers").json()] == ["VIP"]
    case = make_case(intake, requester="bo@acme.example")
    simulated = admin.get("/api/triggers/simulate", {"case": case.pk, "event": "case_created"})
    assert simulated.json() == {"fired": [{"trigger": "VIP", "event": "case_created",
                                           "round": 0, "changes": ["priority: normal -> high",
                                                                   "tags: - -> vip"]}],
                                "stopped": []}
    assert admin.get("/api/triggers/simulate", {"case": 999}).status_code == 404
    refused = admin.post("/api/triggers", {**trigger, "actions": [{"priority": "soon"}]},
                         content_type="application/json")
    assert refused.status_code == 400 and "priority is one of" in refused.json()["detail"]
    assert admin.delete(f"/api/triggers/{shown['id']}").status_code == 204
    assert admin.delete(f"/api/triggers/{shown['id']}").status_code == 404


def test_automations_are_for_mail_settings_administrators(api: Client, intake: Intake) -> None:
    assert api.get("/api/automations").status_code == 403
    add_user("mailadmin", "mail-settings administrator", "correct horse battery")
    admin = Client(headers={"Authorization": f"Bearer {create_token('mailadmin')}"})
    automation = {"name": "Solve pending",
                  "conditions": {"all": [{"field": "status", "is": "pending"},
                                         {"field": "hours_since_status_changed",
                                          "at_least": 72}]},
                  "actions": [{"status": "solved"}]}
    created = admin.post("/api/automations", automation, content_type="application/json")
    assert created.status_code == 201, created.json()
    shown = created.json()
    assert shown["position"] == 1 and shown["conditions"] == automation["conditions"]
    assert [a["name"] for a in admin.get("/api/automations").json()] == ["Solve pending"]
    case = make_case(intake, status="pending", created_at=timezone.now())
    later = (timezone.now() + timedelta(days=4)).isoformat()
    simulated = admin.get("/api/automations/simulate", {"case": case.pk, "now": later})
    assert simulated.json() == [{"automation": "Solve pending", "holds": True,
                                 "done_this_period": False,
                                 "changes": ["status: pending -> solved"], "triggers": []}]
    assert admin.get("/api/automations/simulate", {"case": case.pk}).json()[0]["holds"] is False
    assert admin.get("/api/automations/simulate", {"case": 999}).status_code == 404
    refused = admin.post("/api/automations", {**automation, "conditions": {"all": []}},
                         content_type="application/json")
    assert refused.status_code == 400 and "counts at least" in refused.json()["detail"]
    assert admin.delete(f"/api/automations/{shown['id']}").status_code == 204
    assert admin.delete(f"/api/automations/{shown['id']}").status_code == 404


def test_a_macro_applied_sets_fields_and_mails_its_reply_with_the_placeholders_filled(
        api: Client, agent: Any, intake: Intake) -> None:
    Agent.objects.create(user=agent, teams=["Billing"], signature="Ann from Billing")
    case = make_case(intake, requester="dana@example.net", requester_name="Dana")
    shared = add_macro("Refund sent", [{"status": "pending"}, {"add_tags": ["refunded"]}],
                       "Dear {{requester.name}}, your refund for {{case.number}} is on its "
                       "way.\n{{agent.signature}}")
    add_macro("Someone else's", [{"status": "solved"}], owner=agent.username)
    listed = api.get("/api/macros").json()
    assert [m["name"] for m in listed] == ["Refund sent", "Someone else's"]
    applied = api.post(f"/api/macros/{shared.pk}/apply", {"case": case.pk},
                       content_type="application/json")
    assert applied.status_code == 200, applied.json()
    body = applied.json()
    assert body["case"]["status"] == "pending" and body["case"]["tags"] == ["refunded"]
    assert body["changes"] == ["status: new -> pending", "tags: - -> refunded"]
    assert body["reply"]["text"] == (f"Dear Dana, your refund for CG-{case.pk} is on its way."
                                     "\nAnn from Billing")
    assert body["reply"]["delivery_status"] == "queued"
    assert Delivery.objects.filter(recipient="dana@example.net").exists()
    assert CaseEvent.objects.filter(case=case, field="status",
                                    actor="ann (macro Refund sent)").exists()
    missing = api.post("/api/macros/999/apply", {"case": case.pk},
                       content_type="application/json")
    assert missing.status_code == 404

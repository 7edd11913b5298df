"""SLA calendars and policies over the API, and the SLA clock in the case output."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from casegate.access import add_user
from casegate.api.tokens import create_token
from casegate.desk.models import Case, Intake, SlaPolicy
from tests.api.factories import make_case

pytestmark = pytest.mark.django_db

SLA = {"calendars": [{"name": "Paris office", "timezone": "Europe/Paris",
                      "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]}}],
       "policies": [{"name": "Urgent", "conditions": {"priority": "urgent"},
                     "calendar": "Paris office", "first_response": "1h"},
                    {"name": "Everyone", "first_response": "8h", "warning": "30m"}]}


def test_the_sla_set_is_read_and_replaced_by_mail_settings_administrators(api: Client) -> None:
    assert api.get("/api/sla").status_code == 403  # the fixture's token is an agent's
    add_user("mailadmin", "mail-settings administrator", "correct horse battery")
    admin = Client(headers={"Authorization": f"Bearer {create_token('mailadmin')}"})
    dry = admin.put("/api/sla?dry_run=true", SLA, content_type="application/json")
    assert dry.status_code == 200, dry.json()
    assert dry.json()["version"] is None and "+  first_response: 8h" in dry.json()["diff"]
    assert not SlaPolicy.objects.exists()
    done = admin.put("/api/sla", SLA, content_type="application/json").json()
    assert done["version"] and (done["calendars"], done["policies"]) == (1, 2)
    assert admin.get("/api/sla").json() == SLA
    refused = admin.put("/api/sla", {"policies": [{"name": "X", "calendar": "Nowhere",
                                                   "first_response": "1h"}]},
                        content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["detail"] == ("body:4: there is no calendar 'Nowhere' in the file\n"
                                        "nothing was changed")
    versions = admin.get("/api/sla/versions").json()
    assert versions[0]["summary"] == "import body"
    rolled = admin.post("/api/sla/rollback", {"version": 0}, content_type="application/json")
    assert rolled.status_code == 200 and rolled.json()["policies"] == 0


def test_a_case_shows_its_sla_clock_and_the_list_filters_by_due_time(
        api: Client, intake: Intake) -> None:
    policy = SlaPolicy.objects.create(name="Everyone", position=1, first_response_minutes=60)
    soon = timezone.now() - timedelta(minutes=5)
    late = make_case(intake)
    Case.objects.filter(pk=late.pk).update(sla_policy=policy, first_response_due_at=soon,
                                           sla_due_at=soon)
    later = make_case(intake)
    shown = api.get(f"/api/cases/{late.pk}").json()
    assert shown["sla"] == {"policy": "Everyone", "due_at": shown["first_response_due_at"],
                            "paused_at": None, "breached": ["first_response"]}
    assert shown["next_response_due_at"] is None and shown["resolution_due_at"] is None
    assert api.get(f"/api/cases/{later.pk}").json()["sla"]["policy"] is None
    due = api.get("/api/cases", {"due_before": timezone.now().isoformat()}).json()["items"]
    assert [c["id"] for c in due] == [late.pk]

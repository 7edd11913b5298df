"""The SLA page (for mail-settings administrators, with the CSRF token) and the SLA clock on
the case page and in the case list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from casegate.desk.models import Case, SlaPolicy
from casegate.desk.services import add_intake
from casegate.desk.sla.policies import add_policy, export_sla
from casegate.desk.vocabulary import IntakeKind
from tests.console.test_automation_pages import signed_in

pytestmark = pytest.mark.django_db

def test_the_sla_page_checks_saves_and_brings_back_versions() -> None:
    add_policy({"name": "Everyone", "first_response": "8h"})
    assert signed_in("ann", "agent").get("/console/sla/").status_code == 403
    admin = signed_in("mia", "mail-settings administrator", csrf=True)
    page = admin.get("/console/sla/")
    assert page.status_code == 200 and b"Everyone" in page.content
    token = page.cookies["csrftoken"].value
    text = export_sla().replace("first_response: 8h", "first_response: 4h")
    assert admin.post("/console/sla/save", {"text": text, "action": "save"}).status_code == 403
    checked = admin.post("/console/sla/save", {"text": text, "action": "check",
                                               "csrfmiddlewaretoken": token})
    assert b"+  first_response: 4h" in checked.content
    assert SlaPolicy.objects.get().first_response_minutes == 480
    broken = admin.post("/console/sla/save", {"text": text + "  - name: <b>x</b>\n",
                                              "action": "save", "csrfmiddlewaretoken": token})
    assert broken.status_code == 400 and b"&lt;b&gt;x&lt;/b&gt;" in broken.content
    assert b"<b>x</b>" not in broken.content
    saved = admin.post("/console/sla/save", {"text": text, "action": "save",
                                             "csrfmiddlewaretoken": token}, follow=True)
    assert b"Saved 0 calendars and 1 policies." in saved.content
    assert SlaPolicy.objects.get().first_response_minutes == 240
    first = min(v.number for v in saved.context["versions"])
    admin.post(f"/console/sla/versions/{first}/rollback", {"csrfmiddlewaretoken": token})
    assert SlaPolicy.objects.get().first_response_minutes == 480


def test_the_case_page_and_list_show_the_due_times_the_list_sorted_by_them() -> None:
    intake = add_intake(IntakeKind.CASE, "cases@desk.example")
    policy = add_policy({"name": "Everyone", "first_response": "8h"})
    now = timezone.now()
    cases = [Case.objects.create(intake=intake, subject=f"Case {n}", requester="a@b.example",
                                 created_at=now, received_at=now, sla_policy=policy,
                                 first_response_due_at=now + timedelta(hours=hours),
                                 sla_due_at=now + timedelta(hours=hours))
             for n, hours in enumerate((5, -1, 3))]
    agent = signed_in("ann", "agent")
    page = agent.get(f"/console/cases/{cases[1].pk}/").content.decode()
    assert 'id="sla"' in page and "Everyone" in page and "breached" in page
    listed = agent.get("/console/cases/", {"sort": "due"})
    shown = [c.pk for c in listed.context["cases"]]
    assert shown == [cases[1].pk, cases[2].pk, cases[0].pk]
    newest_first = [c.pk for c in agent.get("/console/cases/").context["cases"]]
    assert newest_first == [cases[2].pk, cases[1].pk, cases[0].pk]

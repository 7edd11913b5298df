"""Saved views in the case list's sidebar, the list's sort and pages, and the reports page
with its charts and CSV exports, with their permission and CSRF checks."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from casegate.desk.models import Case, SavedView, Survey
from casegate.desk.vocabulary import CaseStatus
from tests.console.test_access import signed_in
from tests.console.test_case_tools import make

pytestmark = pytest.mark.django_db


def test_an_agent_saves_a_view_sees_its_count_and_applies_it() -> None:
    for n in range(3):
        make(f"Panel {n}", "text")
    Case.objects.filter(subject="Panel 0").update(status=CaseStatus.PENDING)
    client = signed_in("agent")
    answer = client.post("/console/cases/views", {"name": "Waiting", "status": "pending",
                                                  "sort": "-created"})
    assert answer.status_code == 302 and "status=pending" in answer["Location"]
    view = SavedView.objects.get(name="Waiting")
    assert view.owner is not None and view.filters == {"status": "pending", "sort": "-created"}
    page = client.get(answer["Location"]).content.decode()
    assert 'aria-current="page">Waiting</a>' in page
    assert '<span class="badge" title="cases">1</span>' in page
    assert "Panel 0" in page and "Panel 1" not in page
    # another agent does not see it; a viewer cannot remove it
    assert "Waiting" not in signed_in("viewer").get("/console/cases/").content.decode()
    assert signed_in("viewer").post(f"/console/cases/views/{view.pk}/remove").status_code == 404


def test_sharing_a_view_needs_the_privilege_and_the_csrf_token() -> None:
    make("Panel", "text")
    agent = signed_in("agent")
    assert agent.post("/console/cases/views", {"name": "Team", "shared": "1"}
                      ).status_code == 403
    assert signed_in("super administrator", csrf=True).post(
        "/console/cases/views", {"name": "Team", "shared": "1"}).status_code == 403
    assert not SavedView.objects.exists()
    admin = signed_in("super administrator")
    assert admin.post("/console/cases/views", {"name": "Team", "shared": "1",
                                               "queue": "open"}).status_code == 302
    shared = SavedView.objects.get(name="Team", owner=None)
    page = agent.get("/console/cases/").content.decode()
    assert "Team</a>" in page and f"/console/cases/views/{shared.pk}/remove" not in page
    assert agent.post(f"/console/cases/views/{shared.pk}/remove").status_code == 403
    assert admin.post(f"/console/cases/views/{shared.pk}/remove").status_code == 302
    assert not SavedView.objects.exists()


def test_a_view_with_a_search_counts_what_the_search_finds() -> None:
    make("Inverter", "the refund was never paid")
    make("Other", "nothing")
    client = signed_in("agent")
    client.post("/console/cases/views", {"name": "Refunds", "q": "refund"})
    page = client.get("/console/cases/").content.decode()
    assert 'Refunds</a>\n      <span class="badge" title="cases">1</span>' in page


def test_the_list_sorts_by_a_column_and_pages() -> None:
    for n in range(55):
        make(f"Case {n:02d}", "text")
    client = signed_in("agent")
    first = client.get("/console/cases/", {"sort": "subject"}).content.decode()
    assert first.index("Case 00") < first.index("Case 01")
    assert "Case 54" not in first and "Page 1 of 2 (55 cases)" in first
    assert 'aria-sort="ascending"' in first and "sort=-subject" in first
    second = client.get("/console/cases/", {"sort": "subject", "page": "2"}).content.decode()
    assert "Case 54" in second and "Case 00" not in second
    # a sort it does not know falls back to the newest first
    assert client.get("/console/cases/", {"sort": "password"}).status_code == 200


def test_the_reports_page_draws_its_charts_and_exports_each_table() -> None:
    case = make("=HYPERLINK(\"x\")", "text", team="=cmd")
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(first_responded_at=case.created_at
                                           + timedelta(hours=2))
    client = signed_in("viewer")
    page = client.get("/console/reports/").content.decode()
    assert page.count("<svg") == 4 and "<script src=\"http" not in page
    assert "2 h 00 min" in page
    for table in ("volume", "teams", "agents", "backlog"):
        answer = client.get(f"/console/reports/{table}.csv",
                            {"first": (now - timedelta(days=1)).date().isoformat()})
        assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.content.decode())))
        assert len(rows) >= 2
    teams = list(csv.reader(io.StringIO(client.get("/console/reports/teams.csv")
                                        .content.decode())))
    assert teams[0][:3] == ["team", "cases", "answered"]
    assert teams[2][:4] == ["'=cmd", "1", "1", "7200.0"]  # no formula for a spreadsheet
    assert client.get("/console/reports/nothing.csv").status_code == 404
    assert client.get("/console/reports/satisfaction.csv").status_code == 404


def test_the_reports_page_shows_the_satisfaction_answers_of_its_days() -> None:
    case = make("Panel dark", "text", team="red")
    Survey.objects.create(case=case, token_sha256="0" * 64, sent_at=timezone.now(),
                          rating="bad", answered_at=timezone.now(), team="red")
    client = signed_in("viewer")
    page = client.get("/console/reports/").content.decode()
    assert 'id="report-satisfaction"' in page and "<td>red</td>" in page
    rows = list(csv.reader(io.StringIO(client.get("/console/reports/satisfaction.csv")
                                       .content.decode())))
    assert rows[0] == ["by", "name", "rated", "good", "bad", "good_share"]
    assert ["team", "red", "1", "0", "1", "0.0"] in rows


def test_reports_are_for_those_who_see_every_case() -> None:
    assert signed_in("agent").get("/console/reports/").status_code == 403
    assert signed_in("agent").get("/console/reports/volume.csv").status_code == 403
    assert signed_in("mail-settings administrator").get("/console/reports/").status_code == 200

"""Leads over the API: list, detail, status, conversion and replies."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from casegate.desk.models import Company, Contact, DeskMessage, Intake, Lead
from casegate.desk.vocabulary import Direction
from tests.api.factories import at, make_lead, make_message

pytestmark = pytest.mark.django_db


def test_leads_are_listed_newest_first_with_filters(api: Client, lead_intake: Intake) -> None:
    first = make_lead(lead_intake, created_at=at(1))
    second = make_lead(lead_intake, status="working", subject="Batteries", created_at=at(2))
    listed = api.get("/api/leads").json()
    assert [item["id"] for item in listed["items"]] == [second.pk, first.pk]
    assert listed["next_cursor"] is None and listed["items"][0]["status"] == "working"
    assert set(listed["items"][0]) >= {"subject", "requester", "intake", "created_at"}
    assert "priority" not in listed["items"][0]
    for query, expected in [({"status": "working"}, [second.pk]), ({"q": "batter"}, [second.pk]),
                            ({"created_before": at(2).isoformat()}, [first.pk]),
                            ({"intake": "sales@example.com"}, [second.pk, first.pk])]:
        assert [i["id"] for i in api.get("/api/leads", query).json()["items"]] == expected
    assert api.get("/api/leads", {"status": "open"}).status_code == 422


def test_lead_pages_use_the_same_cursors(api: Client, lead_intake: Intake) -> None:
    made = [make_lead(lead_intake).pk for _ in range(5)]
    page = api.get("/api/leads", {"limit": 4}).json()
    rest = api.get("/api/leads", {"limit": 4, "cursor": page["next_cursor"]}).json()
    assert [i["id"] for i in page["items"] + rest["items"]] == made[::-1]
    assert rest["next_cursor"] is None
    assert api.get("/api/leads", {"cursor": "nope"}).status_code == 400


def test_the_detail_has_the_thread(api: Client, lead_intake: Intake) -> None:
    lead = make_lead(lead_intake)
    make_message(lead, text="Price for 40 panels?")
    detail = api.get(f"/api/leads/{lead.pk}").json()
    assert detail["status"] == "new" and detail["converted_by"] is None
    assert [m["text"] for m in detail["messages"]] == ["Price for 40 panels?"]
    assert detail["messages"][0]["lead"] == lead.pk and detail["messages"][0]["case"] is None
    assert api.get("/api/leads/999").json() == {"detail": "there is no lead 999"}


def test_patch_sets_the_status(api: Client, lead_intake: Intake) -> None:
    lead = make_lead(lead_intake)
    url = f"/api/leads/{lead.pk}"
    response = api.patch(url, {"status": "qualified"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "qualified"
    assert api.patch(url, {}, content_type="application/json").json()["status"] == "qualified"
    bad = api.patch(url, {"status": "won"}, content_type="application/json")
    assert bad.status_code == 422 and "body.status" in bad.json()["detail"]
    missing = api.patch("/api/leads/999", {"status": "new"}, content_type="application/json")
    assert missing.status_code == 404


def test_convert_creates_contact_and_company_once(api: Client, lead_intake: Intake) -> None:
    lead = make_lead(lead_intake, requester="buyer@acme.example")
    response = api.post(f"/api/leads/{lead.pk}/convert")
    assert response.status_code == 200 and response.json()["status"] == "converted"
    lead.refresh_from_db()
    assert lead.converted_by == "ann"
    assert Contact.objects.get().company == Company.objects.get(domain="acme.example")
    again = api.post(f"/api/leads/{lead.pk}/convert")
    assert again.status_code == 409 and "converted already" in again.json()["detail"]
    assert api.post("/api/leads/999/convert").status_code == 404


def test_replies_and_thread_of_a_lead(api: Client, lead_intake: Intake, agent: Any) -> None:
    lead = make_lead(lead_intake)
    response = api.post(f"/api/leads/{lead.pk}/replies", {"text": "Send a quote", "public": False},
                        content_type="application/json")
    assert response.status_code == 201 and response.json()["lead"] == lead.pk
    note = DeskMessage.objects.get()
    assert note.direction == Direction.NOTE and note.lead == lead
    public = api.post(f"/api/leads/{lead.pk}/replies", {"text": "Our quote is attached."},
                      content_type="application/json")
    assert public.status_code == 201 and public.json()["direction"] == "outbound"
    thread = api.get(f"/api/leads/{lead.pk}/messages").json()
    assert [m["id"] for m in thread["items"]] == [note.pk, public.json()["id"]]
    assert Lead.objects.get().status == "new"  # replying leaves a lead's status alone
    assert api.get("/api/leads/999/messages").status_code == 404


def test_a_lead_converted_by_its_status_is_converted_by_someone_and_stays_so(
        api: Client, lead_intake: Intake) -> None:
    lead = make_lead(lead_intake, requester="buyer@acme.example")
    url = f"/api/leads/{lead.pk}"
    response = api.patch(url, {"status": "converted"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "converted"
    lead.refresh_from_db()
    assert lead.converted_by == "ann" and lead.converted_at is not None
    assert lead.contact is not None and lead.contact.address == "buyer@acme.example"
    assert api.patch(url, {"status": "converted"}, content_type="application/json"
                     ).status_code == 200
    back = api.patch(url, {"status": "new"}, content_type="application/json")
    assert back.status_code == 409 and "a converted lead stays so" in back.json()["detail"]
    other = make_lead(lead_intake, status="disqualified")
    again = api.patch(f"/api/leads/{other.pk}", {"status": "working"},
                      content_type="application/json")
    assert again.status_code == 200 and again.json()["status"] == "working"

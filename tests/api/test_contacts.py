"""Contacts and companies over the API."""

from __future__ import annotations

import pytest
from django.test import Client

from casegate.desk.models import Company, Contact, Intake
from tests.api.factories import make_case, make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme() -> Company:
    return Company.objects.create(domain="acme.example", name="Acme Solar")


def test_contacts_filter_and_page(api: Client, acme: Company) -> None:
    bo = Contact.objects.create(address="bo@acme.example", name="Bo Berg", company=acme)
    cy = Contact.objects.create(address="cy@acme.example", name="Cy", company=acme)
    dana = Contact.objects.create(address="dana@example.net", name="Dana")
    listed = api.get("/api/contacts").json()
    assert [c["id"] for c in listed["items"]] == [dana.pk, cy.pk, bo.pk]
    assert listed["items"][1]["company"] == "acme.example"
    assert listed["items"][0]["company"] is None
    for query, expected in [({"q": "berg"}, [bo.pk]), ({"q": "DANA@"}, [dana.pk]),
                            ({"company": "ACME.example"}, [cy.pk, bo.pk]),
                            ({"company": "acme.example", "q": "cy"}, [cy.pk])]:
        assert [c["id"] for c in api.get("/api/contacts", query).json()["items"]] == expected
    page = api.get("/api/contacts", {"limit": 2}).json()
    rest = api.get("/api/contacts", {"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [c["id"] for c in page["items"] + rest["items"]] == [dana.pk, cy.pk, bo.pk]
    assert api.get("/api/contacts", {"cursor": "%%%"}).status_code == 400


def test_a_contact_with_their_cases_and_leads(api: Client, acme: Company, intake: Intake,
                                              lead_intake: Intake) -> None:
    bo = Contact.objects.create(address="bo@acme.example", company=acme)
    cases = [make_case(intake, contact=bo).pk for _ in range(2)]
    lead = make_lead(lead_intake, contact=bo)
    make_case(intake)  # someone else's
    body = api.get(f"/api/contacts/{bo.pk}").json()
    assert body["address"] == "bo@acme.example" and body["company"] == "acme.example"
    assert body["cases"] == cases[::-1] and body["leads"] == [lead.pk]
    assert api.get("/api/contacts/999").json() == {"detail": "there is no contact 999"}


def test_companies(api: Client, acme: Company) -> None:
    other = Company.objects.create(domain="bolt.example", name="Bolt")
    bo = Contact.objects.create(address="bo@acme.example", company=acme)
    assert [c["id"] for c in api.get("/api/companies").json()["items"]] == [other.pk, acme.pk]
    assert [c["id"] for c in api.get("/api/companies", {"q": "solar"}).json()["items"]] == [
        acme.pk]
    body = api.get(f"/api/companies/{acme.pk}").json()
    assert body["domain"] == "acme.example" and body["name"] == "Acme Solar"
    assert body["contacts"] == [bo.pk]
    assert api.get("/api/companies/999").status_code == 404


def test_an_agent_sees_only_the_case_numbers_of_their_teams(api: Client, acme: Company,
                                                            intake: Intake) -> None:
    bo = Contact.objects.create(address="bo@acme.example", company=acme)
    own = make_case(intake, contact=bo, requester=bo.address)
    billing = make_case(intake, contact=bo, requester=bo.address, team="billing")
    assert api.get(f"/api/contacts/{bo.pk}").json()["cases"] == [own.pk]
    case = api.get(f"/api/cases/{own.pk}").json()
    assert billing.pk not in case["other_cases"]
    assert api.get(f"/api/cases/{billing.pk}").status_code == 404

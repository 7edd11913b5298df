"""Intakes' survey, signature and texts, and agents' signatures, over the API; a reply
through the API is signed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from casegate.access import add_user
from casegate.api.tokens import create_token
from casegate.desk.models import Case, DeskMessage, Intake, Survey
from casegate.desk.services import add_agent

pytestmark = pytest.mark.django_db


def send(client: Client, method: str, path: str, body: dict[str, Any]) -> Any:
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def admin(db: None) -> Client:
    add_user("mia", "mail-settings administrator", "a long password!", "mia@solarmora.com")
    return Client(headers={"Authorization": f"Bearer {create_token('mia', 'tests')}"})


def test_a_reply_through_the_api_carries_the_intakes_signature_when_the_agent_has_none(
        api: Client, admin: Client, intake: Intake) -> None:
    answer = send(admin, "patch", f"/api/intakes/{intake.pk}",
                  {"survey": True, "signature": "{{agent.name}} for {{case.team}}, "
                                                "{{case.number}}"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["survey"] is True
    add_agent("ann@solarmora.com", "Ann", "ann", ["Billing"])  # no signature of her own
    case = Case.objects.create(intake=intake, subject="Panel", team="Billing",
                               requester="dana@example.net", created_at=timezone.now(),
                               received_at=timezone.now())
    sent = send(api, "post", f"/api/cases/{case.pk}/replies", {"text": "Fixed."})
    assert sent.status_code == 201, sent.content
    assert sent.json()["text"] == f"Fixed.\n\nAnn for Billing, CG-{case.pk}\n"
    add_agent("ann@solarmora.com", "Ann Lee", "ann", ["Billing"],
              signature="Ann, {{case.number}}")
    signed = send(api, "post", f"/api/cases/{case.pk}/replies", {"text": "Also this."})
    assert signed.json()["text"] == f"Also this.\n\nAnn, CG-{case.pk}\n"
    note = send(api, "post", f"/api/cases/{case.pk}/replies", {"text": "inside", "public": False})
    assert note.json()["text"] == "inside"  # notes are never signed
    assert DeskMessage.objects.filter(case=case).count() == 3


def test_intake_texts_and_settings_need_the_mail_settings_privilege(
        api: Client, admin: Client, intake: Intake) -> None:
    assert send(api, "patch", f"/api/intakes/{intake.pk}", {"survey": True}).status_code == 403
    put = send(admin, "put", f"/api/intakes/{intake.pk}/texts/survey/pt",
               {"subject": "Sua opinião", "body": "Olá! {{survey.link}}"})
    assert put.status_code == 200, put.content
    assert put.json()["texts"] == [{"kind": "survey", "language": "pt",
                                    "subject": "Sua opinião", "body": "Olá! {{survey.link}}\n"}]
    missing_link = send(admin, "put", f"/api/intakes/{intake.pk}/texts/survey/pt",
                        {"body": "Olá!"})
    assert missing_link.status_code == 400 and "survey.link" in missing_link.json()["detail"]
    assert send(admin, "put", f"/api/intakes/{intake.pk}/texts/survey/xx",
                {"body": "{{survey.link}}"}).status_code == 400
    back = send(admin, "put", f"/api/intakes/{intake.pk}/texts/survey/pt", {"body": ""})
    assert back.json()["texts"] == []
    assert admin.get(f"/api/intakes/{intake.pk}").json()["address"] == "help@example.com"


def test_an_agent_sets_their_own_signature_only(api: Client, admin: Client) -> None:
    add_agent("ann@solarmora.com", "Ann Lee", "ann")
    add_agent("bob@solarmora.com", "Bob Ray", "bob")
    own = send(api, "patch", "/api/agents/ann", {"signature": "{{agent.name}}"})
    assert own.status_code == 200 and own.json()["signature"] == "{{agent.name}}"
    assert send(api, "patch", "/api/agents/bob", {"signature": "x"}).status_code == 403
    assert send(admin, "patch", "/api/agents/bob", {"signature": "Bob"}).json()["signature"] \
        == "Bob"
    refused = send(api, "patch", "/api/agents/ann", {"signature": "{{agent.signature}}"})
    assert refused.status_code == 400


def test_the_case_detail_has_the_satisfaction_rating(api: Client, intake: Intake) -> None:
    case = Case.objects.create(intake=intake, subject="Panel", requester="dana@example.net",
                               created_at=timezone.now(), received_at=timezone.now())
    assert api.get(f"/api/cases/{case.pk}").json()["satisfaction"] is None
    Survey.objects.create(case=case, token_sha256="0" * 64, sent_at=timezone.now(),
                          rating="bad", comment="slow", answered_at=timezone.now(),
                          changed_at=timezone.now())
    rated = api.get(f"/api/cases/{case.pk}").json()["satisfaction"]
    assert (rated["rating"], rated["comment"]) == ("bad", "slow")
    assert rated["changeable_until"] > rated["answered_at"]

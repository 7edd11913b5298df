"""Suspended mail and blocked senders over the API."""

from __future__ import annotations

from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from casegate.access import VIEWER
from casegate.api.tokens import create_token
from casegate.desk.models import BlockedSender, Case, Intake
from casegate.desk.services import add_agent, add_intake
from casegate.desk.vocabulary import IntakeKind, SuspensionCause
from tests.api.factories import at, make_suspended

pytestmark = pytest.mark.django_db


def post(api: Client, path: str, body: dict[str, Any]) -> Any:
    return api.post(path, body, content_type="application/json")


def test_suspended_mail_is_listed_newest_first_with_filters(api: Client, intake: Intake) -> None:
    other = add_intake(IntakeKind.CASE, "other@example.com")
    first = make_suspended(intake, spam_score=12.5, auth_results="gw.test; dkim=fail")
    second = make_suspended(other, cause=SuspensionCause.SPAM, created_at=at(1))
    listed = api.get("/api/suspended").json()
    assert [item["id"] for item in listed["items"]] == [second.pk, first.pk]
    item = listed["items"][1]
    assert {k: item[k] for k in ("intake", "subject", "sender", "cause", "reason", "spam_score",
                                 "auth_results", "state", "case")} == {
        "intake": "help@example.com", "subject": "Out of office",
        "sender": "away@acme.example", "cause": "auto_mailer",
        "reason": "Auto-Submitted: auto-replied", "spam_score": 12.5,
        "auth_results": "gw.test; dkim=fail", "state": "suspended", "case": None}
    for query, expected in [({"cause": "spam"}, [second.pk]),
                            ({"intake": "HELP@example.com"}, [first.pk]),
                            ({"intake": "nobody@example.com"}, [])]:
        assert [i["id"] for i in api.get("/api/suspended", query).json()["items"]] == expected
    assert api.get("/api/suspended", {"cause": "junk"}).status_code == 422


def test_recovering_opens_cases_and_is_audited_under_the_tokens_user(
        api: Client, intake: Intake) -> None:
    first, second = make_suspended(intake), make_suspended(intake, subject="Second")
    response = post(api, "/api/suspended/recover", {"ids": [second.pk, first.pk]})
    assert response.status_code == 200
    recovered = response.json()
    assert [(r["id"], r["state"]) for r in recovered] == [(first.pk, "recovered"),
                                                           (second.pk, "recovered")]
    assert recovered[0]["case"] == Case.objects.get(subject="Out of office").pk
    assert api.get("/api/suspended").json()["items"] == []
    [entry, _] = LogEntry.objects.filter(content_type__model="suspendedmessage",
                                         action=LogEntry.Action.UPDATE)
    assert entry.actor.get_username() == "ann" and entry.changes == {
        "state": ["suspended", "recovered"]}


def test_deleting_all_or_nothing(api: Client, intake: Intake) -> None:
    first, second = make_suspended(intake), make_suspended(intake)
    assert post(api, "/api/suspended/delete", {"ids": [first.pk]}).json()[0]["state"] == (
        "deleted")
    again = post(api, "/api/suspended/delete", {"ids": [second.pk, first.pk]})
    assert again.status_code == 409
    assert again.json() == {"detail": f"#{first.pk} was deleted already"}
    missing = post(api, "/api/suspended/recover", {"ids": [second.pk, 999]})
    assert missing.status_code == 404 and "there is no suspended message 999" in (
        missing.json()["detail"])
    assert post(api, "/api/suspended/delete", {"ids": []}).status_code == 422
    assert [i["id"] for i in api.get("/api/suspended").json()["items"]] == [second.pk]


def test_blocking_listing_and_unblocking_senders(api: Client, intake: Intake) -> None:
    created = post(api, "/api/blocked-senders", {"intake": "help@example.com",
                                                 "entry": "Pest@Acme.example"})
    assert created.status_code == 201
    blocked = created.json()
    assert (blocked["intake"], blocked["entry"]) == ("help@example.com", "pest@acme.example")
    assert post(api, "/api/blocked-senders", {"intake": "help@example.com",
                                              "entry": "pest@acme.example"}).status_code == 409
    assert post(api, "/api/blocked-senders", {"intake": "nobody@example.com",
                                              "entry": "acme.example"}).status_code == 404
    assert post(api, "/api/blocked-senders", {"intake": "help@example.com",
                                              "entry": "not a domain"}).status_code == 422
    assert [b["entry"] for b in api.get("/api/blocked-senders").json()] == ["pest@acme.example"]
    assert api.get("/api/blocked-senders", {"intake": "x@example.com"}).json() == []
    assert api.delete(f"/api/blocked-senders/{blocked['id']}").status_code == 204
    assert api.delete(f"/api/blocked-senders/{blocked['id']}").status_code == 404
    kinds = LogEntry.objects.filter(content_type__model="blockedsender")
    assert [(e.get_action_display(), e.actor.get_username()) for e in kinds.order_by("id")] == [
        ("create", "ann"), ("delete", "ann")]


def test_a_viewer_reads_but_changes_nothing(intake: Intake) -> None:
    user = get_user_model().objects.create_user("vic", "vic@solarmora.com")
    user.groups.add(Group.objects.get_or_create(name=VIEWER)[0])
    viewer = Client(headers={"Authorization": f"Bearer {create_token('vic', 'tests')}"})
    entry = make_suspended(intake)
    assert viewer.get("/api/suspended").status_code == 200
    assert post(viewer, "/api/suspended/recover", {"ids": [entry.pk]}).status_code == 403
    assert post(viewer, "/api/blocked-senders", {"intake": "help@example.com",
                                                 "entry": "acme.example"}).status_code == 403


def test_an_agent_reaches_only_the_intakes_of_their_teams(api: Client, agent: Any) -> None:
    add_agent(agent.email, username=agent.username, teams=["Support"])
    billing = add_intake(IntakeKind.CASE, "billing@example.com", team="Billing")
    hidden = make_suspended(billing)
    BlockedSender.objects.create(intake=billing, entry="acme.example")
    assert api.get("/api/suspended").json()["items"] == []
    assert api.get("/api/blocked-senders").json() == []
    assert post(api, "/api/suspended/delete", {"ids": [hidden.pk]}).status_code == 404
    assert post(api, "/api/blocked-senders", {"intake": "billing@example.com",
                                              "entry": "pest.example"}).status_code == 404
    blocked = BlockedSender.objects.get()
    assert api.delete(f"/api/blocked-senders/{blocked.pk}").status_code == 404

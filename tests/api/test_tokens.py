"""API tokens: created for active users, stored hashed, checked on every call but /health."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from casegate.api.models import ApiToken
from casegate.api.tokens import (
    TokenError,
    create_token,
    list_tokens,
    revoke_token,
    user_for,
)
from casegate.errors import CasegateError

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_and_stored_as_its_digest(agent: Any) -> None:
    key = create_token("ann", "laptop")
    assert key.startswith("cg_") and len(key) > 40
    token = ApiToken.objects.get()
    assert token.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:12] and token.name == "laptop" and token.user == agent
    assert key not in {token.key_sha256, token.prefix, token.name}


def test_tokens_differ(agent: Any) -> None:
    assert create_token("ann") != create_token("ann")
    assert len(set(ApiToken.objects.values_list("prefix", flat=True))) == 2


def test_an_unknown_or_inactive_user_gets_no_token(agent: Any) -> None:
    with pytest.raises(TokenError, match="there is no user 'nobody'"):
        create_token("nobody")
    agent.is_active = False
    agent.save()
    with pytest.raises(CasegateError, match="'ann' is inactive"):
        create_token("ann")
    assert not ApiToken.objects.exists()


def test_user_for_knows_only_current_keys_of_active_users(agent: Any) -> None:
    key = create_token("ann")
    assert user_for(key) == agent
    for wrong in ("", key[:-1], key + "x", "cg_" + "x" * 500, "Bearer " + key, "cg_é"):
        assert user_for(wrong) is None
    agent.is_active = False
    agent.save()
    assert user_for(key) is None


def test_use_is_noted_at_most_once_a_minute(agent: Any) -> None:
    key = create_token("ann")
    user_for(key)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    user_for(key)
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=timezone.now() - timedelta(minutes=2))
    user_for(key)
    assert ApiToken.objects.get().last_used_at > first


def test_list_and_revoke(agent: Any) -> None:
    key = create_token("ann", "ci")
    [row] = list_tokens()
    assert row["prefix"] == key[:12] and row["username"] == "ann" and row["name"] == "ci"
    assert row["last_used_at"] is None
    revoke_token(key[:12])
    assert user_for(key) is None and list_tokens() == []
    with pytest.raises(TokenError, match="no token with the prefix"):
        revoke_token(key[:12])


# --- over HTTP -------------------------------------------------------------------------------


def test_a_call_without_a_token_is_401_saying_how_to_get_one(db: None) -> None:
    response = Client().get("/api/cases")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["WWW-Authenticate"].startswith("Bearer")
    detail = response.json()["detail"]
    assert "no token was sent" in detail
    assert "Authorization: Bearer <token>" in detail
    assert "casegate token create USERNAME" in detail


@pytest.mark.parametrize("header", ["Bearer cg_nonsense", "Basic YW5uOnB3", "Bearer", "cg_x"])
def test_a_wrong_token_is_401(db: None, header: str) -> None:
    response = Client(headers={"Authorization": header}).get("/api/cases")
    assert response.status_code == 401
    assert "casegate token create" in response.json()["detail"]


def test_a_token_opens_the_api_in_both_notations(token: str) -> None:
    for scheme in ("Bearer", "bearer", "Token"):
        response = Client(headers={"Authorization": f"{scheme} {token}"}).get("/api/cases")
        assert response.status_code == 200, scheme
        assert response.json() == {"items": [], "next_cursor": None}


def test_a_revoked_token_or_inactive_user_is_401(token: str, api: Client) -> None:
    assert api.get("/api/cases").status_code == 200
    get_user_model().objects.filter(username="ann").update(is_active=False)
    assert api.get("/api/cases").status_code == 401
    get_user_model().objects.filter(username="ann").update(is_active=True)
    revoke_token(token[:12])
    response = api.get("/api/cases")
    assert response.status_code == 401
    assert "unknown or revoked" in response.json()["detail"]


def test_health_and_the_schema_need_no_token(db: None) -> None:
    assert Client().get("/api/health").json() == {"status": "ok"}
    schema = Client().get("/api/openapi.json").json()
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {"type": "http",
                                                                    "scheme": "bearer"}


def test_a_token_carries_its_users_role(api: Client, intake: Any) -> None:
    from django.contrib.auth.models import Group

    from casegate.access import AGENT, VIEWER
    from casegate.desk.models import Agent, Case

    ann = get_user_model().objects.get(username="ann")
    Agent.objects.create(user=ann, teams=["billing"])
    mine = Case.objects.create(intake=intake, subject="billing", team="billing",
                               requester="a@b.example", created_at=timezone.now(),
                               received_at=timezone.now())
    other = Case.objects.create(intake=intake, subject="tech", team="tech",
                                requester="a@b.example", created_at=timezone.now(),
                                received_at=timezone.now())
    assert [c["id"] for c in api.get("/api/cases").json()["items"]] == [mine.pk]
    assert api.get(f"/api/cases/{other.pk}").status_code == 404
    ann.groups.set([Group.objects.get_or_create(name=VIEWER)[0]])
    assert {c["id"] for c in api.get("/api/cases").json()["items"]} == {mine.pk, other.pk}
    refused = api.patch(f"/api/cases/{mine.pk}", {"priority": "high"},
                        content_type="application/json")
    assert refused.status_code == 403 and "work cases" in refused.json()["detail"]
    ann.groups.clear()
    assert api.get("/api/cases").status_code == 403
    ann.groups.add(Group.objects.get_or_create(name=AGENT)[0])

"""Saved views over the API: save, list with counts, apply, share and remove."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from casegate.access import SUPER, add_user
from casegate.api.tokens import create_token
from casegate.desk.models import Intake, SavedView
from tests.api.factories import make_case

pytestmark = pytest.mark.django_db


def test_a_view_is_saved_listed_with_its_count_applied_and_removed(api: Client, agent: Any,
                                                                   intake: Intake) -> None:
    pending = make_case(intake, status="pending")
    make_case(intake, status="open")
    make_case(intake, status="pending", assignee=agent)
    answer = api.post("/api/views", {"name": "Waiting", "filters": {"status": "pending",
                                                                     "sort": "-created"}},
                      content_type="application/json")
    assert answer.status_code == 201, answer.content
    view = answer.json()
    assert view | {"id": 0} == {"id": 0, "name": "Waiting", "owner": "ann", "shared": False,
                                "filters": {"status": "pending", "sort": "-created"},
                                "count": 2}
    assert [v["name"] for v in api.get("/api/views").json()] == ["Waiting"]
    cases = api.get(f"/api/views/{view['id']}/cases").json()["items"]
    assert pending.pk in [c["id"] for c in cases] and len(cases) == 2
    assert api.delete(f"/api/views/{view['id']}").status_code == 204
    assert api.delete(f"/api/views/{view['id']}").status_code == 404


def test_a_filter_the_list_cannot_read_is_refused_with_the_reason(api: Client) -> None:
    assert api.post("/api/views", {"name": "x", "filters": {"sort": "password"}},
                    content_type="application/json").status_code == 422
    search = api.post("/api/views", {"name": "x", "filters": {"q": "after:soon"}},
                      content_type="application/json")
    assert search.status_code == 400 and "YYYY-MM-DD" in search.json()["detail"]
    for unknown in (999, 2**63 - 2):  # any number the schema takes is an intake or none
        assert api.post("/api/views", {"name": "x", "filters": {"intake": unknown}},
                        content_type="application/json").status_code == 404
    assert api.post("/api/views", {"name": "x"}, content_type="application/json"
                    ).status_code == 201
    assert api.post("/api/views", {"name": "x"}, content_type="application/json"
                    ).status_code == 409
    assert api.post("/api/views", {"name": "x", "filters": {"queue": "nobody"}},
                    content_type="application/json").status_code == 422


def test_only_the_privileged_share_a_view_and_remove_a_shared_one(api: Client,
                                                                  intake: Intake) -> None:
    shared = {"name": "Everyone's", "shared": True}
    refused = api.post("/api/views", shared, content_type="application/json")
    assert refused.status_code == 403 and "share views" in refused.json()["detail"]
    add_user("boss", SUPER, "boss password 1")
    boss = Client(headers={"Authorization": f"Bearer {create_token('boss', 'tests')}"})
    made = boss.post("/api/views", shared, content_type="application/json").json()
    assert made["owner"] is None and made["shared"] is True
    assert [v["name"] for v in api.get("/api/views").json()] == ["Everyone's"]
    assert api.delete(f"/api/views/{made['id']}").status_code == 403
    assert boss.delete(f"/api/views/{made['id']}").status_code == 204
    assert not SavedView.objects.exists()


def test_a_view_is_removed_by_its_number_never_by_a_name_that_looks_like_one(
        api: Client) -> None:
    made = api.post("/api/views", {"name": "4242", "filters": {"status": "open"}},
                    content_type="application/json").json()
    assert made["id"] != 4242
    assert api.delete("/api/views/4242").status_code == 404
    assert SavedView.objects.filter(pk=made["id"]).exists()

"""Routing rules over the API: the mail-settings privilege only, as in the console."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from casegate.access import add_user
from casegate.api.tokens import create_token
from casegate.directory.services import add_domain

pytestmark = pytest.mark.django_db


def test_rules_are_for_mail_settings_administrators_only(api: Client, intake: Any) -> None:
    assert api.get("/api/rules").status_code == 403  # the fixture's token is an agent's
    add_domain("example.com")
    add_user("mailadmin", "mail-settings administrator", "correct horse battery")
    admin = Client(headers={"Authorization": f"Bearer {create_token('mailadmin')}"})
    created = admin.post("/api/rules", {"match": "address", "match_value": "support@example.com",
                                        "change_recipient": "recipient",
                                        "change_value": intake.address, "bypass_spam": True},
                         content_type="application/json")
    assert created.status_code == 201, created.json()
    rule = created.json()
    assert [r["id"] for r in admin.get("/api/rules").json()] == [rule["id"]]
    simulated = admin.get("/api/rules/simulate", {"rcpt": "support@example.com"}).json()
    assert simulated["final"] == [{"address": intake.address, "kind": "desk"}]
    refused = admin.post("/api/rules", {"match": "address", "match_value": "x@example.com"},
                         content_type="application/json")
    assert refused.status_code == 400 and "changes nothing" in refused.json()["detail"]
    assert api.delete(f"/api/rules/{rule['id']}").status_code == 403
    assert admin.delete(f"/api/rules/{rule['id']}").status_code == 204
    assert admin.delete(f"/api/rules/{rule['id']}").status_code == 404
    assert admin.get("/api/cases").status_code == 200  # administrators read cases

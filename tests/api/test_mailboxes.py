"""Mailbox accounts over the API: the mail-settings privilege only, as in the console; adding
one, the super administrator's."""

from __future__ import annotations

import pytest
from django.test import Client

from casegate.access import add_user
from casegate.api.tokens import create_token

pytestmark = pytest.mark.django_db


def test_mailboxes_are_for_mail_settings_administrators_only(api: Client) -> None:
    assert api.get("/api/mailboxes").status_code == 403  # the fixture's token is an agent's
    add_user("mailadmin", "mail-settings administrator", "correct horse battery")
    admin = Client(headers={"Authorization": f"Bearer {create_token('mailadmin')}"})
    body = {"name": "support", "protocol": "imap", "server": "outlook.office365.com",
            "user": "support@example.com", "oauth2_token_command": "get-token support",
            "deliver_to": "help@example.com", "after_fetch": "move:Fetched"}
    # The secret's file or command is on the casegate host, which casegate reads or runs
    # as itself: only the super administrator names one.
    refused = admin.post("/api/mailboxes", {**body, "oauth2_token_command": "sh -c id"},
                         content_type="application/json")
    assert refused.status_code == 403 and "super administrator" in refused.json()["detail"]
    add_user("root", "super administrator", "correct horse battery")
    operator = Client(headers={"Authorization": f"Bearer {create_token('root')}"})
    created = operator.post("/api/mailboxes", body, content_type="application/json")
    assert created.status_code == 201, created.json()
    row = created.json()
    assert (row["port"], row["after_fetch"], row["state"]) == (993, "move:Fetched", "new")
    assert row["secret"] == "oauth2-token-command" and "get-token" not in str(row)
    again = operator.post("/api/mailboxes", body, content_type="application/json")
    assert again.status_code == 400 and "exists already" in again.json()["detail"]
    pop = operator.post("/api/mailboxes", {**body, "name": "old", "protocol": "pop3"},
                     content_type="application/json")
    assert pop.status_code == 400 and "keep or delete" in pop.json()["detail"]
    assert admin.post("/api/mailboxes/support/pause").json()["state"] == "paused"
    assert admin.post("/api/mailboxes/support/resume").json()["paused"] is False
    assert [m["name"] for m in admin.get("/api/mailboxes").json()] == ["support"]
    assert api.delete("/api/mailboxes/support").status_code == 403
    assert admin.delete("/api/mailboxes/support").status_code == 204
    assert admin.delete("/api/mailboxes/support").status_code == 404
    assert admin.post("/api/mailboxes/nothing/pause").status_code == 404

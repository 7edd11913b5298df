"""Webhooks over the API: for mail-settings administrators; the secret is shown once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from casegate.access import add_user
from casegate.api.tokens import create_token
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db: None, setting: Callable[..., None]) -> Client:
    setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", "1")
    add_user("mailadmin", "mail-settings administrator", "correct horse battery")
    return Client(headers={"Authorization": f"Bearer {create_token('mailadmin')}"})


def test_webhooks_are_for_mail_settings_administrators(api: Client) -> None:
    assert api.get("/api/webhooks").status_code == 403  # the fixture's token is an agent's
    assert api.post("/api/webhooks", {"name": "crm", "url": "https://crm.example/h"},
                    content_type="application/json").status_code == 403


def test_a_webhook_is_added_shown_masked_paused_resumed_tested_and_removed(
        admin: Client) -> None:
    with receiving(Receiver()) as receiver:
        created = admin.post("/api/webhooks", {"name": "crm", "url": receiver.url,
                                               "events": ["case_created"]},
                             content_type="application/json")
        assert created.status_code == 201, created.json()
        shown = created.json()
        secret = shown["secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        [listed] = admin.get("/api/webhooks").json()
        assert listed["secret"] == f"whsec_…{secret[-4:]}"
        assert secret not in admin.get("/api/webhooks").content.decode()
        paused = admin.post(f"/api/webhooks/{shown['id']}/pause", {"reason": "upgrade"},
                            content_type="application/json").json()
        assert (paused["paused"], paused["paused_reason"]) == (True, "upgrade")
        assert admin.post(f"/api/webhooks/{shown['id']}/resume").json()["paused"] is False
        changed = admin.patch(f"/api/webhooks/{shown['id']}", {"events": ["note_added"]},
                              content_type="application/json")
        assert changed.json()["events"] == ["note_added"]
        tested = admin.post(f"/api/webhooks/{shown['id']}/test").json()
        assert (tested["status"], tested["outcome"], tested["event"]) == (200, "test", "ping")
        [received] = receiver.received
        assert received.signed_with(secret) and received.payload["event"] == "ping"
    [attempt] = admin.get(f"/api/webhooks/{shown['id']}/attempts").json()
    assert attempt["delivery"] == received.payload["delivery"]
    assert admin.delete(f"/api/webhooks/{shown['id']}").status_code == 204
    assert admin.delete(f"/api/webhooks/{shown['id']}").status_code == 404


def test_a_webhook_that_cannot_be_saved_is_refused_with_the_reason(
        admin: Client, setting: Callable[..., None]) -> None:
    refused = admin.post("/api/webhooks", {"name": "crm", "url": "ftp://crm.example/"},
                         content_type="application/json")
    assert refused.status_code == 400 and "http or https" in refused.json()["detail"]
    spaced = admin.post("/api/webhooks", {"name": "crm", "url": "https://crm.example/a b"},
                        content_type="application/json")
    assert spaced.status_code == 400 and "no spaces" in spaced.json()["detail"]
    setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", "0")
    refused = admin.post("/api/webhooks", {"name": "crm", "url": "http://10.0.0.8/hook"},
                         content_type="application/json")
    assert refused.status_code == 400
    assert "CASEGATE_WEBHOOK_PRIVATE_TARGETS" in refused.json()["detail"]
    unknown = admin.post("/api/webhooks", {"name": "crm", "url": "https://crm.example/",
                                           "events": ["no_such_event"]},
                         content_type="application/json")
    assert unknown.status_code == 422

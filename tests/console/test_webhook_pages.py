"""The webhooks pages: for mail-settings administrators, every change a POST with the CSRF
token; the secret shown once, when it is added."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from casegate.access import add_user
from casegate.desk.models import Webhook, WebhookAttempt
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def signed_in(name: str, role: str) -> Client:
    add_user(name, role, PASSWORD, f"{name}@people.example")
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=name, password=PASSWORD)
    return client


def token(client: Client) -> str:
    page = client.get("/console/webhooks/")
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)[1].decode()


def test_only_mail_settings_administrators_see_the_webhooks() -> None:
    agent = signed_in("ann", "agent")
    assert agent.get("/console/webhooks/").status_code == 403
    assert agent.post("/console/webhooks/add", {"name": "crm"}).status_code == 403
    assert Client().get("/console/webhooks/").status_code == 302  # to the sign-in page


def test_add_edit_pause_resume_test_and_remove_a_webhook(
        setting: Callable[..., None]) -> None:
    setting("CASEGATE_WEBHOOK_PRIVATE_TARGETS", "1")
    admin = signed_in("mia", "mail-settings administrator")
    csrf = token(admin)
    with receiving(Receiver()) as receiver:
        fields = {"name": "crm", "url": receiver.url, "events": ["case_created", "note_added"]}
        assert admin.post("/console/webhooks/add", fields).status_code == 403  # no token
        added = admin.post("/console/webhooks/add", {**fields, "csrfmiddlewaretoken": csrf})
        assert added.status_code == 201
        webhook = Webhook.objects.get()
        assert webhook.secret.encode() in added.content
        assert webhook.events == ["case_created", "note_added"]
        page = admin.get("/console/webhooks/").content
        assert webhook.secret.encode() not in page
        assert f"whsec_…{webhook.secret[-4:]}".encode() in page
        refused = admin.post("/console/webhooks/add", {"name": "x", "url": "ftp://x.example/",
                                                      "csrfmiddlewaretoken": csrf})
        assert refused.status_code == 400 and b"http or https" in refused.content
        edited = admin.post(f"/console/webhooks/{webhook.pk}/edit",
                            {"name": "CRM", "url": receiver.url, "events": ["field_changed"],
                             "csrfmiddlewaretoken": csrf}, follow=True)
        assert b"Webhook CRM saved." in edited.content
        webhook.refresh_from_db()
        assert (webhook.name, webhook.events) == ("CRM", ["field_changed"])
        paused = admin.post(f"/console/webhooks/{webhook.pk}/pause",
                            {"reason": "<b>upgrade</b>", "csrfmiddlewaretoken": csrf},
                            follow=True)
        assert b"paused: &lt;b&gt;upgrade&lt;/b&gt;" in paused.content
        admin.post(f"/console/webhooks/{webhook.pk}/resume", {"csrfmiddlewaretoken": csrf})
        webhook.refresh_from_db()
        assert webhook.paused_at is None
        tested = admin.post(f"/console/webhooks/{webhook.pk}/test",
                            {"csrfmiddlewaretoken": csrf}, follow=True)
        assert b"The test reached CRM: HTTP 200." in tested.content
    [received] = receiver.received
    assert received.signed_with(webhook.secret)
    log = admin.get(f"/console/webhooks/{webhook.pk}/attempts")
    assert WebhookAttempt.objects.get().delivery_id.encode() in log.content
    assert b"HTTP 200" in log.content
    admin.post(f"/console/webhooks/{webhook.pk}/remove", {"csrfmiddlewaretoken": csrf})
    assert not Webhook.objects.exists()
    assert admin.get(f"/console/webhooks/{webhook.pk}/attempts").status_code == 404

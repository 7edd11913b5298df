"""The pages of the triggers, automations, webhooks and macros as YAML: for mail-settings
administrators, with the CSRF token; check, save all or nothing, bring a version back."""

from __future__ import annotations

import pytest

from casegate.desk.automation.macros import MACROS, add_macro
from casegate.desk.models import Macro, Webhook
from casegate.desk.webhooks.hooks import add_webhook
from tests.console.test_automation_pages import signed_in

pytestmark = pytest.mark.django_db


def test_the_macros_page_checks_saves_and_brings_back_versions() -> None:
    add_macro("Close", [{"status": "solved"}])
    assert signed_in("ann", "agent").get("/console/macros/file").status_code == 403
    admin = signed_in("mia", "mail-settings administrator", csrf=True)
    page = admin.get("/console/macros/file")
    assert page.status_code == 200 and b"name: Close" in page.content
    assert b'href="/console/macros/file"' in page.content  # in the menu
    token = page.cookies["csrftoken"].value
    text = MACROS.export() + "- name: Thanks\n  reply: Thank you.\n"
    assert admin.post("/console/macros/file", {"text": text, "action": "save"}
                      ).status_code == 403
    checked = admin.post("/console/macros/file", {"text": text, "action": "check",
                                                  "csrfmiddlewaretoken": token})
    assert b"+- name: Thanks" in checked.content and Macro.objects.count() == 1
    broken = admin.post("/console/macros/file", {
        "text": text + "- name: <b>x</b>\n  owner: nobody\n  reply: x\n", "action": "save",
        "csrfmiddlewaretoken": token})
    assert broken.status_code == 400 and b"macros.yaml:8: there is no active user" in \
        broken.content
    assert b"<b>x</b>" not in broken.content and Macro.objects.count() == 1
    saved = admin.post("/console/macros/file", {"text": text, "action": "save",
                                                "csrfmiddlewaretoken": token}, follow=True)
    assert b"Saved as version" in saved.content and Macro.objects.count() == 2
    first = min(v.number for v in saved.context["versions"])
    admin.post(f"/console/macros/versions/{first}/rollback", {"csrfmiddlewaretoken": token})
    assert list(Macro.objects.values_list("name", flat=True)) == ["Close"]


def test_a_new_webhook_from_the_page_tells_its_secret_once() -> None:
    add_webhook("billing", "https://billing.example/hooks", [])
    admin = signed_in("mia", "mail-settings administrator", csrf=True)
    listed = admin.get("/console/webhooks/")
    assert b'href="/console/webhooks/file"' in listed.content
    page = admin.get("/console/webhooks/file")
    assert b"whsec_" not in page.content
    text = page.context["text"] + "- name: chat\n  url: https://chat.example/in\n"
    saved = admin.post("/console/webhooks/file", {
        "text": text, "action": "save",
        "csrfmiddlewaretoken": page.cookies["csrftoken"].value}, follow=True)
    secret = Webhook.objects.get(name="chat").secret
    assert secret.encode() in saved.content and saved.content.count(b"whsec_") == 1
    # Answered in the page itself: the message store (a cookie) never holds the secret.
    assert "messages" not in admin.cookies
    assert b"Saved as version" in saved.content
    assert admin.get("/console/nothing/file").status_code == 404

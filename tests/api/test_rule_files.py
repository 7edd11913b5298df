"""The triggers, automations, webhooks and macros as YAML over the API: export, import all
or nothing (or a dry run), versions, rollback; for the mail-settings administrator only."""

from __future__ import annotations

import pytest
from django.test import Client

from casegate.access import add_user
from casegate.api.tokens import create_token
from casegate.desk.models import Automation, Macro, Trigger, Webhook

pytestmark = pytest.mark.django_db

FILES = {
    "triggers": "triggers:\n  - name: Refunds\n    events: [case_created]\n    conditions:\n"
                "      all:\n        - {field: subject, contains: refund}\n"
                "    actions:\n      - {team: Billing}\n",
    "automations": "automations:\n  - name: Close pending\n    conditions:\n      all:\n"
                   "        - {field: status, is: pending}\n"
                   "        - {field: hours_since_status_changed, at_least: 72}\n"
                   "    actions:\n      - {status: solved}\n",
    "webhooks": "webhooks:\n  - name: billing\n    url: https://billing.example/hooks\n",
    "macros": "macros:\n  - name: Close\n    actions:\n      - {status: solved}\n",
}
MODELS = {"triggers": Trigger, "automations": Automation, "webhooks": Webhook, "macros": Macro}


@pytest.fixture
def admin(db: None) -> Client:
    add_user("mailadmin", "mail-settings administrator", "correct horse battery")
    return Client(headers={"Authorization": f"Bearer {create_token('mailadmin')}"})


@pytest.mark.parametrize("kind", list(FILES))
def test_a_set_is_exported_imported_and_rolled_back(admin: Client, api: Client,
                                                    kind: str) -> None:
    text, model = FILES[kind], MODELS[kind]
    assert api.get(f"/api/{kind}/export").status_code == 403  # an agent's token
    assert admin.get(f"/api/{kind}/export").json() == {"text": f"# casegate {kind}"
                                                               + (": they run in this order\n"
                                                                  if kind[0] in "ta" else "\n")
                                                               + f"{kind}: []\n"}
    dry = admin.put(f"/api/{kind}/import?dry_run=true", {"text": text},
                    content_type="application/json")
    assert dry.status_code == 200, dry.json()
    assert dry.json()["version"] is None and dry.json()["rules"] == 1 and dry.json()["diff"]
    assert not model.objects.exists()
    done = admin.put(f"/api/{kind}/import", {"text": text}, content_type="application/json")
    assert done.status_code == 200 and done.json()["version"], done.json()
    assert model.objects.count() == 1
    assert (len(done.json()["notes"]) == 1) == (kind == "webhooks")
    exported = admin.get(f"/api/{kind}/export").json()["text"]
    again = admin.put(f"/api/{kind}/import", {"text": exported}, content_type="application/json")
    assert (again.json()["diff"], again.json()["version"]) == ("", None)
    bad = admin.put(f"/api/{kind}/import", {"text": f"{kind}:\n  - name: x\n    nonsense: 1\n"},
                    content_type="application/json")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("body:2: ")
    [version] = admin.get(f"/api/{kind}/versions").json()
    assert version["summary"] == "import body"
    rolled = admin.post(f"/api/{kind}/rollback", {"version": 0}, content_type="application/json")
    assert rolled.status_code == 200 and rolled.json()["rules"] == 0
    assert not model.objects.exists()
    missing = admin.post(f"/api/{kind}/rollback", {"version": 999999999},
                         content_type="application/json")
    assert missing.status_code == 400
    assert "there is no version 999999999" in missing.json()["detail"]

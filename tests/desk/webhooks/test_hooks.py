"""The webhooks kept like the triggers: a version at each change, secrets kept in versions
but never in files, an import all or nothing, a rollback that brings a secret back."""

from __future__ import annotations

import pytest

from casegate.desk.models import Webhook, WebhookVersion
from casegate.desk.named_sets import SetError
from casegate.desk.webhooks.hooks import (
    WEBHOOKS,
    add_webhook,
    change_webhook,
    is_private_address,
    pause_webhook,
    remove_webhook,
)

pytestmark = pytest.mark.django_db

FILE = """\
webhooks:
  - name: billing
    url: https://billing.example/hooks
    events: [case_created]
  - name: chat
    url: https://chat.example/in
"""


def test_each_change_is_a_version_and_the_export_carries_no_secret() -> None:
    created = add_webhook("billing", "https://billing.example/hooks", ["case_created"])
    change_webhook("billing", events=["case_created", "note_added"])
    pause_webhook("billing", "maintenance")
    remove_webhook("billing")
    assert [v.summary for v in WEBHOOKS.history()] == [
        "remove billing", "edit billing", "add billing"]
    assert WEBHOOKS.history()[1].webhooks == [
        {"name": "billing", "url": "https://billing.example/hooks",
         "events": ["case_created", "note_added"], "secret": created.secret}]
    WEBHOOKS.rollback(WEBHOOKS.history()[1].number)
    restored = Webhook.objects.get()
    assert (restored.secret, restored.events, restored.paused_at) == (
        created.secret, ["case_created", "note_added"], None)
    assert created.secret not in WEBHOOKS.export()
    assert WEBHOOKS.export() == ("# casegate webhooks\nwebhooks:\n- name: billing\n"
                                 "  url: https://billing.example/hooks\n  events:\n"
                                 "  - case_created\n  - note_added\n")


def test_an_import_keeps_the_secrets_it_does_not_name_and_tells_the_new_ones() -> None:
    kept = add_webhook("billing", "https://old.example/hooks", []).secret
    add_webhook("gone", "https://gone.example/", [])
    dry = WEBHOOKS.import_(FILE, "hooks.yaml", dry_run=True)
    assert dry.version is None and "+  url: https://billing.example/hooks" in dry.diff
    assert Webhook.objects.count() == 2 and not dry.notes
    result = WEBHOOKS.import_(FILE, "hooks.yaml")
    assert result.rules == 2 and result.version == WEBHOOKS.history()[0].number
    billing, chat = Webhook.objects.order_by("name")
    assert (billing.secret, billing.url) == (kept, "https://billing.example/hooks")
    assert result.notes == [f"webhook 'chat': secret (shown only now) {chat.secret}"]
    assert not Webhook.objects.filter(name="gone").exists()
    again = WEBHOOKS.import_(WEBHOOKS.export(), "again.yaml")
    assert (again.diff, again.version) == ("", None)


def test_a_file_with_one_bad_webhook_changes_nothing_and_names_its_line() -> None:
    bad = FILE + "  - name: ftp\n    url: ftp://files.example/\n  - name: chat\n    url: x\n"
    with pytest.raises(SetError) as refused:
        WEBHOOKS.import_(bad, "hooks.yaml")
    assert str(refused.value).splitlines() == [
        "hooks.yaml:7: 'ftp://files.example/' is not an http or https URL with a host",
        "hooks.yaml:9: 'x' is not an http or https URL with a host",
        "nothing was changed"]
    with pytest.raises(SetError, match=r"hooks.yaml:2: a webhook has no 'colour'"):
        WEBHOOKS.import_("webhooks:\n  - name: a\n    colour: red\n", "hooks.yaml")
    assert not Webhook.objects.exists() and not WebhookVersion.objects.exists()


def test_rollback_to_nothing_and_to_a_version_that_is_not() -> None:
    add_webhook("billing", "https://billing.example/hooks", [])
    assert WEBHOOKS.rollback(0) is not None and not Webhook.objects.exists()
    assert WEBHOOKS.rollback(0) is None
    with pytest.raises(SetError, match="there is no version 999999999"):
        WEBHOOKS.rollback(999999999)


@pytest.mark.parametrize(("address", "inside"), [
    ("127.0.0.1", True), ("10.1.2.3", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("64:ff9b::7f00:1", True),    # NAT64 of 127.0.0.1
    ("64:ff9b::a00:5", True),     # NAT64 of 10.0.0.5
    ("64:ff9b:1::7f00:1", True),  # NAT64's local-use prefix
    ("2002:7f00:1::1", True),     # 6to4 of 127.0.0.1
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", True),  # Teredo of 10.0.0.1
    ("fec0::1", True),            # site-local
    ("93.184.215.14", False), ("64:ff9b::5db8:d70e", False), ("2606:4700::6810:84e5", False),
])
def test_an_address_inside_is_known_also_inside_ipv6(address: str, inside: bool) -> None:
    assert is_private_address(address) is inside

"""The routing page offers every rule option, the rule set's versions, export and import;
the directory page manages units, address lists and routes."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from casegate.directory.models import Account, OrgUnit
from casegate.directory.services import add_account, add_domain, add_group
from casegate.routing.models import AddressList, Route, Rule, RuleVersion
from tests.console.test_access import signed_in

pytestmark = pytest.mark.django_db
OURS = "solarmora.com"


@pytest.fixture
def admin() -> Client:
    add_domain(OURS)
    add_account(f"ann@{OURS}")
    add_group(f"team@{OURS}", [f"ann@{OURS}"])
    return signed_in("mail-settings administrator")


def test_the_directory_page_adds_units_lists_routes_and_suspends(admin) -> None:
    for what, form in (("unit", {"path": "/Sales"}),
                       ("account-unit", {"address": f"ann@{OURS}", "unit": "/Sales"}),
                       ("suspend", {"address": f"ann@{OURS}"}),
                       ("address-list", {"name": "partners", "entries": "partner.example\n"}),
                       ("route", {"name": "crm", "hostport": "crm.example:2525"})):
        assert admin.post(f"/console/directory/{what}", form).status_code == 302
    ann = Account.objects.get(address=f"ann@{OURS}")
    assert ann.suspended and ann.org_unit == OrgUnit.objects.get(name="Sales")
    assert AddressList.objects.get(name="partners").entries == ["partner.example"]
    assert Route.objects.get(name="crm").port == 2525
    page = admin.get("/console/directory/").content.decode()
    assert "/Sales" in page and "partner.example" in page and "crm.example:2525" in page


def test_the_rule_form_saves_every_option(admin) -> None:
    OrgUnit.objects.create(name="Sales")
    AddressList.objects.create(name="partners", entries=["partner.example"])
    Route.objects.create(name="crm", host="crm.example", port=25)
    answer = admin.post("/console/routing/add", {
        "match_type": "group", "match_value": f"team@{OURS}", "action": "modify",
        "affect_users": "on", "org_unit": "/Sales", "sender_list": "partners",
        "sender_list_mode": "bypass", "subject_prefix": "[Team]",
        "original_recipient_header": "X-Original-Rcpt", "custom_headers": "X-Team: support",
        "spam_headers": "on", "remove_attachments": "on", "require_tls": "on",
        "route": "crm", "rate_limit": "30"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    rule = Rule.objects.get()
    assert (rule.match_type, rule.apply_to, rule.org_unit.name, rule.sender_list.name,
            rule.sender_list_mode, rule.subject_prefix, rule.custom_headers, rule.route.name,
            rule.rate_limit) == ("group", "users", "Sales", "partners", "bypass", "[Team]",
                                 [["X-Team", "support"]], "crm", 30)
    assert rule.spam_headers and rule.remove_attachments and rule.require_tls
    page = admin.get("/console/routing/", {"rcpt": f"ann@{OURS}",
                                           "sender": "x@example.net"}).content.decode()
    assert "Group membership" in page and "[Team]" in page and "X-Team: support" in page
    refused = admin.post("/console/routing/add", {"match_type": "all", "custom_headers": "Bad"})
    assert refused.status_code == 400 and "Name: value" in refused.content.decode()


def test_versions_rollback_export_and_import_from_the_page(admin) -> None:
    admin.post("/console/routing/add", {"match_type": "pattern",
                                        "match_value": r"old-.*@solarmora\.com",
                                        "also_deliver": "x@crm.example"})
    first = RuleVersion.objects.get()
    exported = admin.get("/console/routing/export")
    assert exported["Content-Disposition"] == 'attachment; filename="rules.yaml"'
    text = exported.content.decode().replace("old-", "new-")
    dry = admin.post("/console/routing/import", {
        "file": SimpleUploadedFile("rules.yaml", text.encode()), "dry_run": "on"})
    assert dry.status_code == 200 and "+  value: new-" in dry.content.decode()
    assert Rule.objects.get().match_value.startswith("old-")
    admin.post("/console/routing/import", {"file": SimpleUploadedFile("rules.yaml",
                                                                      text.encode())})
    assert Rule.objects.get().match_value.startswith("new-")
    bad = admin.post("/console/routing/import", {
        "file": SimpleUploadedFile("bad.yaml", b"rules:\n  - match: nothing\n")})
    assert bad.status_code == 400 and "bad.yaml:2:" in bad.content.decode()
    assert admin.post(f"/console/routing/versions/{first.number}/rollback").status_code == 302
    assert Rule.objects.get().match_value.startswith("old-")

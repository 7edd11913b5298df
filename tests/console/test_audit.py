"""The audit log: who changed what, when, from where, before and after."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.utils import timezone

from casegate.access import add_user
from casegate.console.audit import AuditFilter, search
from casegate.desk.models import Case
from casegate.desk.services import add_intake, update_case
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.services import add_domain
from casegate.routing.models import Rule
from casegate.signing.keys import generate_key

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def test_console_changes_name_the_user_and_address_and_keep_before_and_after() -> None:
    add_domain("solarmora.com")
    intake = add_intake(IntakeKind.CASE, "cases@solarmora.com")
    add_user("mailadmin", "mail-settings administrator", PASSWORD)
    client = Client(REMOTE_ADDR="192.0.2.7")
    client.login(username="mailadmin", password=PASSWORD)
    client.post("/console/routing/add", {
        "match_type": "address", "match_value": "help@solarmora.com", "rewrite": "recipient",
        "rewrite_value": intake.address})
    [created] = search(AuditFilter(kind="rule"))
    assert (created["actor"], created["from"], created["action"]) == (
        "mailadmin", "192.0.2.7", "create")
    client.post(f"/console/routing/{Rule.objects.get().pk}/disable")
    [changed, _] = search(AuditFilter(kind="rule"))
    assert changed["changes"]["enabled"] == ["True", "False"]
    page = client.get("/console/audit/?kind=rule")
    assert page.status_code == 200 and b"help@solarmora.com" in page.content
    add_user("ann", "agent", PASSWORD)
    agent = Client()
    agent.login(username="ann", password=PASSWORD)
    assert agent.get("/console/audit/").status_code == 403


def test_case_state_and_keys_are_audited_without_secrets() -> None:
    intake = add_intake(IntakeKind.CASE, "cases@desk.example")
    case = Case.objects.create(intake=intake, subject="s", requester="a@b.example",
                               created_at=timezone.now(), received_at=timezone.now())
    update_case(case.pk, "ann", status="pending", priority="high")
    entry = search(AuditFilter(kind="case"))[0]  # newest first; the creation is logged too
    assert entry["changes"]["status"] == ["new", "pending"]
    generate_key("solarmora.com")
    key_entry = LogEntry.objects.get(content_type__model="signingkey")
    assert "PRIVATE KEY" not in str(key_entry.changes)


def test_the_address_recorded_is_the_peers_unless_a_proxy_is_trusted(
        console_at: Callable[..., None]) -> None:
    add_user("mailadmin", "mail-settings administrator", PASSWORD)

    def add_domain_from(name: str) -> str:
        client = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="192.0.2.7",
                        HTTP_X_FORWARDED_FOR="203.0.113.66, 198.51.100.9",
                        HTTP_X_FORWARDED_PROTO="https")
        client.login(username="mailadmin", password=PASSWORD)
        client.post("/console/directory/domain", {"name": name})
        [entry] = search(AuditFilter(kind="domain", text=name))
        return entry["from"]

    console_at("http://127.0.0.1:8025")
    assert add_domain_from("acme.example") == "192.0.2.7"  # a header anyone can write
    console_at("https://desk.example.com", behind_proxy=True)
    assert add_domain_from("bolt.example") == "198.51.100.9"  # the hop our proxy added


def test_a_request_without_a_usable_address_is_audited_without_one(
        console_at: Callable[..., None]) -> None:
    add_user("mailadmin", "mail-settings administrator", PASSWORD)
    console_at("https://desk.example.com", behind_proxy=True)
    client = Client(HTTP_HOST="desk.example.com", REMOTE_ADDR="",
                    HTTP_X_FORWARDED_FOR="unknown", HTTP_X_FORWARDED_PROTO="https")
    client.login(username="mailadmin", password=PASSWORD)
    assert client.post("/console/directory/domain", {"name": "acme.example"}).status_code == 302
    [entry] = search(AuditFilter(kind="domain", text="acme.example"))
    assert (entry["actor"], entry["from"]) == ("mailadmin", "")


def test_a_change_made_by_a_trigger_is_found_under_the_triggers_name() -> None:
    from casegate.desk.automation.triggers import add_trigger

    intake = add_intake(IntakeKind.CASE, "cases@desk.example")
    add_trigger({"name": "Escalate", "events": ["field_changed"],
                 "conditions": {"all": [{"field": "priority", "is": "urgent"}]},
                 "actions": [{"team": "Escalations"}]})
    case = Case.objects.create(intake=intake, subject="s", requester="a@b.example",
                               created_at=timezone.now(), received_at=timezone.now())
    update_case(case.pk, "ann", priority="urgent")
    [entry] = search(AuditFilter(kind="case", actor="escalate"))
    assert entry["actor"] == "trigger:Escalate"
    assert entry["changes"]["team"] == ["", "Escalations"]
    assert search(AuditFilter(kind="trigger"))[0]["object"] == "trigger Escalate"


def test_every_audited_model_is_a_kind_the_audit_page_filters_by() -> None:
    from auditlog.registry import auditlog

    from casegate.console.audit import AUDITED_KINDS

    assert {model._meta.model_name for model in auditlog.get_models()} <= set(AUDITED_KINDS)

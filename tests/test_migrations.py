"""A database made by the previous release migrates forward with ``casegate init`` (the
same migrations) and keeps every message, delivery, case and rule."""

from __future__ import annotations

import base64
import importlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from casegate.desk.models import Case, DeskMessage
from casegate.directory.models import Account, Domain
from casegate.routing.models import Rule
from casegate.spool.models import Delivery, Message

# The newest migration of each app in the previous release (the console had none).
PREVIOUS_RELEASE = [
    ("gateway", "0003_quarantine_notify_quarantine_orcpt"),
    ("delivery", "0005_units_lists_actions"),
    ("desk", "0005_trace_indexes"),
    ("routing", "0005_rule_versions"),
    ("directory", "0002_units_lists_actions"),
    ("api", "0001_initial"),
    ("console", None),
]
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def previous_release(transactional_db: None) -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    executor.migrate(PREVIOUS_RELEASE)
    yield executor
    executor = MigrationExecutor(connection)  # back to today's schema for the other tests
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_database_of_the_previous_release_migrates_forward_keeping_everything(
        previous_release: MigrationExecutor) -> None:
    old = previous_release.loader.project_state(
        [target for target in PREVIOUS_RELEASE if target[1]]).apps
    domain = old.get_model("directory", "Domain").objects.create(name="solarmora.com")
    old.get_model("directory", "Account").objects.create(address="alex@solarmora.com",
                                                         domain=domain)
    intake = old.get_model("desk", "Intake").objects.create(
        address="support@v1.case.desk.example", kind="case")
    old.get_model("routing", "Rule").objects.create(
        position=1, match_type="address", match_value="help@solarmora.com",
        rewrite="recipient", rewrite_value=intake.address, subject_prefix="[Help]")
    message = old.get_model("gateway", "Message").objects.create(
        queue_id="1A2B3C", mail_from="dana@example.net", rcpt_tos=["help@solarmora.com"],
        received_at=NOW, raw=b"Subject: the panel\r\n\r\nbody\r\n")
    old.get_model("delivery", "Delivery").objects.create(
        message=message, original_recipient="help@solarmora.com", recipient=intake.address,
        kind="desk", intake_id=intake.pk, state="deferred", attempts=2,
        edits={"subject_prefix": "[Help]"}, next_attempt_at=NOW, created_at=NOW,
        updated_at=NOW)
    case = old.get_model("desk", "Case").objects.create(
        intake=intake, subject="the panel", requester="dana@example.net", status="pending",
        priority="high", created_at=NOW, received_at=NOW)
    old.get_model("desk", "DeskMessage").objects.create(
        case=case, direction="inbound", queue_id="1A2B3C", subject="the panel",
        sender="dana@example.net", created_at=NOW)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Domain.objects.get().name == "solarmora.com"
    assert Account.objects.get().address == "alex@solarmora.com"
    rule = Rule.objects.get()
    assert (rule.match_value, rule.rewrite_value, rule.subject_prefix) == (
        "help@solarmora.com", intake.address, "[Help]")
    assert bytes(Message.objects.get(pk="1A2B3C").raw).startswith(b"Subject: the panel")
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.edits) == (
        "deferred", 2, {"subject_prefix": "[Help]"})
    case = Case.objects.get()
    assert (case.status, case.priority, case.requester) == ("pending", "high",
                                                              "dana@example.net")
    assert DeskMessage.objects.get().case_id == case.pk


def test_stored_messages_get_their_subject_and_from_in_batches(
        transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    filling = importlib.import_module(
        "casegate.gateway.migrations.0006_fill_message_subject_from_header")
    monkeypatch.setattr(filling, "BATCH", 2)
    before = [("gateway", "0004_message_auth_results_spam_report")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("gateway", "Message")
    for n in range(5):
        old.objects.create(queue_id=f"Q{n}", received_at=NOW, raw=(
            b"Received: from x\r\nFrom: =?utf-8?q?Z=C3=B6e?= <zoe@example.net>\r\n"
            b"Subject: =?utf-8?b?" + base64.b64encode(f"Café {n}".encode()) + b"?=\r\n"
            b"\r\nSubject: not this one\r\n"))
    old.objects.create(queue_id="NOHEADERS", received_at=NOW, raw=b"\r\njust a body")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert dict(Message.objects.values_list("queue_id", "subject")) == {
        **{f"Q{n}": f"Café {n}" for n in range(5)}, "NOHEADERS": ""}
    assert set(Message.objects.values_list("from_header", flat=True)) == {
        "Zöe <zoe@example.net>", ""}


def test_an_intakes_first_response_hours_become_an_sla_policy(transactional_db: None) -> None:
    from casegate.desk.models import SlaPolicy, SlaVersion

    before = [("desk", "0013_webhooks")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    intakes = old.get_model("desk", "Intake").objects
    timed = intakes.create(address="help@desk.example", kind="case", first_response_hours=4)
    intakes.create(address="other@desk.example", kind="case")
    due = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
    cases = old.get_model("desk", "Case").objects
    waiting = cases.create(intake=timed, status="open", created_at=NOW, received_at=NOW,
                           first_response_due_at=due)
    answered = cases.create(intake=timed, status="open", created_at=NOW, received_at=NOW,
                            first_response_due_at=due, first_responded_at=NOW)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    policy = SlaPolicy.objects.get()
    assert (policy.name, policy.position, policy.conditions, policy.first_response_minutes,
            policy.calendar) == ("First response at help@desk.example", 1,
                                 {"intake": ["help@desk.example"]}, 240, None)
    assert SlaVersion.objects.get().policies == [
        {"name": policy.name, "conditions": {"intake": "help@desk.example"},
         "first_response": "4h"}]
    assert Case.objects.get(pk=waiting.pk).sla_due_at == due
    assert Case.objects.get(pk=answered.pk).sla_due_at is None

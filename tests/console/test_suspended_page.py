"""The suspended mail page: who may read it and who may decide, the bulk actions, blocked
senders, the CSRF token on every change, and agents kept to their teams' intakes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.utils import timezone

from casegate.desk.models import BlockedSender, Case, Intake, SuspendedMessage
from casegate.desk.services import add_agent, add_intake
from casegate.desk.vocabulary import IntakeKind, SuspensionCause, SuspensionState
from tests.console.test_access import PASSWORD, signed_in
from tests.mails import mail

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def blobs_in_database(setting: Callable[..., None]) -> None:
    """Recovered messages' bytes go to the test database, never into a CASEGATE_HOME."""
    setting("CASEGATE_BLOB_STORE", "database")


@pytest.fixture
def intake() -> Intake:
    return add_intake(IntakeKind.CASE, "help@desk.example")


def suspended(intake: Intake, subject: str, cause: str = SuspensionCause.AUTO_MAILER
              ) -> SuspendedMessage:
    raw = mail(subject=subject, sender="bo@acme.example", to=intake.address)[0]
    return SuspendedMessage.objects.create(
        intake=intake, queue_id=f"Q{subject}", original_recipient=intake.address,
        mail_from="bo@acme.example", received_at=timezone.now(), raw=raw, subject=subject,
        sender="bo@acme.example", cause=cause, reason="Precedence: bulk", spam_score=7.5,
        auth_results="gw.test; spf=pass smtp.mailfrom=acme.example",
        created_at=timezone.now())


@pytest.mark.parametrize(("role", "reads", "decides"), [
    ("super administrator", 200, 302),
    ("mail-settings administrator", 200, 403),
    ("agent", 200, 302),
    ("viewer", 200, 403),
])
def test_each_role_reads_or_decides_as_its_privileges_say(
        intake: Intake, role: str, reads: int, decides: int) -> None:
    entry = suspended(intake, "Away")
    client = signed_in(role)
    page = client.get("/console/suspended/")
    assert page.status_code == reads
    assert b"Away" in page.content and b"7.5" in page.content
    assert b"spf=pass smtp.mailfrom=acme.example" in page.content
    assert (b'name="ids"' in page.content) == (decides == 302)
    answer = client.post("/console/suspended/decide", {"ids": [entry.pk], "decision": "delete"})
    assert answer.status_code == decides
    assert client.post("/console/suspended/blocked/block", {
        "intake": intake.pk, "sender": "acme.example"}).status_code == decides
    entry.refresh_from_db()
    assert (entry.state == SuspensionState.DELETED) == (decides == 302)
    assert BlockedSender.objects.exists() == (decides == 302)


def test_anonymous_users_are_sent_to_sign_in() -> None:
    response = Client().get("/console/suspended/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


def test_changes_without_the_csrf_token_are_refused(intake: Intake) -> None:
    entry = suspended(intake, "Away")
    client = signed_in("agent", csrf=True)
    form = {"ids": [entry.pk], "decision": "recover"}
    assert client.post("/console/suspended/decide", form).status_code == 403
    block = {"intake": intake.pk, "sender": "acme.example"}
    assert client.post("/console/suspended/blocked/block", block).status_code == 403
    assert not Case.objects.exists() and not BlockedSender.objects.exists()
    token = client.get("/console/suspended/").cookies["csrftoken"].value
    assert client.post("/console/suspended/decide", {**form, "csrfmiddlewaretoken": token}
                       ).status_code == 302
    assert client.post("/console/suspended/blocked/block",
                       {**block, "csrfmiddlewaretoken": token}).status_code == 302
    assert Case.objects.get().subject == "Away"
    assert BlockedSender.objects.get().entry == "acme.example"


def test_ticked_messages_are_recovered_or_deleted_together_and_audited(intake: Intake) -> None:
    one, two, three = (suspended(intake, s) for s in ("one", "two", "three"))
    client = signed_in("agent")
    answer = client.post("/console/suspended/decide", {"ids": [one.pk, three.pk],
                                                        "decision": "recover"}, follow=True)
    assert b"Recovered 2" in answer.content
    assert sorted(Case.objects.values_list("subject", flat=True)) == ["one", "three"]
    answer = client.post("/console/suspended/decide", {"ids": [two.pk, one.pk],
                                                        "decision": "delete"}, follow=True)
    assert f"#{one.pk} was recovered already".encode() in answer.content
    assert SuspendedMessage.objects.get(pk=two.pk).state == SuspensionState.SUSPENDED
    client.post("/console/suspended/decide", {"ids": [two.pk], "decision": "delete"})
    entries = LogEntry.objects.filter(content_type__model="suspendedmessage",
                                      action=LogEntry.Action.UPDATE).order_by("id")
    assert [(e.actor.get_username(), e.changes) for e in entries] == [
        ("agent", {"state": ["suspended", "recovered"]}),
        ("agent", {"state": ["suspended", "recovered"]}),
        ("agent", {"state": ["suspended", "deleted"]})]
    assert b"Nothing is suspended." in client.get("/console/suspended/").content


def test_the_list_filters_by_intake_and_cause(intake: Intake) -> None:
    other = add_intake(IntakeKind.CASE, "other@desk.example")
    suspended(intake, "bulk mail")
    suspended(other, "cheap pills", SuspensionCause.SPAM)
    client = signed_in("viewer")
    page = client.get(f"/console/suspended/?intake={other.pk}").content
    assert b"cheap pills" in page and b"bulk mail" not in page
    page = client.get("/console/suspended/?cause=auto_mailer").content
    assert b"bulk mail" in page and b"cheap pills" not in page


def test_blocking_and_unblocking_a_sender(intake: Intake) -> None:
    client = signed_in("agent")
    answer = client.post("/console/suspended/blocked/block",
                         {"intake": intake.pk, "sender": "Pest@Acme.example"}, follow=True)
    assert b"help@desk.example blocks pest@acme.example." in answer.content
    answer = client.post("/console/suspended/blocked/block",
                         {"intake": intake.pk, "sender": "no domain"}, follow=True)
    assert b"neither an address nor a domain" in answer.content
    client.post("/console/suspended/blocked/unblock",
                {"intake": intake.pk, "sender": "pest@acme.example"})
    assert not BlockedSender.objects.exists()
    kinds = set(LogEntry.objects.values_list("content_type__model", flat=True))
    assert "blockedsender" in kinds


def test_an_agent_sees_and_decides_only_for_the_intakes_of_their_teams(intake: Intake) -> None:
    billing = add_intake(IntakeKind.CASE, "billing@desk.example", team="Billing")
    theirs, others = suspended(intake, "no team's"), suspended(billing, "billing's")
    add_agent("ivy@agents.example", "Ivy", "ivy", teams=["Support"])
    client = Client()
    from casegate.access import add_user

    add_user("ivy", "agent", PASSWORD, "ivy@agents.example")
    assert client.login(username="ivy", password=PASSWORD)
    page = client.get("/console/suspended/").content
    assert b"no team&#x27;s" in page and b"billing&#x27;s" not in page
    answer = client.post("/console/suspended/decide",
                         {"ids": [theirs.pk, others.pk], "decision": "delete"}, follow=True)
    assert f"there is no suspended message {others.pk}".encode() in answer.content
    answer = client.post("/console/suspended/blocked/block",
                         {"intake": billing.pk, "sender": "acme.example"}, follow=True)
    assert f"there is no intake &#x27;{billing.pk}&#x27;".encode() in answer.content
    assert not BlockedSender.objects.exists()

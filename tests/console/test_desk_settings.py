"""Signatures under agents' replies and an intake's survey, signature and texts, set in the
console."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.utils import timezone

from casegate.desk.models import Case, DeskMessage, Intake, IntakeText, Survey
from casegate.desk.services import add_agent, add_intake, configure_intake
from casegate.desk.vocabulary import Direction, IntakeKind
from casegate.spool.models import Message
from tests.console.test_access import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def blobs_in_database(setting: Callable[..., None]) -> None:
    setting("CASEGATE_BLOB_STORE", "database")


@pytest.fixture
def intake(db: None) -> Intake:
    return configure_intake(add_intake(IntakeKind.CASE, "help@desk.example"),
                            signature="The {{case.team}} desk of Solarmora, {{case.number}}")


def make_case(intake: Intake, team: str = "Billing") -> Case:
    case = Case.objects.create(intake=intake, subject="Panel", team=team,
                               requester="dana@example.net", requester_name="Dana",
                               created_at=timezone.now(), received_at=timezone.now())
    DeskMessage.objects.create(case=case, subject="Panel", text="It broke",
                               sender="dana@example.net", created_at=timezone.now())
    return case


def form_token(client: Client, path: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                      client.get(path).content.decode())
    assert found is not None
    return found[1]


def reply(client: Client, case: Case, text: str) -> DeskMessage:
    page = f"/console/cases/{case.pk}/"
    client.post(f"/console/cases/{case.pk}/reply",
                {"text": text, "kind": "reply", "csrfmiddlewaretoken": form_token(client, page)})
    return DeskMessage.objects.filter(case=case, direction=Direction.OUTBOUND).latest("id")


def mailed(message: DeskMessage) -> str:
    return bytes(Message.objects.get(queue_id=message.queue_id).raw).decode()


def test_a_console_reply_carries_the_agents_signature_else_the_intakes(intake: Intake) -> None:
    add_agent("agent@people.example", "Ann Agent", "agent", ["Billing"],
              signature="{{agent.name}}\n{{case.team}} team, {{case.number}}")
    client = signed_in("agent", csrf=True)
    case = make_case(intake)
    sent = reply(client, case, "It is fixed.")
    assert sent.text == f"It is fixed.\n\nAnn Agent\nBilling team, CG-{case.pk}\n"
    assert f"Billing team, CG-{case.pk}" in mailed(sent)
    # Never twice: the reply already ends with it.
    again = reply(client, case, f"Once more.\n\nAnn Agent\nBilling team, CG-{case.pk}")
    assert again.text.count("Billing team") == 1

    # The agent empties their signature on their page: the intake's signs.
    client.post("/console/signature/", {
        "signature": "", "csrfmiddlewaretoken": form_token(client, "/console/signature/")})
    plain = reply(client, case, "Anything else?")
    assert plain.text == ("Anything else?\n\n"
                          f"The Billing desk of Solarmora, CG-{case.pk}\n")


def test_only_an_agent_sets_a_signature(intake: Intake) -> None:
    admin = signed_in("mail-settings administrator")
    assert "You are not an agent" in admin.get("/console/signature/").content.decode()
    assert admin.post("/console/signature/", {"signature": "x"}).status_code == 403


def test_an_agent_signature_with_an_unknown_placeholder_is_refused(intake: Intake) -> None:
    client = signed_in("agent")
    add_agent("agent@people.example", "Ann Agent", "agent")
    page = client.post("/console/signature/", {"signature": "{{agent.phone}}"}, follow=True)
    assert "unknown placeholder {{agent.phone}}" in page.content.decode()


def test_the_mail_settings_administrator_sets_an_intakes_survey_signature_and_texts(
        intake: Intake) -> None:
    assert signed_in("agent").get(f"/console/intakes/{intake.pk}/").status_code == 403
    admin = signed_in("mail-settings administrator", csrf=True)
    path = f"/console/intakes/{intake.pk}/"
    page = admin.get(path).content.decode()
    assert 'id="text-survey-he"' in page and "{{survey.link}}" in page
    token = form_token(admin, path)
    assert admin.post(f"{path}settings", {"survey": "on", "signature": "Solarmora"}
                      ).status_code == 403  # no CSRF token
    admin.post(f"{path}settings", {"survey": "on", "signature": "Solarmora",
                                   "csrfmiddlewaretoken": token})
    intake.refresh_from_db()
    assert intake.survey and intake.signature == "Solarmora"
    admin.post(f"{path}text", {"kind": "survey", "language": "fr", "subject": "Votre avis",
                               "body": "Merci ! {{survey.link}}", "csrfmiddlewaretoken": token})
    assert IntakeText.objects.get(intake=intake, kind="survey", language="fr").subject \
        == "Votre avis"
    assert LogEntry.objects.filter(content_type__model="intaketext",
                                   actor__username="mail-settings-administrator").exists()
    refused = admin.post(f"{path}text", {"kind": "acknowledgement", "language": "en",
                                         "body": "Hi {{case.nope}}",
                                         "csrfmiddlewaretoken": token}, follow=True)
    assert "unknown placeholder {{case.nope}}" in refused.content.decode()
    admin.post(f"{path}text", {"kind": "survey", "language": "fr", "built_in": "1",
                               "csrfmiddlewaretoken": token})
    assert not IntakeText.objects.exists()


def test_the_case_page_shows_the_satisfaction_rating(intake: Intake) -> None:
    case = make_case(intake, team="")
    Survey.objects.create(case=case, token_sha256="0" * 64, sent_at=timezone.now(),
                          rating="bad", comment="<b>slow</b>", answered_at=timezone.now(),
                          changed_at=timezone.now())
    page = signed_in("agent").get(f"/console/cases/{case.pk}/").content.decode()
    assert 'id="satisfaction"' in page and "Bad" in page
    assert "&lt;b&gt;slow&lt;/b&gt;" in page

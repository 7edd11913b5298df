"""Satisfaction surveys as a requester meets them: the mail when their case is solved, the
page of its link (no sign-in, CSRF-protected, no script), their answer on the case, in its
history and for the triggers, and the figures reports read."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email import message_from_bytes
from email.message import Message as MailMessage
from email.policy import default

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casegate.desk.automation.triggers import add_trigger
from casegate.desk.changes import DeskError
from casegate.desk.filing import file_batch
from casegate.desk.models import (
    Case,
    CaseEvent,
    Contact,
    DeskMessage,
    Intake,
    Survey,
    WebhookCall,
)
from casegate.desk.output import conversation_detail
from casegate.desk.satisfaction import satisfaction_by
from casegate.desk.services import add_agent, add_intake, update_case
from casegate.desk.texts import set_text
from casegate.desk.vocabulary import Direction, IntakeKind
from casegate.desk.webhooks.hooks import add_webhook
from casegate.routing.snapshot import load_table
from casegate.spool.models import Message
from tests.desk.filing.batches import HOSTNAME, arrival
from tests.mails import mail

pytestmark = pytest.mark.django_db

BAD_RATING_TRIGGER = {
    "name": "Unhappy customers to the lead", "events": ["satisfaction_rated"],
    "conditions": {"all": [{"field": "satisfaction", "is": "bad"}]},
    "actions": [{"add_tags": ["unhappy"]}, {"priority": "high"},
                {"note": "Rated bad: call {{requester.name}} back"}],
}


@pytest.fixture(autouse=True)
def own_home(home: object) -> None:
    """Blobs in the test's own home."""


@pytest.fixture
def intake(db: None) -> Intake:
    intake = add_intake(IntakeKind.CASE, "help@desk.example")
    intake.survey = True
    intake.save()
    return intake


def file(intake: Intake, subject: str = "Panel broken",
         sender: str = "Dana <dana@example.net>") -> Case:
    [item] = file_batch([arrival(intake, mail(subject=subject, sender=sender)[0])],
                        load_table(), HOSTNAME).filed
    assert isinstance(item.conversation, Case)
    return item.conversation


def survey_mail(case: Case) -> MailMessage:
    """The survey as it was queued (the case's one automatic message: no acknowledgements)."""
    record = DeskMessage.objects.get(case=case, direction=Direction.AUTOMATIC)
    raw = bytes(Message.objects.get(queue_id=record.queue_id).raw)
    return message_from_bytes(raw, policy=default)


def link_of(mail_message: MailMessage) -> str:
    body = mail_message.get_body(("plain",))
    assert body is not None
    [path] = re.findall(r"https?://[^/\s]+(/survey/\S+)", body.get_content())
    return path


def answer(path: str, rating: str, comment: str = "") -> tuple[int, str]:
    """Open the link as a browser does, then send the form with its CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    if page.status_code != 200:
        return page.status_code, page.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    if token is None:  # no form: the answer can no longer change
        return page.status_code, page.content.decode()
    sent = browser.post(path, {"rating": rating, "comment": comment,
                               "csrfmiddlewaretoken": token[1]}, follow=True)
    return sent.status_code if not sent.redirect_chain else 200, sent.content.decode()


def test_a_solved_case_rated_bad_shows_on_the_case_in_its_history_and_fires_triggers(
        intake: Intake) -> None:
    add_trigger(BAD_RATING_TRIGGER)
    case = file(intake)
    update_case(case.pk, "ann", status="solved")
    sent = survey_mail(case)
    assert sent["To"] == "dana@example.net" and sent["Auto-Submitted"] == "auto-generated"
    assert f"[#CG-{case.pk}]" in sent["Subject"]
    path = link_of(sent)
    assert path.startswith(f"/survey/{case.pk}/")
    # The thread's copy of the survey has no token: the mail is the one way to answer.
    assert path.split("/")[3] not in DeskMessage.objects.get(
        case=case, direction=Direction.AUTOMATIC).text

    status, page = answer(path, "bad", "Took three weeks <b>and</b> nobody called")
    assert status == 200 and "Thank you" in page
    case.refresh_from_db()
    detail = conversation_detail(IntakeKind.CASE, case.pk)
    assert detail is not None
    assert detail["satisfaction"]["rating"] == "bad"
    assert detail["satisfaction"]["comment"] == "Took three weeks <b>and</b> nobody called"
    assert ("satisfaction", "bad: Took three weeks <b>and</b> nobody called",
            "dana@example.net") in [(e.field, e.after, e.actor) for e in case.history.all()]
    # The trigger on the event acted, named in the history.
    assert case.tags == ["unhappy"] and case.priority == "high"
    assert CaseEvent.objects.filter(case=case, field="note",
                                     actor="trigger:Unhappy customers to the lead").exists()
    assert DeskMessage.objects.filter(case=case, direction=Direction.NOTE,
                                      text="Rated bad: call Dana back").exists()


def test_a_webhook_of_satisfaction_rated_is_told_the_answer(intake: Intake) -> None:
    crm = add_webhook("crm", "https://crm.example/casegate", ["satisfaction_rated"]).webhook
    case = file(intake)
    update_case(case.pk, "ann", status="solved")
    assert answer(link_of(survey_mail(case)), "good", "Quick, thanks")[0] == 200
    [call] = WebhookCall.objects.filter(webhook=crm)
    body = json.loads(call.body)
    assert (body["event"], body["case"]["id"], body["message"]["text"]) == (
        "satisfaction_rated", case.pk, "Quick, thanks")


def test_a_token_rates_its_own_case_only(intake: Intake) -> None:
    first, second = file(intake, "One"), file(intake, "Two", "Eve <eve@example.net>")
    for case in (first, second):
        update_case(case.pk, "ann", status="solved")
    path = link_of(survey_mail(first))
    token = path.split("/")[3]
    status, page = answer(f"/survey/{second.pk}/{token}/", "good")
    assert status == 404 and "not valid" in page
    status, _ = answer(f"/survey/{first.pk}/{token[:-2]}xx/", "good")
    assert status == 404
    assert not Survey.objects.exclude(rating="").exists()
    assert answer(path, "good")[0] == 200
    assert Survey.objects.get(case=first).rating == "good"
    assert Survey.objects.get(case=second).rating == ""


def test_an_answer_changes_for_seven_days_then_stands(intake: Intake) -> None:
    case = file(intake)
    update_case(case.pk, "ann", status="solved")
    path = link_of(survey_mail(case))
    assert answer(path, "bad", "slow")[0] == 200
    assert answer(path, "good", "fixed after all")[0] == 200
    survey = Survey.objects.get(case=case)
    assert (survey.rating, survey.comment) == ("good", "fixed after all")
    first = survey.answered_at
    assert first is not None
    left_open = Client(enforce_csrf_checks=True)  # a tab opened before the week was over
    left_open.get(path)
    Survey.objects.filter(pk=survey.pk).update(answered_at=first - timedelta(days=7, minutes=1))
    status, page = answer(path, "bad", "changed my mind")
    assert status == 200 and 'id="closed"' in page and "7 days" in page
    refused = left_open.post(path, {"rating": "bad",
                                    "csrfmiddlewaretoken": left_open.cookies["csrftoken"].value})
    assert refused.status_code == 410 and 'id="closed"' in refused.content.decode()
    assert Survey.objects.get(case=case).rating == "good"
    assert [e.after for e in case.history.filter(field="satisfaction")] == [
        "bad: slow", "good: fixed after all"]


def test_the_form_needs_its_csrf_token(intake: Intake) -> None:
    case = file(intake)
    update_case(case.pk, "ann", status="solved")
    path = link_of(survey_mail(case))
    assert Client(enforce_csrf_checks=True).post(path, {"rating": "bad"}).status_code == 403
    page = Client().get(path)
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "<script" not in page.content.decode()  # a plain form: no script needed
    assert Survey.objects.get(case=case).rating == ""


def test_one_survey_a_case_in_the_requesters_language_in_the_intakes_words(
        intake: Intake) -> None:
    case = file(intake)
    Contact.objects.filter(address="dana@example.net").update(language="fr")
    set_text(intake, "survey", "fr", "Votre avis", "Bonjour {{requester.name}}, "
             "{{case.number}} : {{survey.link}}")
    update_case(case.pk, "ann", status="solved")
    sent = survey_mail(case)
    assert sent["Content-Language"] == "fr" and "Votre avis" in sent["Subject"]
    assert f"Bonjour Dana, CG-{case.pk} : http" in sent.get_body(("plain",)).get_content()
    update_case(case.pk, "ann", status="open")
    update_case(case.pk, "ann", status="solved")
    assert Survey.objects.filter(case=case).count() == 1
    assert DeskMessage.objects.filter(case=case, direction=Direction.AUTOMATIC).count() == 1
    page = Client().get(link_of(sent)).content.decode()
    assert 'lang="fr"' in page and "Comment évaluez-vous" in page


def test_an_answer_locks_the_case_its_triggers_save(intake: Intake) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite the answer's transaction holds the one writer's lock already")
    case = file(intake)
    update_case(case.pk, "ann", status="solved")
    with CaptureQueriesContext(connection) as queries:
        assert answer(link_of(survey_mail(case)), "good")[0] == 200
    assert any('FOR UPDATE OF "desk_survey", "desk_case"' in q["sql"]
               for q in queries.captured_queries)


def test_the_survey_link_is_refused_in_a_subject_which_the_thread_keeps(
        intake: Intake) -> None:
    with pytest.raises(DeskError, match="not in the subject"):
        set_text(intake, "survey", "en", "Rate us: {{ survey.link }}", "{{survey.link}}")


def test_an_intake_without_surveys_sends_none(intake: Intake) -> None:
    other = add_intake(IntakeKind.CASE, "sales@desk.example")
    case = file(other)
    update_case(case.pk, "ann", status="solved")
    assert not Survey.objects.exists()
    assert conversation_detail(IntakeKind.CASE, case.pk)["satisfaction"] is None  # type: ignore[index]


def test_satisfaction_by_team_agent_and_intake(intake: Intake) -> None:
    add_agent("ann@agents.example", "Ann Agent", "ann", ["Billing"])
    add_agent("bob@agents.example", "Bob Agent", "bob", ["Support"])
    answers = [("ann", "Billing", "good"), ("ann", "Billing", "bad"), ("ann", "Billing", "good"),
               ("bob", "Support", "bad")]
    for n, (agent, team, rating) in enumerate(answers):
        case = file(intake, f"Case {n}", f"C{n} <c{n}@example.net>")
        update_case(case.pk, "x", assignee=agent, team=team, status="solved")
        assert answer(link_of(survey_mail(case)), rating)[0] == 200
    unanswered = file(intake, "Quiet", "Q <q@example.net>")
    update_case(unanswered.pk, "x", status="solved")
    now = timezone.now()
    day = timedelta(days=1)
    by_agent = satisfaction_by("agent", now - day, now + day)
    assert [(r.key, r.good, r.bad, r.rated) for r in by_agent] == [("ann", 2, 1, 3),
                                                                  ("bob", 0, 1, 1)]
    assert by_agent[0].good_share == pytest.approx(2 / 3)
    assert [(r.key, r.good, r.bad) for r in satisfaction_by("team", now - day, now + day)] == [
        ("Billing", 2, 1), ("Support", 0, 1)]
    assert [(r.key, r.rated) for r in satisfaction_by("intake", now - day, now + day)] == [
        ("help@desk.example", 4)]
    assert satisfaction_by("team", now + day, now + 2 * day) == []


def test_an_intakes_own_acknowledgement_in_the_requesters_language(intake: Intake) -> None:
    intake.acknowledge = True
    intake.save()
    set_text(intake, "acknowledgement", "pt", "Recebido",
             "Olá {{requester.name}}, o seu pedido é {{case.tag}}.")
    for language, sender in (("pt-BR", "Dana <dana@example.net>"), ("fr", "Eve <eve@example.net>")):
        raw = mail(subject="Painel", sender=sender)[0].replace(
            b"Subject:", f"Content-Language: {language}\r\nSubject:".encode())
        batch = file_batch([arrival(intake, raw)], load_table(), HOSTNAME)
        [item] = batch.filed
        [sent] = batch.outgoing
        ack = message_from_bytes(sent.raw, policy=default)
        tag = f"[#CG-{item.conversation.pk}]"  # type: ignore[union-attr]
        text = ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        if language == "pt-BR":
            assert ack["Subject"] == f"{tag} Recebido: Painel"
            assert text.strip() == f"Olá Dana, o seu pedido é {tag}."
            assert ack["Content-Language"] == "pt"
        else:  # no text of its own in French: the built-in one
            assert ack["Subject"] == f"{tag} Nous avons bien reçu votre message: Painel"
            assert f"enregistrée sous {tag}" in text

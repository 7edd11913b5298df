"""The words of the desk's own mail (acknowledgements, satisfaction surveys): built in for
each language the desk speaks, and an intake's own wording per language in their place.

Texts take the placeholders of replies (``{{case.tag}}``, ``{{requester.name}}``, …; see
:mod:`casegate.desk.automation.vocabulary`), and a survey's ``{{survey.link}}`` too. The
subject of the mail is the text's subject after the case tag.
"""

from __future__ import annotations

from django.db import transaction

from casegate.desk.automation.rules import TriggerError, check_placeholders
from casegate.desk.automation.vocabulary import PLACEHOLDERS, SURVEY_PLACEHOLDERS
from casegate.desk.changes import DeskError
from casegate.desk.models import Intake, IntakeText
from casegate.desk.vocabulary import DeskText

DEFAULT_LANGUAGE = "en"

BUILT_IN: dict[str, dict[str, tuple[str, str]]] = {
    DeskText.ACKNOWLEDGEMENT: {
        "en": ("We received your message",
               "Hello,\n\nthank you for writing to us. Your request is registered as "
               "{{case.tag}}; we will answer as soon as we can. Please keep {{case.tag}} in the "
               "subject when you write about it.\n"),
        "fr": ("Nous avons bien reçu votre message",
               "Bonjour,\n\nmerci de nous avoir écrit. Votre demande est enregistrée sous "
               "{{case.tag}} ; nous vous répondrons dès que possible. Gardez {{case.tag}} dans "
               "l'objet de vos messages.\n"),
        "pt": ("Recebemos sua mensagem",
               "Olá,\n\nobrigado por nos escrever. Sua solicitação foi registrada como "
               "{{case.tag}}; responderemos assim que possível. Mantenha {{case.tag}} no "
               "assunto ao escrever sobre ela.\n"),
        "id": ("Kami telah menerima pesan Anda",
               "Halo,\n\nterima kasih telah menulis kepada kami. Permintaan Anda tercatat "
               "sebagai {{case.tag}}; kami akan segera menjawab. Harap sertakan {{case.tag}} di "
               "subjek email Anda.\n"),
        "he": ("קיבלנו את הודעתך",
               "שלום,\n\nתודה שכתבת לנו. הפנייה שלך נרשמה כ-{{case.tag}}; נשיב בהקדם האפשרי. "
               "נא להשאיר את {{case.tag}} בשורת הנושא.\n"),
        "ar": ("تلقينا رسالتك",
               "مرحبًا،\n\nشكرًا لتواصلك معنا. تم تسجيل طلبك برقم {{case.tag}}؛ سنرد عليك في "
               "أقرب وقت. يُرجى الإبقاء على {{case.tag}} في سطر الموضوع.\n"),
    },
    DeskText.SURVEY: {
        "en": ("How did we do?",
               "Hello {{requester.name}},\n\nyour request {{case.tag}} is solved. How would you "
               "rate the help you received? One click tells us:\n\n{{survey.link}}\n\n"
               "Thank you for your answer.\n"),
        "fr": ("Votre avis nous intéresse",
               "Bonjour {{requester.name}},\n\nvotre demande {{case.tag}} est résolue. Comment "
               "évaluez-vous l'aide reçue ? Un clic suffit :\n\n{{survey.link}}\n\n"
               "Merci de votre réponse.\n"),
        "pt": ("Como foi o nosso atendimento?",
               "Olá {{requester.name}},\n\nsua solicitação {{case.tag}} foi resolvida. Como "
               "você avalia a ajuda que recebeu? Basta um clique:\n\n{{survey.link}}\n\n"
               "Obrigado pela sua resposta.\n"),
        "id": ("Bagaimana layanan kami?",
               "Halo {{requester.name}},\n\npermintaan Anda {{case.tag}} telah diselesaikan. "
               "Bagaimana penilaian Anda atas bantuan yang Anda terima? Cukup satu klik:\n\n"
               "{{survey.link}}\n\nTerima kasih atas jawaban Anda.\n"),
        "he": ("איך היה השירות שלנו?",
               "שלום {{requester.name}},\n\nהפנייה שלך {{case.tag}} טופלה. איך היית מדרג את "
               "העזרה שקיבלת? לחיצה אחת מספיקה:\n\n{{survey.link}}\n\nתודה על תשובתך.\n"),
        "ar": ("كيف كانت خدمتنا؟",
               "مرحبًا {{requester.name}}،\n\nتم حل طلبك {{case.tag}}. كيف تقيّم المساعدة التي "
               "تلقيتها؟ نقرة واحدة تكفي:\n\n{{survey.link}}\n\nشكرًا على إجابتك.\n"),
    },
}

LANGUAGES = tuple(BUILT_IN[DeskText.ACKNOWLEDGEMENT])

_PLACEHOLDERS: dict[str, tuple[str, ...]] = {DeskText.ACKNOWLEDGEMENT: PLACEHOLDERS,
                                             DeskText.SURVEY: SURVEY_PLACEHOLDERS}


def language_for(wanted: str) -> str:
    """The language the desk writes to someone who reads ``wanted`` (``fr-CA``, ``he``…):
    theirs when it is one the desk speaks, else English."""
    language = wanted.strip().lower()[:2]
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


OwnTexts = dict[tuple[int, str], tuple[str, str]]


def own_texts(kind: str, intake_ids: set[int]) -> OwnTexts:
    """The intakes' own wordings of ``kind``, by intake and language, read at once."""
    return {(t.intake_id, t.language): (t.subject, t.body) for t in IntakeText.objects.filter(
        kind=kind, intake_id__in=intake_ids)}


def text_for(intake_id: int, kind: str, language: str, own: OwnTexts | None = None
             ) -> tuple[str, str]:
    """The subject and body of ``kind`` in ``language``: the intake's own, else built in.
    ``own``: what :func:`own_texts` read for the intake, or read now."""
    if own is None:
        own = own_texts(kind, {intake_id})
    return own.get((intake_id, language)) or BUILT_IN[kind][language]


def texts_of(intake: Intake) -> list[dict[str, object]]:
    """Every text of the intake, each kind in each language: its wording and whether it is
    the intake's own."""
    own = {(t.kind, t.language): t for t in IntakeText.objects.filter(intake=intake)}
    rows: list[dict[str, object]] = []
    for kind in DeskText.values:
        for language in LANGUAGES:
            found = own.get((kind, language))
            subject, body = (found.subject, found.body) if found else BUILT_IN[kind][language]
            rows.append({"kind": kind, "language": language, "subject": subject, "body": body,
                         "own": found is not None})
    return rows


@transaction.atomic
def set_text(intake: Intake, kind: str, language: str, subject: str = "", body: str = ""
             ) -> IntakeText | None:
    """The intake's own wording of ``kind`` in ``language``; an empty body (or the built-in
    text itself) goes back to the built-in one (None)."""
    if kind not in DeskText.values:
        raise DeskError(f"the texts are {', '.join(DeskText.values)}, not {kind!r}")
    if language not in LANGUAGES:
        raise DeskError(f"the languages are {', '.join(LANGUAGES)}, not {language!r}")
    subject, body = " ".join(subject.split())[:500], body.strip().replace("\r\n", "\n")
    owned = IntakeText.objects.filter(intake=intake, kind=kind, language=language)
    built_in_subject, built_in_body = BUILT_IN[kind][language]
    if not body or (subject in ("", built_in_subject) and body == built_in_body.strip()):
        owned.delete()
        return None
    try:
        check_placeholders(f"{subject}\n{body}", known=_PLACEHOLDERS[kind])
    except TriggerError as exc:
        raise DeskError(str(exc)) from None
    if kind == DeskText.SURVEY and "{{survey.link}}" not in body.replace(" ", ""):
        raise DeskError("a survey's text needs {{survey.link}}, the link to answer it")
    if "{{survey.link}}" in subject.replace(" ", ""):  # kept in the thread, seen by agents
        raise DeskError("the survey link belongs in the text, not in the subject")
    text, _ = IntakeText.objects.update_or_create(
        intake=intake, kind=kind, language=language,
        defaults={"subject": subject or built_in_subject, "body": body + "\n"})
    return text

"""Satisfaction surveys: when a case of an intake with ``survey`` on is first solved, the
requester gets a mail in their language (the intake's wording, else the built-in one) with
a link to rate the help (see :mod:`casegate.desk.satisfaction`).

The link carries a random token of its own (256 bits) and the case's number; only the
token's SHA-256 is stored, and a token answers for its case alone. A case solved again
after a reopening gets no second survey: its first link still answers. The survey leaves
like a trigger's notification: from the address the customer wrote to, threaded under
their last message, with the null envelope sender and ``Auto-Submitted: auto-generated``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.utils import timezone

from casegate.config import get_config
from casegate.desk.automation.actions import placeholder_values
from casegate.desk.automation.rules import fill_placeholders
from casegate.desk.changes import case_event
from casegate.desk.models import Case, DeskMessage, Survey
from casegate.desk.outgoing import about, tag_of
from casegate.desk.texts import language_for, text_for
from casegate.desk.vocabulary import DeskText, Direction
from casegate.routing.engine import RoutingTable
from casegate.routing.snapshot import load_table
from casegate.spool.messages import AcceptedMessage, generated_message

log = logging.getLogger("casegate.desk")

SURVEY_FIELD = "survey"  # the history's field for the survey mail


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def survey_path(case_id: int, token: str) -> str:
    """Where the survey of a case is answered, on the console's address."""
    return f"/survey/{case_id}/{token}/"


def _reason_not_to_survey(case: Case, table: RoutingTable) -> str:
    requester = case.requester
    if not requester or table.is_ours(requester):
        return "one of our own addresses"
    if not table.destinations(requester):
        return f"{requester} cannot be reached"
    return ""


def survey_on_solve(case: Case, table: RoutingTable | None, hostname: str
                    ) -> AcceptedMessage | None:
    """The survey mail of a case just solved, when its intake sends one and the case has had
    none; recorded on the case (its history says when none could go)."""
    if not case.intake.survey or Survey.objects.filter(case_id=case.pk).exists():
        return None
    table = table or load_table()
    reason = _reason_not_to_survey(case, table)
    if reason:
        case_event(case, SURVEY_FIELD, "", f"not sent: {reason}", "desk").save()
        return None
    token = secrets.token_urlsafe(32)
    contact = case.contact if case.contact_id else None
    language = language_for(contact.language if contact else "")
    subject, body = text_for(case.intake_id, DeskText.SURVEY, language)
    link = get_config().console_url + survey_path(case.pk, token)
    values = {**placeholder_values(case, None), "survey.link": link}
    # The thread's copy leaves the token out: the mail is the one way to answer.
    shown = {**values, "survey.link": link.replace(token, "…")}
    tag = tag_of(case)
    latest = case.messages.filter(direction=Direction.INBOUND).order_by("-id").first()
    message = about(case, case.requester, f"{tag} {fill_placeholders(subject, shown)}",
                    hostname, latest.message_id if latest else case.message_id,
                    latest.references.split() if latest else ())
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(fill_placeholders(body, values))
    message["Content-Language"] = language  # after the content, which would drop it
    text = fill_placeholders(body, shown)
    now = timezone.now()
    outgoing = generated_message({case.requester: table.destinations(case.requester)},
                                 message.as_bytes(), hostname, message["Message-ID"])
    Survey.objects.create(case=case, token_sha256=digest(token), language=language,
                          sent_at=now)
    DeskMessage.objects.create(
        case=case, direction=Direction.AUTOMATIC, queue_id=outgoing.queue_id,
        message_id=message["Message-ID"], recipients=case.requester,
        subject=str(message["Subject"]), text=text, new_text=text, created_at=now)
    case_event(case, SURVEY_FIELD, "", f"sent to {case.requester}", "desk").save()
    log.info("case=%s survey=sent queue=%s", case.pk, outgoing.queue_id)
    return outgoing

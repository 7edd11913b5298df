"""Satisfaction: the requester's answer to the survey of a solved case (sent by
:mod:`casegate.desk.surveys`), and the figures reports read.

What the requester answers (good or bad, with a comment) is on the case, in its history,
and fires the ``satisfaction_rated`` triggers. One answer per case, which the requester
may change for :data:`ANSWER_WINDOW` after their first; then it stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from casegate.desk.automation.engine import run_after_change
from casegate.desk.automation.facts import EventMessage
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.changes import DeskError, case_event
from casegate.desk.models import Survey
from casegate.desk.ratings import ANSWER_WINDOW, can_change_until
from casegate.desk.surveys import digest
from casegate.desk.vocabulary import Rating, ReportDimension

log = logging.getLogger("casegate.desk")

MAX_COMMENT = 5000
RATING_FIELD = "satisfaction"  # the history's field for the requester's answer


class AnswerClosed(DeskError):
    """The answer can no longer be changed."""


def find_survey(case_id: int, token: str) -> Survey | None:
    """The survey the link names: its token must be the one sent about that case."""
    survey = (Survey.objects.select_related("case").filter(token_sha256=digest(token))
              .first())
    return survey if survey is not None and survey.case_id == case_id else None


def rating_text(rating: str, comment: str) -> str:
    """An answer as the history shows it."""
    return f"{rating}: {comment}" if comment else rating


@transaction.atomic
def answer_survey(case_id: int, token: str, rating: str, comment: str = "") -> Survey:
    """Record the requester's answer (or their changed answer) to the survey of a case, in
    its history, and run the ``satisfaction_rated`` triggers."""
    if rating not in Rating.values:
        raise DeskError(f"a rating is one of {', '.join(Rating.values)}")
    found = find_survey(case_id, token)
    if found is None:
        raise DeskError("this survey link is not valid")
    # The case too: the triggers below save it whole, over an agent's change made meanwhile.
    survey = (Survey.objects.select_for_update(of=("self", "case"))
              .select_related("case", "case__intake", "case__assignee").get(pk=found.pk))
    now = timezone.now()
    closes = can_change_until(survey)
    if closes is not None and now > closes:
        raise AnswerClosed(f"the answer was given on {survey.answered_at:%Y-%m-%d} and can be "
                           f"changed for {ANSWER_WINDOW.days} days only")
    comment = comment.strip()[:MAX_COMMENT]
    case = survey.case
    before = rating_text(survey.rating, survey.comment) if survey.rating else ""
    survey.rating, survey.comment, survey.changed_at = rating, comment, now
    survey.answered_at = survey.answered_at or now
    survey.team = case.team
    survey.agent = case.assignee.get_username() if case.assignee else ""
    survey.save()
    case_event(case, RATING_FIELD, before, rating_text(rating, comment)[:2000],
               case.requester[:150]).save()
    log.info("case=%s satisfaction=%s", case.pk, rating)
    run_after_change(case, TriggerEvent.SATISFACTION_RATED,
                     EventMessage(sender=case.requester, subject=case.subject, body=comment))
    return survey


@dataclass(frozen=True)
class SatisfactionRow:
    """The answers of one team, agent or intake."""

    key: str
    good: int
    bad: int

    @property
    def rated(self) -> int:
        return self.good + self.bad

    @property
    def good_share(self) -> float | None:
        """Good answers among all answers (0.0 to 1.0); None without answers."""
        return self.good / self.rated if self.rated else None


_DIMENSION_COLUMNS: dict[str, str] = {ReportDimension.TEAM: "team", ReportDimension.AGENT: "agent",
                                      ReportDimension.INTAKE: "case__intake__address"}


def satisfaction_by(dimension: str, since: datetime, until: datetime
                    ) -> list[SatisfactionRow]:
    """Satisfaction for reports: the good and bad answers per ``dimension``, one of
    :class:`~casegate.desk.vocabulary.ReportDimension` (``team``, ``agent``, ``intake``).

    An answer counts when it was first given in ``[since, until)`` (both aware datetimes),
    with the rating it has now (a requester may change it for :data:`ANSWER_WINDOW`). Team
    and agent are the case's team and assignee's user name when the requester last
    answered (so a trigger reassigning a case rated bad does not move the rating to the new
    assignee); intake is the intake's address. Cases of no team or no assignee are under
    ``""``. Rows are sorted by key; surveys not answered are not counted. One query.
    """
    if dimension not in _DIMENSION_COLUMNS:
        raise DeskError(f"satisfaction is reported by {', '.join(ReportDimension.values)}")
    column = _DIMENSION_COLUMNS[dimension]
    rows = (Survey.objects.filter(answered_at__gte=since, answered_at__lt=until)
            .exclude(rating="").values(column)
            .annotate(good=Count("pk", filter=Q(rating=Rating.GOOD)),
                      bad=Count("pk", filter=Q(rating=Rating.BAD)))
            .order_by(column))
    return [SatisfactionRow(row[column] or "", row["good"], row["bad"]) for row in rows]

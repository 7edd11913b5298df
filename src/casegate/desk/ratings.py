"""A case's satisfaction rating as it is shown (see :mod:`casegate.desk.satisfaction` for
answering the survey and the report)."""

from __future__ import annotations

from datetime import datetime, timedelta

from casegate.desk.models import Survey

ANSWER_WINDOW = timedelta(days=7)


def can_change_until(survey: Survey) -> datetime | None:
    """Until when the answer may change (None: not answered yet)."""
    return survey.answered_at + ANSWER_WINDOW if survey.answered_at else None


def satisfaction_of(case_id: int) -> dict[str, str | None] | None:
    """A case's survey as the API and the console show it (None: no survey sent)."""
    survey = Survey.objects.filter(case_id=case_id).first()
    if survey is None:
        return None
    until = can_change_until(survey)
    return {"rating": survey.rating or None, "comment": survey.comment,
            "sent_at": survey.sent_at.isoformat(),
            "answered_at": survey.answered_at.isoformat() if survey.answered_at else None,
            "changed_at": survey.changed_at.isoformat() if survey.changed_at else None,
            "changeable_until": until.isoformat() if until else None}

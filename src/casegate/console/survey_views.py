"""The satisfaction survey's page, the one page of the console a requester opens without
signing in: the link of the survey mail names the case and carries its token (see
:mod:`casegate.desk.surveys`). It speaks the requester's language, works without script,
and its form is a POST with Django's CSRF token."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.views.decorators.http import require_http_methods

from casegate.desk.changes import DeskError
from casegate.desk.outgoing import tag_of
from casegate.desk.ratings import ANSWER_WINDOW, can_change_until
from casegate.desk.satisfaction import AnswerClosed, answer_survey, find_survey


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, case_id: int, token: str) -> HttpResponse:
    found = find_survey(case_id, token)
    if found is None:
        return render(request, "console/survey.html", {"invalid": True}, status=404)
    status, error = 200, ""
    if request.method == "POST":
        try:
            answer_survey(case_id, token, request.POST.get("rating", ""),
                          request.POST.get("comment", ""))
        except AnswerClosed:
            status = 410
        except DeskError:
            status, error = 400, "rating"
        else:
            return redirect(request.path + "?thanks=1")
        found.refresh_from_db()
    until = can_change_until(found)
    with translation.override(found.language or "en"):
        response = render(request, "console/survey.html", {
            "survey": found, "number": tag_of(found.case).strip("[]#"),
            "subject": found.case.subject,
            "until": until, "days": ANSWER_WINDOW.days,
            "closed": status == 410 or (until is not None and timezone.now() > until),
            "error": error, "thanks": request.GET.get("thanks") == "1" and found.rating,
            "comment": request.POST.get("comment", found.comment),
        }, status=status)
    response["Content-Language"] = found.language or "en"
    return response


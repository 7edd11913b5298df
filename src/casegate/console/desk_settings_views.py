"""Console pages of the desk's settings: an intake's satisfaction survey, signature and
texts (the mail-settings administrator's), and an agent's own signature."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.access import can
from casegate.console.roles import require
from casegate.desk.automation.vocabulary import SIGNATURE_PLACEHOLDERS, SURVEY_PLACEHOLDERS
from casegate.desk.changes import DeskError
from casegate.desk.models import Agent, Intake
from casegate.desk.services import configure_intake
from casegate.desk.signatures import set_agent_signature
from casegate.desk.texts import set_text, texts_of
from casegate.desk.vocabulary import IntakeKind


def _intake(intake_id: int) -> Intake:
    intake = Intake.objects.filter(pk=intake_id, kind=IntakeKind.CASE).first()
    if intake is None:
        raise Http404(f"there is no case intake {intake_id}")
    return intake


def _written(placeholders: tuple[str, ...]) -> list[str]:
    """Placeholders as a text has them: ``{{case.number}}``."""
    return [f"{{{{{name}}}}}" for name in placeholders]


@require("mail_settings")
def intake(request: HttpRequest, intake_id: int) -> HttpResponse:
    return render(request, "console/intake.html", {
        "intake": (found := _intake(intake_id)), "texts": texts_of(found),
        "signature_placeholders": _written(SIGNATURE_PLACEHOLDERS),
        "text_placeholders": _written(SURVEY_PLACEHOLDERS)})


@require("mail_settings")
@require_POST
def intake_change(request: HttpRequest, intake_id: int, what: str) -> HttpResponse:
    """``settings``: the survey and the signature; ``text``: one text in one language."""
    found, form = _intake(intake_id), request.POST
    try:
        if what == "settings":
            configure_intake(found, form.get("survey") == "on", form.get("signature", ""))
        elif what == "text":
            set_text(found, form.get("kind", ""), form.get("language", ""),
                     form.get("subject", ""),
                     "" if "built_in" in form else form.get("body", ""))
        else:
            raise Http404(f"there is no intake setting {what}")
    except DeskError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Saved."))
    return redirect(reverse("console:intake", args=[intake_id]))


@require("read_cases")
def signature(request: HttpRequest) -> HttpResponse:
    """The signed-in agent's own signature (others are told they are no agent)."""
    agent = Agent.objects.filter(user__username=request.user.get_username()).first()
    if request.method == "POST":
        if agent is None or not can(request.user, "work_cases"):
            raise PermissionDenied("only an agent has a signature")
        try:
            set_agent_signature(request.user.get_username(), request.POST.get("signature", ""))
        except DeskError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Saved."))
        return redirect("console:signature")
    return render(request, "console/signature.html", {
        "agent": agent, "placeholders": _written(SIGNATURE_PLACEHOLDERS)})

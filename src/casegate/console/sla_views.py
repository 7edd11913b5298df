"""The console's SLA page: the calendars and the policies in the order they are tried,
edited as one YAML text (checked first, or saved all or nothing), and their versions, each
of which can be brought back. For the mail-settings administrator, like the triggers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.console.roles import require
from casegate.desk.models import SlaCalendar, SlaPolicy
from casegate.desk.sla.policies import export_sla, history, import_sla, rollback
from casegate.desk.sla.rules import SlaError, shown_duration
from casegate.desk.vocabulary import SlaTarget

MAX_TEXT = 1_000_000


def _page(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    policies = [{"policy": p, "conditions": "; ".join(
                     f"{key}: {', '.join(values)}" for key, values in p.conditions.items()),
                 "targets": [(SlaTarget(t).label, shown_duration(minutes)) for t in
                             SlaTarget.values if (minutes := getattr(p, f"{t}_minutes"))]}
                for p in SlaPolicy.objects.select_related("calendar").order_by("position", "id")]
    return render(request, "console/sla.html", {
        "calendars": SlaCalendar.objects.order_by("name"), "policies": policies,
        "versions": history(20), "text": extra.pop("text", None) or export_sla(), **extra},
        status=status)


@require("mail_settings")
def sla(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require("mail_settings")
@require_POST
def sla_save(request: HttpRequest) -> HttpResponse:
    text = request.POST.get("text", "")[:MAX_TEXT]
    check = request.POST.get("action") == "check"
    try:
        result = import_sla(text, "sla.yaml", dry_run=check)
    except SlaError as exc:
        return _page(request, status=400, problem=str(exc), text=text)
    if check:
        return _page(request, diff=result.diff or _("No change."), text=text)
    messages.success(request, _("Saved %(calendars)s calendars and %(policies)s policies.")
                     % {"calendars": result.calendars, "policies": result.policies}
                     if result.diff else _("No change."))
    return redirect("console:sla")


@require("mail_settings")
@require_POST
def sla_rollback(request: HttpRequest, number: int) -> HttpResponse:
    try:
        rollback(number)
    except SlaError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Back to version %(number)s.") % {"number": number})
    return redirect("console:sla")

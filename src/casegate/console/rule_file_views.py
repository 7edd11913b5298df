"""The console's page of each set kept in versions (triggers, automations, webhooks,
macros) as one YAML text: checked first (the change shown as a diff) or saved all or
nothing, and its versions, each of which can be brought back. For the mail-settings
administrator, like the SLA page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from casegate.console.roles import require
from casegate.desk.kept_sets import KEPT_SETS, KeptSet
from casegate.errors import CasegateError

MAX_TEXT = 1_000_000
TITLES = {"triggers": gettext_lazy("Triggers as YAML"),
          "automations": gettext_lazy("Automations as YAML"),
          "webhooks": gettext_lazy("Webhooks as YAML"),
          "macros": gettext_lazy("Macros")}


def _kept(kind: str) -> KeptSet:
    if kind not in KEPT_SETS:
        raise Http404(kind)
    return KEPT_SETS[kind]


def _page(request: HttpRequest, kind: str, status: int = 200, **extra: Any) -> HttpResponse:
    kept = _kept(kind)
    return render(request, "console/rule_file.html", {
        "kind": kind, "title": TITLES[kind], "noun": kept.noun, "versions": kept.history(20),
        "text": extra.pop("text", None) or kept.export(), **extra}, status=status)


@require("mail_settings")
def rule_file(request: HttpRequest, kind: str) -> HttpResponse:
    if request.method != "POST":
        return _page(request, kind)
    text = request.POST.get("text", "")[:MAX_TEXT]
    check = request.POST.get("action") == "check"
    try:
        result = _kept(kind).import_(text, f"{kind}.yaml", dry_run=check)
    except CasegateError as exc:
        return _page(request, kind, status=400, problem=str(exc), text=text)
    if check:
        return _page(request, kind, diff=result.diff or _("No change."), text=text)
    saved = (_("Saved as version %(number)s.") % {"number": result.version} if result.diff
             else _("No change."))
    if result.notes:
        # A note can tell a new webhook's secret: answered in this page, never kept in the
        # message store (a cookie by default).
        return _page(request, kind, saved=saved, notes=result.notes)
    messages.success(request, saved)
    return redirect("console:rule_file", kind=kind)


@require("mail_settings")
@require_POST
def rule_file_rollback(request: HttpRequest, kind: str, number: str) -> HttpResponse:
    try:
        _kept(kind).rollback(int(number))
    except CasegateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Back to version %(number)s.") % {"number": number})
    return redirect("console:rule_file", kind=kind)

"""Console pages of triggers and macros: the triggers in their order (enable, disable),
and applying a macro from a case's page. Triggers are the mail-settings administrator's,
like the routing rules; macros are applied by agents to the cases they may work."""

from __future__ import annotations

import yaml
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.console.roles import require
from casegate.console.views import visible_case
from casegate.desk.automation.macros import apply_macro
from casegate.desk.automation.triggers import history, set_enabled, trigger_dict
from casegate.desk.models import Trigger
from casegate.errors import CasegateError


def _yaml(value: object) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=90).strip()


@require("mail_settings")
def triggers(request: HttpRequest) -> HttpResponse:
    rows = []
    for trigger in Trigger.objects.order_by("position", "id"):
        shown = trigger_dict(trigger)
        rows.append({"trigger": trigger, "events": ", ".join(trigger.events),
                     "conditions": _yaml(shown["conditions"]) if "conditions" in shown else "",
                     "actions": _yaml(shown["actions"])})
    return render(request, "console/triggers.html", {"rows": rows, "versions": history(10)})


@require("mail_settings")
@require_POST
def trigger_change(request: HttpRequest, trigger_id: int, action: str) -> HttpResponse:
    try:
        trigger = set_enabled(trigger_id, action == "enable")
    except CasegateError as exc:
        messages.error(request, str(exc))
    else:
        text = _("Trigger %(name)s enabled.") if trigger.enabled else \
            _("Trigger %(name)s disabled.")
        messages.success(request, text % {"name": trigger.name})
    return redirect(reverse("console:triggers"))


@require("work_cases")
@require_POST
def case_macro(request: HttpRequest, case_id: int) -> HttpResponse:
    visible_case(request, case_id)
    try:
        applied = apply_macro(request.POST.get("macro", ""), case_id, request.user)
    except CasegateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Macro %(name)s applied.") % {"name": applied.macro.name})
    return redirect(reverse("console:case", args=[case_id]))

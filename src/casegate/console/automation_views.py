"""Console pages of triggers, automations and macros: the triggers in their order (enable,
disable); the automations in their order (add and edit as YAML, enable, disable, remove,
roll back); applying a macro from a case's page. Triggers and automations are the
mail-settings administrator's, like the routing rules; macros are applied by agents to the
cases they may work."""

from __future__ import annotations

import yaml
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.console.roles import require
from casegate.console.views import visible_case
from casegate.desk.automation.automations import AUTOMATIONS
from casegate.desk.automation.macros import apply_macro
from casegate.desk.automation.triggers import history, set_enabled, trigger_dict
from casegate.desk.models import Automation, Trigger
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


@require("mail_settings")
def automations(request: HttpRequest) -> HttpResponse:
    rows = [{"automation": automation,
             "conditions": _yaml(AUTOMATIONS.as_dict(automation)["conditions"]),
             "actions": _yaml(AUTOMATIONS.as_dict(automation)["actions"])}
            for automation in AUTOMATIONS.ordered()]
    return render(request, "console/automations.html",
                  {"rows": rows, "versions": AUTOMATIONS.history(10)})


_EXAMPLE = {"name": "", "conditions": {"all": [
    {"field": "status", "is": "pending"},
    {"field": "hours_since_status_changed", "at_least": 72}]},
    "actions": [{"status": "solved"}]}


@require("mail_settings")
def automation_edit(request: HttpRequest, automation_id: int | None = None) -> HttpResponse:
    """A new automation, or one changed, written as YAML (the keys of an export's item)."""
    automation = get_object_or_404(Automation, pk=automation_id) if automation_id else None
    text = _yaml(AUTOMATIONS.as_dict(automation) if automation else _EXAMPLE)
    if request.method == "POST":
        text = request.POST.get("text", "")
        try:
            data = yaml.safe_load(text)
            saved = (AUTOMATIONS.update(automation.pk, data) if automation
                     else AUTOMATIONS.add(data))
        except yaml.YAMLError as exc:
            messages.error(request, _("Not valid YAML: %(problem)s")
                           % {"problem": getattr(exc, "problem", None) or exc})
        except CasegateError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Automation %(name)s saved.") % {"name": saved.name})
            return redirect(reverse("console:automations"))
    return render(request, "console/automation_edit.html",
                  {"automation": automation, "text": text})


@require("mail_settings")
@require_POST
def automation_change(request: HttpRequest, automation_id: int, action: str) -> HttpResponse:
    if action not in ("enable", "disable", "remove"):
        raise Http404(action)
    try:
        if action == "remove":
            name = AUTOMATIONS.find(automation_id).name
            AUTOMATIONS.remove(automation_id)
            messages.success(request, _("Automation %(name)s removed.") % {"name": name})
        else:
            automation = AUTOMATIONS.set_enabled(automation_id, action == "enable")
            text = _("Automation %(name)s enabled.") if automation.enabled else \
                _("Automation %(name)s disabled.")
            messages.success(request, text % {"name": automation.name})
    except CasegateError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("console:automations"))


@require("mail_settings")
@require_POST
def automation_rollback(request: HttpRequest, number: int) -> HttpResponse:
    try:
        AUTOMATIONS.rollback(number)
    except CasegateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The automations are back to version %(number)s.")
                         % {"number": number})
    return redirect(reverse("console:automations"))

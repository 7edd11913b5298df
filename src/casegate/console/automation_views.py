"""Console pages of triggers, automations, macros and webhooks: the triggers in their order
(enable, disable); the automations in their order (add and edit as YAML, enable, disable,
remove, roll back); applying a macro from a case's page; the webhooks (add, change, pause,
resume, test, remove, and each one's attempts). Triggers, automations and webhooks are the
mail-settings administrator's, like the routing rules; macros are applied by agents to the
cases they may work."""

from __future__ import annotations

from typing import Any

import yaml
from django.contrib import messages
from django.db.models import Count
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
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.models import Automation, Trigger, Webhook, WebhookCall
from casegate.desk.vocabulary import WebhookCallState
from casegate.desk.webhooks.hooks import (
    WebhookError,
    add_webhook,
    attempts,
    change_webhook,
    pause_webhook,
    remove_webhook,
    resume_webhook,
    webhook_dict,
)
from casegate.desk.webhooks.sending import send_webhook_test
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


def _webhook_or_404(webhook_id: int) -> Webhook:
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise Http404(f"there is no webhook {webhook_id}")
    return webhook


def _webhooks_page(request: HttpRequest, status: int = 200, form: Any = None,
                   form_error: str = "", secret: str = "") -> HttpResponse:
    waiting = dict(WebhookCall.objects.filter(state=WebhookCallState.PENDING)
                   .values_list("webhook").annotate(n=Count("id")).values_list("webhook", "n"))
    rows = [webhook_dict(w, waiting.get(w.pk, 0)) for w in Webhook.objects.order_by("name")]
    return render(request, "console/webhooks.html", {
        "rows": rows, "events": TriggerEvent.choices, "form": form or {},
        "chosen": form.getlist("events") if form is not None else [],
        "form_error": form_error, "secret": secret}, status=status)


@require("mail_settings")
def webhooks(request: HttpRequest) -> HttpResponse:
    return _webhooks_page(request)


@require("mail_settings")
@require_POST
def webhook_add(request: HttpRequest) -> HttpResponse:
    """Add a webhook; the page that answers shows its secret, this once (never stored in the
    session or a message)."""
    try:
        created = add_webhook(request.POST.get("name", ""), request.POST.get("url", ""),
                              request.POST.getlist("events"))
    except WebhookError as exc:
        return _webhooks_page(request, 400, request.POST, str(exc))
    messages.success(request, _("Webhook %(name)s added.") % {"name": created.webhook.name})
    return _webhooks_page(request, 201, secret=created.secret)


@require("mail_settings")
def webhook_edit(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = _webhook_or_404(webhook_id)
    form: dict[str, Any] = {"name": webhook.name, "url": webhook.url}
    chosen, error, status = list(webhook.events), "", 200
    if request.method == "POST":
        chosen = request.POST.getlist("events")
        form = {"name": request.POST.get("name", ""), "url": request.POST.get("url", "")}
        try:
            change_webhook(webhook.pk, form["name"], form["url"], chosen)
        except WebhookError as exc:
            error, status = str(exc), 400
        else:
            messages.success(request, _("Webhook %(name)s saved.") % {"name": form["name"]})
            return redirect("console:webhooks")
    return render(request, "console/webhook_edit.html", {
        "webhook": webhook, "form": form, "chosen": chosen, "events": TriggerEvent.choices,
        "form_error": error}, status=status)


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


@require("mail_settings")
@require_POST
def webhook_change(request: HttpRequest, webhook_id: int, action: str) -> HttpResponse:
    webhook = _webhook_or_404(webhook_id)
    if action == "pause":
        pause_webhook(webhook.pk, request.POST.get("reason", ""))
        messages.success(request, _("Webhook %(name)s paused.") % {"name": webhook.name})
    elif action == "resume":
        resume_webhook(webhook.pk)
        messages.success(request, _("Webhook %(name)s resumed.") % {"name": webhook.name})
    elif action == "test":
        attempt = send_webhook_test(webhook)
        if attempt.status is not None and 200 <= attempt.status < 300:
            messages.success(request, _("The test reached %(name)s: HTTP %(status)s.")
                             % {"name": webhook.name, "status": attempt.status})
        else:
            messages.error(request, _("The test did not reach %(name)s: %(error)s.")
                           % {"name": webhook.name, "error": attempt.error})
    elif action == "remove":
        remove_webhook(webhook.pk)
        messages.success(request, _("Webhook %(name)s removed.") % {"name": webhook.name})
    else:
        raise Http404(f"there is no webhook action {action}")
    return redirect("console:webhooks")


@require("mail_settings")
def webhook_attempts(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = _webhook_or_404(webhook_id)
    return render(request, "console/webhook_attempts.html", {
        "webhook": webhook, "attempts": attempts(webhook, 200)})

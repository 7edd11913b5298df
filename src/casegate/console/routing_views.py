"""Console pages for default routing: the rules table and form, the simulator, a test
message, the rule set's versions (with rollback), export and import."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.config import get_config
from casegate.console.admin_views import lines_of
from casegate.console.roles import require
from casegate.directory.services import unit_paths
from casegate.mail.hostport import HostPort, parse_hostport
from casegate.routing.models import AddressList, Route, Rule
from casegate.routing.ruleset import RulesetError, export_rules, import_rules
from casegate.routing.services import (
    RuleError,
    RuleSpec,
    add_rule,
    move_rule,
    remove_rule,
    set_enabled,
)
from casegate.routing.simulator import simulate
from casegate.routing.snapshot import load_table
from casegate.routing.versions import VersionError, history, rollback
from casegate.routing.vocabulary import AccountType, ListMode, MatchType, Rewrite, RuleAction
from casegate.text import whole_number
from casegate.verify import verify

RULES_SHOWN = 500

def _custom_headers(text: str) -> list[tuple[str, str]]:
    headers = []
    for line in text.splitlines():
        if line.strip():
            name, sep, value = line.partition(":")
            if not sep:
                raise RuleError(_("write each header on its own line as Name: value"))
            headers.append((name.strip(), value.strip()))
    return headers


def _number(form: Any, name: str, message: str) -> int | None:
    text = form.get(name, "").strip()
    number = whole_number(text)
    if text and number is None:
        raise RuleError(message)
    return number


def _rule_spec(form: Any) -> RuleSpec:
    position = _number(form, "position", _("the position is a number, 1 for the highest "
                                           "priority"))
    types = [t for t in AccountType if form.get(f"affect_{t}") == "on"]
    return RuleSpec(
        match_type=form.get("match_type", ""),
        match_value=form.get("match_value", "").strip(),
        rewrite=form.get("rewrite", ""),
        rewrite_value=form.get("rewrite_value", "").strip(),
        also_deliver=lines_of(form.get("also_deliver", "")),
        bypass_spam=form.get("bypass_spam") == "on",
        apply_to=",".join(types) or None,
        description=form.get("description", "").strip()[:200],
        enabled=form.get("enabled", "on") == "on",
        position=position,
        action=form.get("action") or RuleAction.MODIFY,
        reject_text=form.get("reject_text", "").strip(),
        org_unit=form.get("org_unit", ""),
        sender_list=form.get("sender_list", ""),
        sender_list_mode=form.get("sender_list_mode", "") if form.get("sender_list") else "",
        recipient_list=form.get("recipient_list", ""),
        recipient_list_mode=(form.get("recipient_list_mode", "")
                             if form.get("recipient_list") else ""),
        original_recipient_header=form.get("original_recipient_header", "").strip(),
        spam_headers=form.get("spam_headers") == "on",
        custom_headers=_custom_headers(form.get("custom_headers", "")),
        subject_prefix=form.get("subject_prefix", "").strip(),
        route=form.get("route", ""),
        remove_attachments=form.get("remove_attachments") == "on",
        require_tls=form.get("require_tls") == "on",
        rate_limit=_number(form, "rate_limit", _("the rate limit is a number of messages per "
                                                 "minute, 1 or more")),
    )


def _routing_page(request: HttpRequest, status: int = 200, **context: Any) -> HttpResponse:
    rcpt = request.GET.get("rcpt", "").strip()
    sender = request.GET.get("sender", "").strip()
    simulation = (simulate(load_table(), rcpt, request.GET.get("spam") == "on", sender)
                  if rcpt else None)
    paths = unit_paths()
    rules = list(Rule.objects.select_related("sender_list", "recipient_list", "route")
                 .order_by("position", "id")[:RULES_SHOWN])
    for rule in rules:
        # Shown beside the rule by the template.
        rule.unit_path = paths.get(rule.org_unit_id or 0, "")  # type: ignore[attr-defined]
    return render(request, "console/routing.html", {
        "rules": rules,
        "rule_count": Rule.objects.count(),
        "form": context.pop("form", {}),
        "simulation": simulation,
        "rcpt": rcpt,
        "sender": sender,
        "units": sorted(paths.values()),
        "address_lists": AddressList.objects.order_by("name"),
        "routes": Route.objects.order_by("name"),
        "match_types": MatchType.choices,
        "rule_actions": RuleAction.choices,
        "rewrites": Rewrite.choices,
        "list_modes": ListMode.choices,
        "versions": history(10),
        **context,
    }, status=status)


@require("mail_settings")
def routing(request: HttpRequest) -> HttpResponse:
    return _routing_page(request)


@require("mail_settings")
@require_POST
def rule_add(request: HttpRequest) -> HttpResponse:
    try:
        rule = add_rule(_rule_spec(request.POST))
    except RuleError as exc:
        return _routing_page(request, status=400, form=request.POST, form_error=str(exc))
    messages.success(request, _("Rule #%(id)s saved. It applies to the next message.")
                     % {"id": rule.pk})
    return redirect("console:routing")


def _rule_or_404(rule_id: int) -> Rule:
    rule = Rule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404(f"there is no rule {rule_id}")
    return rule


@require("mail_settings")
@require_POST
def rule_change(request: HttpRequest, rule_id: int, action: str) -> HttpResponse:
    rule = _rule_or_404(rule_id)
    try:
        if action in ("up", "down"):
            move_rule(rule.pk, min(Rule.objects.count(),
                                   max(1, rule.position + (-1 if action == "up" else 1))))
        elif action in ("enable", "disable"):
            set_enabled(rule.pk, action == "enable")
        else:
            raise Http404(f"there is no rule action {action}")
    except RuleError as exc:
        messages.error(request, str(exc))
    return redirect("console:routing")


@require("mail_settings")
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _rule_or_404(rule_id)
    if request.method == "POST":
        remove_rule(rule.pk)
        messages.success(request, _("Rule #%(id)s deleted.") % {"id": rule_id})
        return redirect("console:routing")
    return render(request, "console/rule_delete.html", {"rule": rule})


SMTP_LISTEN = "casegate.smtp_listen"  # the WSGI environ key ``serve`` gives every request


def smtp_address(request: HttpRequest) -> HostPort:
    """Where the gateway serving this console listens (the demo's port elsewhere)."""
    return parse_hostport(request.META.get(SMTP_LISTEN, "127.0.0.1:2525"))


@require("mail_settings")
@require_POST
def send_test_message(request: HttpRequest) -> HttpResponse:
    address = request.POST.get("address", "").strip()
    gateway = smtp_address(request)
    host = "127.0.0.1" if gateway.host in ("0.0.0.0", "::") else gateway.host
    result = verify(address, host, gateway.port,
                    get_config().hostname, timeout=20)
    return _routing_page(request, verification=result)


@require("mail_settings")
@require_POST
def rule_rollback(request: HttpRequest, number: int) -> HttpResponse:
    try:
        rollback(number)
    except VersionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The rules are back to version %(number)s.")
                         % {"number": number})
    return redirect("console:routing")


@require("mail_settings")
def rule_export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(export_rules(), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rules.yaml"'
    return response


@require("mail_settings")
@require_POST
def rule_import(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    text = (upload.read().decode("utf-8", errors="replace") if upload
            else request.POST.get("text", ""))
    dry_run = request.POST.get("dry_run") == "on"
    try:
        result = import_rules(text, (upload.name if upload else None) or "rules.yaml",
                              dry_run=dry_run)
    except RulesetError as exc:
        return _routing_page(request, status=400, import_error=str(exc), import_text=text)
    if dry_run:
        return _routing_page(request, import_diff=result.diff or _("No change."),
                             import_text=text)
    messages.success(request, _("Imported %(count)s rules.") % {"count": result.rules}
                     if result.diff else _("No change."))
    return redirect("console:routing")

"""Console pages of the mail-settings administrator besides routing: the quarantine (search,
one entry, decisions one at a time or in bulk), the directory (domains, accounts, groups,
desk intakes) and the mailboxes fetched into the desk (their state, pause and resume)."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.console.roles import require
from casegate.console.views import form_moment
from casegate.desk.models import Intake
from casegate.desk.parsing import parse_message
from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.models import Account, Domain, Group
from casegate.directory.services import (
    add_account,
    add_domain,
    add_group,
    add_member,
    add_unit,
    remove_account,
    remove_group,
    set_suspended,
    set_unit,
    unit_paths,
)
from casegate.errors import CasegateError
from casegate.filtering.auth_results import verdicts
from casegate.filtering.reports import by_weight
from casegate.filtering.vocabulary import DMARC_RESULTS
from casegate.gateway.quarantine import (
    BULK_LIMIT,
    QuarantineFilter,
    decide,
    delete,
    find,
    matching_ids,
    release,
)
from casegate.mail.headers import header_block
from casegate.mailboxes.services import set_paused, status_rows
from casegate.routing.lists import remove_list, save_list
from casegate.routing.models import AddressList, Route
from casegate.routing.routes import remove_route, save_route
from casegate.spool.models import Quarantine
from casegate.spool.vocabulary import QuarantineDecision
from casegate.text import whole_number

PAGE = 100
# The search form's fields, carried by its pages' links and by the bulk form.
FILTER_FIELDS = ("q", "reason", "dmarc", "min_score", "since", "until", "all")
REFUSALS_SHOWN = 5


def _quarantine_filter(form: QueryDict) -> QuarantineFilter:
    try:
        min_score: float | None = float(form.get("min_score", "").strip())
    except ValueError:
        min_score = None
    return QuarantineFilter(
        text=form.get("q", ""), reason=form.get("reason", ""),
        dmarc=form.get("dmarc", "") if form.get("dmarc") in DMARC_RESULTS else "",
        min_score=min_score if min_score is not None and math.isfinite(min_score) else None,
        since=form_moment(form, "since"), until=form_moment(form, "until"),
        held_only=form.get("all") != "1")


def _filter_fields(form: QueryDict) -> list[tuple[str, str]]:
    return [(name, value) for name in FILTER_FIELDS if (value := form.get(name, ""))]


@require("mail_settings")
def quarantine(request: HttpRequest) -> HttpResponse:
    fields = _filter_fields(request.GET)
    page = Paginator(find(_quarantine_filter(request.GET)), PAGE).get_page(
        request.GET.get("page"))
    rows = [{"entry": entry, "auth": verdicts(entry.message.auth_results),
             "report": entry.message.spam_report} for entry in page]
    return render(request, "console/quarantine.html", {
        "page": page, "rows": rows, "query": request.GET, "filter_fields": fields,
        "filter_query": urlencode(fields), "dmarc_results": DMARC_RESULTS,
        "bulk_limit": BULK_LIMIT, "show_all": request.GET.get("all") == "1"})


@require("mail_settings")
def quarantine_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = Quarantine.objects.select_related("message").filter(pk=entry_id).first()
    if entry is None:
        raise Http404(f"there is no quarantine entry {entry_id}")
    raw = bytes(entry.message.raw)
    report = entry.message.spam_report
    return render(request, "console/quarantine_entry.html", {
        "entry": entry, "auth": verdicts(entry.message.auth_results), "report": report,
        "symbols": by_weight(report.get("symbols") or {}),
        "headers": header_block(raw).decode("utf-8", "replace"),
        "preview": parse_message(raw)})  # its HTML is sanitized by nh3


@require("mail_settings")
@require_POST
def quarantine_decide(request: HttpRequest, entry_id: int, decision: str) -> HttpResponse:
    try:
        if decision == QuarantineDecision.RELEASE:
            deliveries = release(entry_id)
            messages.success(request, _("Released to %(recipients)s.") % {
                "recipients": ", ".join(d.recipient for d in deliveries)})
        elif decision == QuarantineDecision.DELETE:
            delete(entry_id)
            messages.success(request, _("Entry #%(id)s deleted.") % {"id": entry_id})
        else:
            raise Http404(f"there is no quarantine action {decision}")
    except CasegateError as exc:
        messages.error(request, str(exc))
    return redirect("console:quarantine")


@require("mail_settings")
@require_POST
def quarantine_bulk(request: HttpRequest) -> HttpResponse:
    """Release or delete the ticked entries, or every held entry matching the search (at
    most BULK_LIMIT); each is recorded in the audit log as a single decision is."""
    form = request.POST
    if form.get("decision") not in QuarantineDecision.values:
        raise Http404(f"there is no quarantine action {form.get('decision')}")
    if form.get("matching") == "on":
        entry_ids = matching_ids(_quarantine_filter(form))
    else:
        entry_ids = [n for n in map(whole_number, form.getlist("entry")) if n is not None]
    if not entry_ids:
        messages.error(request, _("No held entry was selected."))
    else:
        outcome = decide(QuarantineDecision(form["decision"]), entry_ids)
        if outcome.done:
            done = (_("Released: %(count)s.") if form["decision"] == QuarantineDecision.RELEASE
                    else _("Deleted: %(count)s."))
            messages.success(request, done % {"count": len(outcome.done)})
        if outcome.refused:
            messages.error(request, _("Left as they were: %(count)s (%(reasons)s).") % {
                "count": len(outcome.refused),
                "reasons": "; ".join(outcome.refused[:REFUSALS_SHOWN])})
    fields = _filter_fields(form)
    return redirect(reverse("console:quarantine") + (f"?{urlencode(fields)}" if fields else ""))


@require("mail_settings")
def directory(request: HttpRequest) -> HttpResponse:
    paths = unit_paths()
    accounts = list(Account.objects.order_by("address"))
    groups = list(Group.objects.prefetch_related("members").order_by("address"))
    for owner in (*accounts, *groups):
        # Shown beside the address by the template.
        owner.unit_path = paths.get(owner.org_unit_id or 0, "/")  # type: ignore[attr-defined]
    return render(request, "console/directory.html", {
        "domains": Domain.objects.order_by("name"),
        "accounts": accounts,
        "groups": groups,
        "intakes": Intake.objects.order_by("id"),
        "units": sorted(paths.values()),
        "address_lists": AddressList.objects.order_by("name"),
        "routes": Route.objects.order_by("name"),
    })


def lines_of(text: str) -> list[str]:
    """A form's list field: one entry per line or comma, blanks left out."""
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


@require("mail_settings")
@require_POST
def directory_change(request: HttpRequest, what: str) -> HttpResponse:
    form = request.POST
    actions = {
        "domain": lambda: add_domain(form.get("name", ""), form.get("mailbox_transport", "")),
        "account": lambda: add_account(form.get("address", ""), form.get("name", "")),
        "group": lambda: add_group(form.get("address", ""), lines_of(form.get("members", "")),
                                   form.get("name", "")),
        "intake": lambda: add_intake(form.get("kind", IntakeKind.CASE), form.get("address") or None,
                                     form.get("name", ""),
                                     acknowledge=form.get("acknowledge") == "on"),
        "remove-account": lambda: remove_account(form.get("address", "")),
        "remove-group": lambda: remove_group(form.get("address", "")),
        "unit": lambda: add_unit(form.get("path", "")),
        "account-unit": lambda: set_unit(form.get("address", ""), form.get("unit", "")),
        "suspend": lambda: set_suspended(form.get("address", ""), True),
        "reinstate": lambda: set_suspended(form.get("address", ""), False),
        "member": lambda: add_member(form.get("address", ""), form.get("member", "")),
        "address-list": lambda: save_list(form.get("name", ""), lines_of(form.get("entries", ""))),
        "remove-address-list": lambda: remove_list(form.get("name", "")),
        "route": lambda: save_route(form.get("name", ""), form.get("hostport", ""),
                                    form.get("require_tls") == "on"),
        "remove-route": lambda: remove_route(form.get("name", "")),
    }
    if what not in actions:
        raise Http404(f"there is no directory action {what}")
    try:
        done = actions[what]()
    except CasegateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, (_("Saved: %(what)s") % {"what": done} if done is not None
                                   else _("Removed.")))
    return redirect("console:directory")


@require("mail_settings")
def mailboxes(request: HttpRequest) -> HttpResponse:
    return render(request, "console/mailboxes.html", {"mailboxes": status_rows()})


@require("mail_settings")
@require_POST
def mailbox_change(request: HttpRequest, name: str) -> HttpResponse:
    action = request.POST.get("action", "")
    if action not in ("pause", "resume"):
        raise Http404(f"there is no mailbox action {action}")
    try:
        set_paused(name, action == "pause")
    except CasegateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Mailbox %(name)s is paused.") % {"name": name}
                         if action == "pause"
                         else _("Mailbox %(name)s is fetched again.") % {"name": name})
    return redirect("console:mailboxes")


COPY_SCRIPT = """\
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) { return; }
  navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
    button.textContent = button.getAttribute("data-copied") || "Copied";
  });
});
// Forms marked data-partial="#id" update only that part of the page (the whole page
// reloads where scripts are off).
document.addEventListener("submit", function (event) {
  var form = event.target, target = form.getAttribute("data-partial");
  if (!target) { return; }
  event.preventDefault();
  var data = new FormData(form), url = form.action, options = {method: form.method};
  if (form.method.toLowerCase() === "get") {
    url += (url.indexOf("?") < 0 ? "?" : "&") + new URLSearchParams(data).toString();
  } else {
    options.body = data;
  }
  form.setAttribute("aria-busy", "true");
  fetch(url, options).then(function (response) { return response.text(); }).then(function (html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(target);
    var current = document.querySelector(target);
    if (fresh && current) { current.replaceWith(fresh); }
    form.removeAttribute("aria-busy");
  });
});
// A case page says who else has it open, asking again every 10 s, and tells them when
// this agent types a reply (at most every 5 s).
(function () {
  var presence = document.querySelector("[data-presence]");
  if (!presence) { return; }
  var url = presence.getAttribute("data-presence"), typed = 0;
  function update(options) {
    fetch(url, options).then(function (response) { return response.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("#presence");
      var current = document.querySelector("#presence");
      if (fresh && current) { current.replaceWith(fresh); }
    });
  }
  setInterval(function () { update({method: "get"}); }, 10000);
  var text = document.querySelector("#reply-text");
  var token = document.querySelector("#reply-form [name=csrfmiddlewaretoken]");
  if (text && token) {
    text.addEventListener("input", function () {
      if (Date.now() - typed < 5000) { return; }
      typed = Date.now();
      var data = new FormData();
      data.append("csrfmiddlewaretoken", token.value);
      update({method: "post", body: data});
    });
  }
})();
// A case page's keys (listed in its #shortcuts): never while typing in a field.
document.addEventListener("keydown", function (event) {
  var target = event.target, shortcuts = document.querySelector("#shortcuts");
  if (!shortcuts || event.ctrlKey || event.metaKey || event.altKey || target.isContentEditable
      || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) { return; }
  function write(kind) {
    var choice = document.querySelector("#reply-form [name=kind][value=" + kind + "]");
    var text = document.querySelector("#reply-text");
    if (!choice || !text) { return; }
    choice.checked = true;
    text.focus();
  }
  function go(selector) {
    var link = document.querySelector(selector);
    if (link) { window.location.href = link.href; }
  }
  var actions = {
    "r": function () { write("reply"); },
    "n": function () { write("note"); },
    "s": function () {
      var status = document.querySelector("#status");
      if (status) { status.focus(); }
    },
    "j": function () { go("#next-case"); },
    "]": function () { go("#next-case"); },
    "k": function () { go("#previous-case"); },
    "[": function () { go("#previous-case"); },
    "?": function () { shortcuts.open = !shortcuts.open; }
  };
  if (actions[event.key]) {
    event.preventDefault();
    actions[event.key]();
  }
});
// Times are shown in the reader's time zone: the server reads it from this cookie.
(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && document.cookie.indexOf("casegate_tz=" + zone) < 0) {
    document.cookie = "casegate_tz=" + zone + "; path=/console/; max-age=31536000; SameSite=Lax";
  }
})();
"""


def script(request: HttpRequest) -> HttpResponse:
    """The console's only script (copy buttons, partial updates, who else has a case open,
    the case page's keys), served from here for the CSP to allow it."""
    response = HttpResponse(COPY_SCRIPT, content_type="text/javascript")
    response["Cache-Control"] = "max-age=3600"
    return response

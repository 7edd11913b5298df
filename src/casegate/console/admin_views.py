"""Console pages of the mail-settings administrator besides routing: the quarantine and the
directory (domains, accounts, groups, desk intakes)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.console.roles import require
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
from casegate.gateway.quarantine import delete, release
from casegate.routing.lists import remove_list, save_list
from casegate.routing.models import AddressList, Route
from casegate.routing.routes import remove_route, save_route
from casegate.spool.models import Quarantine

PAGE = 100


@require("mail_settings")
def quarantine(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    entries = Quarantine.objects.select_related("message").defer("message__raw").order_by("-id")
    if not show_all:
        entries = entries.filter(state=Quarantine.HELD)
    return render(request, "console/quarantine.html", {
        "entries": entries[:PAGE], "count": entries.count(), "page": PAGE,
        "show_all": show_all})


@require("mail_settings")
def quarantine_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = Quarantine.objects.select_related("message").filter(pk=entry_id).first()
    if entry is None:
        raise Http404(f"there is no quarantine entry {entry_id}")
    preview = parse_message(bytes(entry.message.raw))  # its HTML is sanitized by nh3
    return render(request, "console/quarantine_entry.html",
                  {"entry": entry, "preview": preview})


@require("mail_settings")
@require_POST
def quarantine_decide(request: HttpRequest, entry_id: int, decision: str) -> HttpResponse:
    try:
        if decision == "release":
            deliveries = release(entry_id)
            messages.success(request, _("Released to %(recipients)s.") % {
                "recipients": ", ".join(d.recipient for d in deliveries)})
        elif decision == "delete":
            delete(entry_id)
            messages.success(request, _("Entry #%(id)s deleted.") % {"id": entry_id})
        else:
            raise Http404(f"there is no quarantine action {decision}")
    except CasegateError as exc:
        messages.error(request, str(exc))
    return redirect("console:quarantine")


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
"""


def script(request: HttpRequest) -> HttpResponse:
    """The console's only script (copy buttons, partial updates), served from here for the
    CSP to allow it."""
    response = HttpResponse(COPY_SCRIPT, content_type="text/javascript")
    response["Cache-Control"] = "max-age=3600"
    return response

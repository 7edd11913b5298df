"""The desk's suspended mail: the list with its causes, recovering or deleting one or many,
and the senders each intake blocks. Reading needs the read-cases privilege, every change
the work-cases one; an agent sees the intakes of their teams and of no team."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.access import can
from casegate.console.roles import require
from casegate.desk.models import Intake
from casegate.desk.suspension import (
    block_sender,
    blocked_senders,
    delete,
    recover,
    unblock_sender,
    waiting,
)
from casegate.desk.visibility import intake_scope
from casegate.desk.vocabulary import SuspensionCause
from casegate.errors import CasegateError
from casegate.text import whole_number

PAGE = 100


@require("read_cases")
def suspended(request: HttpRequest) -> HttpResponse:
    query = request.GET
    intakes = Intake.objects.filter(intake_scope(request.user, "")).order_by("address")
    intake = query.get("intake", "") if whole_number(query.get("intake", "")) is not None else ""
    cause = query.get("cause", "") if query.get("cause") in SuspensionCause.values else ""
    try:
        found = waiting(intake, cause, intake_scope(request.user))
    except CasegateError as exc:
        raise Http404(str(exc)) from None
    page = Paginator(found, PAGE).get_page(query.get("page"))
    return render(request, "console/suspended.html", {
        "page": page, "intakes": intakes, "intake": intake, "cause": cause,
        "causes": SuspensionCause.choices, "can_work": can(request.user, "work_cases"),
        "blocked": blocked_senders(scope=intake_scope(request.user)),
    })


@require("work_cases")
@require_POST
def suspended_decide(request: HttpRequest) -> HttpResponse:
    """Recover or delete the messages ticked in the list."""
    ids = [n for n in map(whole_number, request.POST.getlist("ids")) if n is not None]
    decision = request.POST.get("decision")
    actor, scope = request.user.get_username(), intake_scope(request.user)
    try:
        if decision == "recover":
            recovered = recover(ids, actor, scope)
            messages.success(request, _("Recovered %(count)s: %(where)s.") % {
                "count": len(recovered),
                "where": ", ".join(str(e.case or e.lead or _("already stored"))
                                   for e in recovered)})
        elif decision == "delete":
            deleted = delete(ids, actor, scope)
            messages.success(request, _("Deleted %(count)s.") % {"count": len(deleted)})
        else:
            raise Http404(f"there is no decision {decision!r} on suspended mail")
    except CasegateError as exc:
        messages.error(request, str(exc))
    return redirect("console:suspended")


@require("work_cases")
@require_POST
def blocked_change(request: HttpRequest, action: str) -> HttpResponse:
    """Block a sender at an intake, or unblock them."""
    intake, sender = request.POST.get("intake", ""), request.POST.get("sender", "")
    within = intake_scope(request.user, "")
    try:
        if action == "block":
            blocked = block_sender(intake, sender, within)
            messages.success(request, _("%(intake)s blocks %(sender)s.") % {
                "intake": blocked.intake.address, "sender": blocked.entry})
        elif action == "unblock":
            unblock_sender(intake, sender, within)
            messages.success(request, _("Unblocked."))
        else:
            raise Http404(f"there is no blocked-sender action {action!r}")
    except CasegateError as exc:
        messages.error(request, str(exc))
    return redirect("console:suspended")

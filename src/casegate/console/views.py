"""Console pages: the dashboard, the message trace, the audit log and the case desk
(default routing is in :mod:`casegate.console.routing_views`). Every view checks a
privilege (:mod:`casegate.console.roles`); every form is a POST protected by Django's CSRF
middleware."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casegate.access import can
from casegate.console.audit import AUDITED_KINDS, AuditFilter, search
from casegate.console.dashboard import figures
from casegate.console.roles import require
from casegate.desk.automation.macros import macros_for
from casegate.desk.blobs import BlobMissing
from casegate.desk.case_list import CaseFilter, filtered_cases
from casegate.desk.downloads import PREVIEWED_IMAGES, blob_response
from casegate.desk.merging import MAX_MERGED, merge, split, unmerge
from casegate.desk.models import (
    Agent,
    Attachment,
    Case,
    Company,
    Contact,
    DeskMessage,
    Intake,
    Lead,
)
from casegate.desk.output import conversation_detail
from casegate.desk.presence import note_viewer, other_viewers
from casegate.desk.replies import ReplyCollision, post_reply
from casegate.desk.requester import queue_neighbours, requester_panel
from casegate.desk.saved_views import ViewRefused, add_view, remove_view, view_count, views_for
from casegate.desk.search import search as search_conversations
from casegate.desk.search_query import SearchSyntaxError, parse_query
from casegate.desk.services import (
    DeskError,
    set_status,
    update_case,
    update_cases,
)
from casegate.desk.visibility import case_scope, hide_unseen_cases
from casegate.desk.vocabulary import (
    FINISHED_LEAD_STATUSES,
    CaseChannel,
    CaseQueue,
    CaseStatus,
    Direction,
    IntakeKind,
    LeadStatus,
    Priority,
    ReplyDelivery,
)
from casegate.errors import CasegateError
from casegate.moments import in_utc
from casegate.text import whole_number
from casegate.trace import STATUSES, TraceFilter, find_messages, message_hops

log = logging.getLogger("casegate.console")


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    if can(request.user, "mail_settings"):
        return redirect("console:routing")
    return redirect("console:cases")


@require("read_cases")
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "console/dashboard.html", {"figures": figures(request.user)})


def form_moment(query: Any, name: str) -> datetime | None:
    """A search form's date and time, in the current time zone when it names none (empty
    or unreadable: no bound)."""
    try:
        moment = parse_datetime(query.get(name, "")) if query.get(name) else None
    except ValueError:  # well formed but impossible, such as 2026-02-30 10:00
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return in_utc(moment)


# --- message trace -------------------------------------------------------------------------


@require("mail_settings")
def trace(request: HttpRequest) -> HttpResponse:
    query = request.GET
    wanted = TraceFilter(
        message_id=query.get("message_id", ""), sender=query.get("sender", ""),
        recipient=query.get("recipient", ""),
        status=query.get("status", "") if query.get("status") in STATUSES else "",
        since=form_moment(query, "since"), until=form_moment(query, "until"),
    )
    return render(request, "console/trace.html", {
        "results": find_messages(wanted), "query": query, "statuses": STATUSES})


@require("mail_settings")
def trace_message(request: HttpRequest, queue_id: str) -> HttpResponse:
    found = message_hops(queue_id)
    if found is None:
        raise Http404(f"there is no message {queue_id}")
    return render(request, "console/trace_message.html", {"message": found})


# --- audit log -----------------------------------------------------------------------------


@require("audit")
def audit(request: HttpRequest) -> HttpResponse:
    query = request.GET
    wanted = AuditFilter(
        text=query.get("text", ""), actor=query.get("actor", ""), kind=query.get("kind", ""),
        since=form_moment(query, "since"), until=form_moment(query, "until"),
    )
    return render(request, "console/audit.html", {
        "entries": search(wanted), "query": query, "kinds": AUDITED_KINDS})


# --- case desk -----------------------------------------------------------------------------

PAGE_SIZE = 50


@require("read_cases")
def cases(request: HttpRequest) -> HttpResponse:
    """A queue of cases, filtered and sorted, a page at a time; with ``q``, the cases of
    the queue the search finds, best first. The sidebar lists the saved views."""
    wanted = CaseFilter.from_form(request.GET)
    found = filtered_cases(replace(wanted, q=""), request.user).select_related(
        "intake", "assignee")
    can_work = can(request.user, "work_cases")  # only they get the bulk form and its lists
    hits, problem = [], ""
    if wanted.q.strip():
        try:
            hits = search_conversations(parse_query(wanted.q), found, Lead.objects.none(), 200)
        except SearchSyntaxError as exc:
            problem = str(exc)
    page = None if wanted.q.strip() else Paginator(found, PAGE_SIZE).get_page(
        request.GET.get("page"))
    views = [{"view": view, "count": view_count(view, request.user),
              "query": urlencode(view.filters), "current": view.filters == wanted.as_dict()}
             for view in views_for(request.user)]
    return render(request, "console/cases.html", {
        **(_assignable({}) if can_work else {}), "statuses": CaseStatus.values,
        "can_work": can_work, "can_share": can(request.user, "share_views"),
        "page": page, "cases": page.object_list if page else [], "hits": hits,
        "searched": bool(wanted.q.strip()), "problem": problem, "wanted": wanted,
        "queues": CaseQueue.choices, "columns": _sort_links(wanted),
        "views": views, "now": timezone.now(),
        "intakes": Intake.objects.filter(kind=IntakeKind.CASE)})


def _sort_links(wanted: CaseFilter) -> list[dict[str, str]]:
    """Each sortable column's heading: its query string, and whether the list is sorted by
    it (a click on the sorted column reverses it)."""
    headings = {"id": "#", "subject": _("Subject"), "requester": _("Requester"),
                "status": _("Status"), "priority": _("Priority"), "assignee": _("Assignee"),
                "due": _("Due"), "created": _("Created")}
    links = []
    for column, heading in headings.items():
        current = wanted.sort.lstrip("-") == column
        descending = wanted.sort.startswith("-")
        sort = column if current and descending else f"-{column}"
        links.append({"heading": heading, "query": wanted.query_string(sort=sort),
                      "sorted": ("descending" if descending else "ascending") if current
                      else ""})
    return links


@require("read_cases")
@require_POST
def view_save(request: HttpRequest) -> HttpResponse:
    """Save the list's filters, search and sort as a view of the user's, or shared."""
    wanted = CaseFilter.from_form(request.POST)
    shared = request.POST.get("shared") == "1"
    try:
        view = add_view(request.POST.get("name", ""), wanted,
                        None if shared else request.user, by=request.user)
    except ViewRefused as exc:
        raise PermissionDenied(str(exc)) from None
    except DeskError as exc:
        messages.error(request, str(exc))
        return redirect(f"{reverse('console:cases')}?{wanted.query_string()}")
    messages.success(request, _("View %(name)s saved.") % {"name": view.name})
    return redirect(f"{reverse('console:cases')}?{wanted.query_string()}")


@require("read_cases")
@require_POST
def view_remove(request: HttpRequest, view_id: int) -> HttpResponse:
    try:
        view = remove_view(view_id, by=request.user)
    except ViewRefused as exc:
        raise PermissionDenied(str(exc)) from None
    except DeskError as exc:
        raise Http404(str(exc)) from None
    messages.success(request, _("View %(name)s removed.") % {"name": view.name})
    return redirect("console:cases")


def visible_case(request: HttpRequest, case_id: int) -> None:
    """404 for a case that does not exist or that this user may not see."""
    if not Case.objects.filter(case_scope(request.user), pk=case_id).exists():
        raise Http404(f"there is no case {case_id} you can see")


@require("read_cases")
def case(request: HttpRequest, case_id: int, held: ReplyCollision | None = None
         ) -> HttpResponse:
    """A case's page; ``held``: the agent's reply just held because someone else replied."""
    visible_case(request, case_id)
    detail = conversation_detail(IntakeKind.CASE, case_id)
    if detail is None:
        raise Http404(f"there is no case {case_id}")
    note_viewer(case_id, request.user)
    return render(request, "console/case.html", {
        "case": hide_unseen_cases(detail, request.user),
        "requester": requester_panel(case_id, detail["requester"], detail["contact_id"],
                                     request.user),
        "neighbours": queue_neighbours(case_id, request.user),
        "previewed": PREVIEWED_IMAGES,
        "can_work": can(request.user, "work_cases"),
        "macros": macros_for(request.user),
        "statuses": CaseStatus.values,
        "priorities": Priority.values,
        "viewers": other_viewers(case_id, request.user),
        **_assignable(detail),
        "seen": max((m["id"] for m in detail["messages"]), default=0),
        "held": held, "draft": request.POST.get("text", "") if held else "",
    }, status=409 if held else 200)


def _assignable(detail: dict[str, Any]) -> dict[str, Any]:
    """The agents a case can be assigned to and the teams it can be given, each list with
    the case's own value even where it is no longer among them."""
    agents = [(a.user.get_username(), a.user.get_full_name() or a.user.get_username())
              for a in Agent.objects.filter(user__is_active=True).select_related("user")
              .order_by("user__username")]
    if detail.get("assignee") and detail["assignee"] not in {u for u, _ in agents}:
        agents.append((detail["assignee"], detail["assignee"]))
    teams = {team for a in Agent.objects.values_list("teams", flat=True) for team in a or []}
    teams |= set(Intake.objects.exclude(team="").values_list("team", flat=True))
    teams |= {detail["team"]} if detail.get("team") else set()
    return {"agents": agents, "teams": sorted(teams)}


@require("read_cases")
def case_attachment(request: HttpRequest, case_id: int, attachment_id: int) -> HttpResponse:
    """An attachment of the case's thread, as a download (``?preview``: a raster image
    shown in the page)."""
    visible_case(request, case_id)
    attachment = (Attachment.objects.select_related("blob")
                  .filter(pk=attachment_id, message__case_id=case_id).first())
    if attachment is None or attachment.blob is None:
        raise Http404(f"case {case_id} has no stored attachment {attachment_id}")
    try:
        return blob_response(attachment.blob, attachment.content_type, attachment.filename,
                             f"attachment-{attachment_id}", inline="preview" in request.GET)
    except BlobMissing as exc:
        log.warning("event=attachment_missing case=%s attachment=%s why=%s", case_id,
                    attachment_id, exc)
        raise Http404(f"the bytes of attachment {attachment_id} are missing") from None


@require("read_cases")
def case_presence(request: HttpRequest, case_id: int) -> HttpResponse:
    """Who else has the case open: asked by the page every few seconds (POST: typing, for
    those who may answer)."""
    visible_case(request, case_id)
    note_viewer(case_id, request.user,
                typing=request.method == "POST" and can(request.user, "work_cases"))
    return render(request, "console/presence.html",
                  {"viewers": other_viewers(case_id, request.user), "case_id": case_id})


@require("work_cases")
@require_POST
def case_reply(request: HttpRequest, case_id: int) -> HttpResponse:
    visible_case(request, case_id)
    public = request.POST.get("kind", "reply") == "reply"
    seen = request.POST.get("seen", "")
    try:
        message = post_reply(IntakeKind.CASE, case_id, request.user, request.POST.get("text", ""),
                             public=public, seen_up_to=whole_number(seen))
    except ReplyCollision as exc:
        return case(request, case_id, held=exc)
    except DeskError as exc:
        messages.error(request, str(exc))
    else:
        if message.direction == Direction.NOTE:
            messages.success(request, _("Note added."))
        elif message.delivery_status == ReplyDelivery.QUEUED:
            messages.success(request, _("Reply sent to %(recipients)s.") % {
                "recipients": message.recipients.replace("\n", ", ")})
        else:
            messages.error(request, _("Reply kept but not sent: %(why)s") % {
                "why": message.parse_problems})
    return redirect(reverse("console:case", args=[case_id]))


@require("work_cases")
@require_POST
def case_fields(request: HttpRequest, case_id: int) -> HttpResponse:
    visible_case(request, case_id)
    form = request.POST
    changes: dict[str, Any] = {
        "status": form.get("status"), "priority": form.get("priority"),
        "assignee": form.get("assignee", "").strip() or None,
        "team": form.get("team", ""),
        "tags": [t for t in form.get("tags", "").split(",") if t.strip()],
    }
    try:
        update_case(case_id, request.user.get_username(), **changes)
    except CasegateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Case updated."))
    return redirect(reverse("console:case", args=[case_id]))


@require("work_cases")
@require_POST
def cases_bulk(request: HttpRequest) -> HttpResponse:
    """The changes of the list's form to every case ticked in it."""
    form = request.POST
    ids = [n for n in map(whole_number, form.getlist("ids")) if n is not None]
    changes: dict[str, Any] = {name: form[name] for name in ("status", "team")
                               if form.get(name)}
    if form.get("assignee"):
        changes["assignee"] = None if form["assignee"] == "-" else form["assignee"]
    tag = form.get("tag", "").strip()
    try:
        for number in ids:
            visible_case(request, number)
        if form.get("action") == "merge":
            merge(ids[0], ids[1:], request.user.get_username())
        else:
            update_cases(ids, request.user.get_username(), add_tags=[tag] if tag else None,
                         **changes)
    except (CasegateError, Http404, IndexError) as exc:
        messages.error(request, str(exc) or _("Choose the cases first."))
    else:
        messages.success(request, _("%(count)s cases changed.") % {"count": len(ids)})
    back = request.POST.get("back", "")
    return redirect(back if back.startswith("/console/cases/") else reverse("console:cases"))


@require("work_cases")
@require_POST
def case_merge(request: HttpRequest, case_id: int) -> HttpResponse:
    """Merge the cases named in the form into this one."""
    visible_case(request, case_id)
    numbers = [int(n) for n in re.findall(r"\d+", request.POST.get("cases", ""))[:MAX_MERGED]]
    try:
        for number in numbers:
            visible_case(request, number)
        merge(case_id, numbers, request.user.get_username())
    except (DeskError, Http404) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Merged into this case: %(cases)s") % {
            "cases": ", ".join(f"#{n}" for n in numbers)})
    return redirect(reverse("console:case", args=[case_id]))


@require("work_cases")
@require_POST
def case_unmerge(request: HttpRequest, case_id: int) -> HttpResponse:
    visible_case(request, case_id)
    try:
        unmerge(case_id, request.user.get_username())
    except DeskError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The merge is undone: this case has its messages back."))
    return redirect(reverse("console:case", args=[case_id]))


@require("work_cases")
@require_POST
def message_split(request: HttpRequest, case_id: int, message_id: int) -> HttpResponse:
    visible_case(request, case_id)
    if not DeskMessage.objects.filter(pk=message_id, case_id=case_id).exists():
        raise Http404(f"case {case_id} has no message {message_id}")
    try:
        created = split(message_id, request.user.get_username(), CaseChannel.CONSOLE)
    except DeskError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("console:case", args=[case_id]))
    messages.success(request, _("The message is now case #%(number)s.") % {"number": created.pk})
    return redirect(reverse("console:case", args=[created.pk]))


LEADS_PER_COLUMN = 50


@require("read_cases")
def leads(request: HttpRequest) -> HttpResponse:
    """The lead pipeline: a column per state."""
    columns = {}
    for state in LeadStatus:
        in_state = Lead.objects.filter(status=state)
        columns[state.value] = {"leads": list(in_state.select_related("contact")
                                              .order_by("-id")[:LEADS_PER_COLUMN]),
                                "count": in_state.count(),
                                "movable": state not in FINISHED_LEAD_STATUSES}
    return render(request, "console/leads.html", {"columns": columns,
                                                  "can_work": can(request.user, "work_cases")})


@require("work_cases")
@require_POST
def lead_move(request: HttpRequest, lead_id: int) -> HttpResponse:
    try:
        set_status(IntakeKind.LEAD, lead_id, request.POST.get("status", ""),
                   request.user.get_username())
    except DeskError as exc:
        messages.error(request, str(exc))
    return redirect("console:leads")


@require("read_cases")
def contact(request: HttpRequest, contact_id: int) -> HttpResponse:
    person = Contact.objects.select_related("company").filter(pk=contact_id).first()
    if person is None:
        raise Http404(f"there is no contact {contact_id}")
    return render(request, "console/contact.html", {
        "contact": person, "cases": person.cases.filter(case_scope(request.user))
                                           .order_by("-id")[:200],
        "leads": person.leads.order_by("-id")[:200]})


@require("read_cases")
def company(request: HttpRequest, company_id: int) -> HttpResponse:
    found = Company.objects.filter(pk=company_id).first()
    if found is None:
        raise Http404(f"there is no company {company_id}")
    return render(request, "console/company.html", {
        "company": found, "contacts": found.contacts.order_by("address")[:500],
        "cases": Case.objects.filter(case_scope(request.user), contact__company=found)
                             .order_by("-id")[:200]})

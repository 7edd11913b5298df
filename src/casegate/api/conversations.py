"""Cases and leads: lists with filters, details with their thread, changes and replies."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest
from ninja import P, PathEx, Query, Router, Status
from ninja.errors import HttpError

from casegate.api.messages import message_items, spam_reports, thread_messages
from casegate.api.pagination import PageParams, paginate
from casegate.api.remote_content import as_requested
from casegate.api.requests import AgentRequest
from casegate.api.schemas import (
    MAX_ID,
    CaseDetail,
    CaseFilters,
    CaseOut,
    CasePatch,
    CasesPatch,
    ConversationFilters,
    HtmlOptions,
    LeadDetail,
    LeadFilters,
    LeadOut,
    LeadPatch,
    MergeIn,
    MessageOut,
    Page,
    ReplyIn,
    SearchHitOut,
    SearchParams,
    responses,
)
from casegate.desk.merging import merge, split, unmerge
from casegate.desk.models import Case, DeskMessage, Lead
from casegate.desk.output import conversation_as_dict, conversation_detail
from casegate.desk.replies import ReplyCollision, post_reply
from casegate.desk.search import search
from casegate.desk.search_query import SearchSyntaxError, parse_query
from casegate.desk.services import (
    DeskError,
    convert_lead,
    set_status,
    update_case,
    update_cases,
)
from casegate.desk.visibility import case_scope, hide_unseen_cases
from casegate.desk.vocabulary import CaseChannel, IntakeKind
from casegate.moments import in_utc

router = Router()

CaseId = PathEx[int, P(ge=1, le=MAX_ID, description="the case number")]
LeadId = PathEx[int, P(ge=1, le=MAX_ID, description="the lead number")]
MessageId = PathEx[int, P(ge=1, le=MAX_ID, description="the message's id")]

# filter field -> the lookup it applies (tag and the dates are handled apart)
_LOOKUPS = {"status": "status", "priority": "priority", "assignee": "assignee__username",
            "team": "team", "intake": "intake__address__iexact",
            "requester": "requester__iexact", "q": "subject__icontains"}


def _with_tag(rows: QuerySet[Case], tag: str) -> QuerySet[Case]:
    tag = tag.strip().lower()  # as update_case stores tags
    if connection.vendor != "sqlite":
        return rows.filter(tags__contains=[tag])
    table = connection.ops.quote_name(Case._meta.db_table)
    return rows.filter(RawSQL(
        f"EXISTS (SELECT 1 FROM json_each({table}.\"tags\") WHERE json_each.value = %s)",
        [tag], output_field=BooleanField()))


def _filtered(rows: QuerySet[Any], filters: ConversationFilters) -> QuerySet[Any]:
    for name, value in filters.model_dump(exclude_none=True).items():
        if name in _LOOKUPS:
            rows = rows.filter(**{_LOOKUPS[name]: value})
    tag = getattr(filters, "tag", None)  # cases only
    if tag is not None:
        rows = _with_tag(rows, tag)
    if filters.created_after is not None:
        rows = rows.filter(created_at__gte=in_utc(filters.created_after))
    if filters.created_before is not None:
        rows = rows.filter(created_at__lt=in_utc(filters.created_before))
    due_before = getattr(filters, "due_before", None)  # cases only
    if due_before is not None:
        rows = rows.filter(sla_due_at__lt=in_utc(due_before))
    return rows


def _require(model: type[Case | Lead], number: int, user: Any) -> None:
    """404 for a case or lead that does not exist or that ``user`` may not see."""
    rows = model.objects.filter(case_scope(user)) if model is Case else model.objects
    if not rows.filter(pk=number).exists():
        raise HttpError(404, f"there is no {model.__name__.lower()} {number}")


def _detail(kind: str, number: int, user: Any, html: HtmlOptions) -> dict[str, Any]:
    detail = conversation_detail(kind, number)
    if detail is None:
        raise HttpError(404, f"there is no {kind} {number}")
    reports = spam_reports([message["id"] for message in detail["messages"]])
    detail["messages"] = [
        as_requested({**message, "case": None, "lead": None, kind: number,
                      "spam": reports.get(message["id"])}, html.remote_content)
        for message in detail["messages"]]
    return hide_unseen_cases(detail, user)


def _thread(model: type[Case | Lead], number: int, page: PageParams, html: HtmlOptions,
            user: Any) -> dict[str, Any]:
    _require(model, number, user)
    kind = model.__name__.lower()
    return paginate(thread_messages().filter(**{f"{kind}_id": number}), page,
                    lambda messages: message_items(messages, html.remote_content),
                    newest_first=False)


def _reply(model: type[Case | Lead], number: int, author: Any, reply: ReplyIn
           ) -> dict[str, Any]:
    _require(model, number, author)
    kind = IntakeKind.LEAD if model is Lead else IntakeKind.CASE
    try:
        message = post_reply(kind, number, author, reply.text, public=reply.public,
                             seen_up_to=reply.seen_message_id)
    except ReplyCollision as exc:
        raise HttpError(409, f"{exc} (new: {', '.join(str(m.pk) for m in exc.newer)})"
                        ) from None
    except DeskError as exc:
        raise HttpError(400, str(exc)) from None
    return message_items([thread_messages().get(pk=message.pk)])[0]


# --- search ---------------------------------------------------------------------------------


@router.get("/search", response=responses({200: list[SearchHitOut]}, 400, 422),
            tags=["cases"])
def search_conversations(request: AgentRequest, params: Query[SearchParams]
                         ) -> list[dict[str, Any]]:
    """Cases and leads the query finds among those the user may see, best first."""
    try:
        query = parse_query(params.q)
    except SearchSyntaxError as exc:
        raise HttpError(400, str(exc)) from None
    hits = search(query, Case.objects.filter(case_scope(request.auth)), Lead.objects.all(),
                  params.limit)
    return [hit.as_dict() for hit in hits]


# --- cases ----------------------------------------------------------------------------------


@router.get("/cases", response=responses({200: Page[CaseOut]}, 400, 422), tags=["cases"])
def list_cases(request: AgentRequest, filters: Query[CaseFilters], page: Query[PageParams]
               ) -> dict[str, Any]:
    """Cases, newest first, matching every filter given."""
    rows = _filtered(Case.objects.filter(case_scope(request.auth))
                     .select_related("intake", "assignee", "sla_policy"), filters)
    return paginate(rows, page, lambda cases: [conversation_as_dict(c) for c in cases])


@router.get("/cases/{case_id}", response=responses({200: CaseDetail}, 404, 422), tags=["cases"])
def get_case(request: AgentRequest, case_id: CaseId, html: Query[HtmlOptions]
             ) -> dict[str, Any]:
    """A case with its thread, its history and the requester's other cases."""
    _require(Case, case_id, request.auth)
    return _detail(IntakeKind.CASE, case_id, request.auth, html)


def _case_fields(changes: CasePatch) -> dict[str, Any]:
    """The changes given, checked: 404 for an assignee who is no active user."""
    fields = changes.model_dump(exclude_unset=True)
    assignee = fields.get("assignee")
    if assignee is not None and not get_user_model().objects.filter(
            username=assignee, is_active=True).exists():
        raise HttpError(404, f"there is no active user {assignee!r} to assign")
    if fields.get("first_response_due_at") is not None:
        fields["first_response_due_at"] = in_utc(fields["first_response_due_at"])
    return fields


@router.patch("/cases/{case_id}", response=responses({200: CaseOut}, 400, 404, 422),
              tags=["cases"])
def update_case_fields(request: AgentRequest, case_id: CaseId, changes: CasePatch
                       ) -> dict[str, Any]:
    """Change the fields given; each change is recorded in the case's history."""
    _require(Case, case_id, request.auth)
    fields = _case_fields(changes)
    try:
        case = update_case(case_id, request.auth.get_username(), **fields)
    except DeskError as exc:
        raise HttpError(400, str(exc)) from None
    return conversation_as_dict(case)


@router.patch("/cases", response=responses({200: list[CaseOut]}, 400, 404, 422),
              tags=["cases"])
def update_many_cases(request: AgentRequest, body: CasesPatch) -> list[dict[str, Any]]:
    """The same changes to many cases in one action, all or none; each case's history
    records its own changes."""
    for number in body.ids:
        _require(Case, number, request.auth)
    fields = _case_fields(body.changes)
    try:
        cases = update_cases(body.ids, request.auth.get_username(), **fields)
    except DeskError as exc:
        raise HttpError(400, str(exc)) from None
    return [conversation_as_dict(case) for case in cases]


@router.get("/cases/{case_id}/messages", response=responses({200: Page[MessageOut]}, 400, 404,
                                                           422), tags=["cases"])
def list_case_messages(request: AgentRequest, case_id: CaseId, page: Query[PageParams],
                       html: Query[HtmlOptions]) -> dict[str, Any]:
    """The case's thread, oldest first."""
    return _thread(Case, case_id, page, html, request.auth)


@router.post("/cases/{case_id}/replies",
             response=responses({201: MessageOut}, 400, 404, 409, 422),
             tags=["cases"])
def reply_to_case(request: AgentRequest, case_id: CaseId, reply: ReplyIn
                  ) -> Status[dict[str, Any]]:
    """Answer the requester by mail (public) or add an internal note."""
    return Status(201, _reply(Case, case_id, request.auth, reply))


@router.post("/cases/{case_id}/merge", response=responses({200: CaseOut}, 400, 404, 409, 422),
             tags=["cases"])
def merge_cases(request: AgentRequest, case_id: CaseId, body: MergeIn) -> dict[str, Any]:
    """Move the messages of the other cases onto this one, and close them: mail that
    threads onto them comes here. Each can be undone with ``unmerge``."""
    for number in [case_id, *body.cases]:
        _require(Case, number, request.auth)
    try:
        case = merge(case_id, body.cases, request.auth.get_username())
    except DeskError as exc:
        raise HttpError(409, str(exc)) from None
    return conversation_as_dict(case)


@router.post("/cases/{case_id}/unmerge", response=responses({200: CaseOut}, 404, 409, 422),
             tags=["cases"])
def unmerge_case(request: AgentRequest, case_id: CaseId) -> dict[str, Any]:
    """Undo this case's merge: its messages come back and it opens again."""
    _require(Case, case_id, request.auth)
    try:
        case = unmerge(case_id, request.auth.get_username())
    except DeskError as exc:
        raise HttpError(409, str(exc)) from None
    return conversation_as_dict(case)


@router.post("/messages/{message_id}/split", response=responses({201: CaseOut}, 404, 409, 422),
             tags=["cases"])
def split_message(request: AgentRequest, message_id: MessageId) -> Status[dict[str, Any]]:
    """Move this message of a case into a new case of its own."""
    case_id = (DeskMessage.objects.filter(pk=message_id, case__isnull=False)
               .values_list("case_id", flat=True).first())
    if case_id is None:
        raise HttpError(404, f"there is no message {message_id} on a case")
    _require(Case, case_id, request.auth)
    try:
        return Status(201, conversation_as_dict(split(message_id, request.auth.get_username(),
                                                     CaseChannel.API)))
    except DeskError as exc:
        raise HttpError(409, str(exc)) from None


# --- leads ----------------------------------------------------------------------------------


@router.get("/leads", response=responses({200: Page[LeadOut]}, 400, 422), tags=["leads"])
def list_leads(request: HttpRequest, filters: Query[LeadFilters], page: Query[PageParams]
               ) -> dict[str, Any]:
    """Leads, newest first, matching every filter given."""
    rows = _filtered(Lead.objects.select_related("intake"), filters)
    return paginate(rows, page, lambda leads: [conversation_as_dict(lead) for lead in leads])


@router.get("/leads/{lead_id}", response=responses({200: LeadDetail}, 404, 422), tags=["leads"])
def get_lead(request: AgentRequest, lead_id: LeadId, html: Query[HtmlOptions]
             ) -> dict[str, Any]:
    """A lead with its thread."""
    return _detail(IntakeKind.LEAD, lead_id, request.auth, html)


@router.patch("/leads/{lead_id}", response=responses({200: LeadOut}, 400, 404, 409, 422),
              tags=["leads"])
def update_lead_fields(request: AgentRequest, lead_id: LeadId, changes: LeadPatch
                       ) -> dict[str, Any]:
    """Change a lead's status (``converted`` converts it, as ``POST …/convert`` does)."""
    _require(Lead, lead_id, request.auth)
    if changes.status is not None:
        try:
            set_status(IntakeKind.LEAD, lead_id, changes.status, request.auth.get_username())
        except DeskError as exc:  # the lead exists and the status is one: its state refuses
            raise HttpError(409, str(exc)) from None
    return conversation_as_dict(Lead.objects.select_related("intake").get(pk=lead_id))


@router.post("/leads/{lead_id}/convert", response=responses({200: LeadOut}, 404, 409, 422),
             tags=["leads"])
def convert(request: AgentRequest, lead_id: LeadId) -> dict[str, Any]:
    """Mark a lead converted, creating its contact and company when missing."""
    _require(Lead, lead_id, request.auth)
    try:
        lead = convert_lead(lead_id, request.auth.get_username())
    except DeskError as exc:  # the lead exists, so what is refused is its state
        raise HttpError(409, str(exc)) from None
    return conversation_as_dict(lead)


@router.get("/leads/{lead_id}/messages", response=responses({200: Page[MessageOut]}, 400, 404,
                                                           422), tags=["leads"])
def list_lead_messages(request: AgentRequest, lead_id: LeadId, page: Query[PageParams],
                       html: Query[HtmlOptions]) -> dict[str, Any]:
    """The lead's thread, oldest first."""
    return _thread(Lead, lead_id, page, html, request.auth)


@router.post("/leads/{lead_id}/replies",
             response=responses({201: MessageOut}, 400, 404, 409, 422),
             tags=["leads"])
def reply_to_lead(request: AgentRequest, lead_id: LeadId, reply: ReplyIn
                  ) -> Status[dict[str, Any]]:
    """Answer the lead's requester by mail (public) or add an internal note."""
    return Status(201, _reply(Lead, lead_id, request.auth, reply))

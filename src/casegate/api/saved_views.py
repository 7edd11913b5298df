"""Saved views over the API: the caller's and the shared ones with their counts, saving,
removing, and the cases a view shows."""

from __future__ import annotations

from typing import Any

from ninja import P, PathEx, Query, Router, Status
from ninja.errors import HttpError

from casegate.api.pagination import PageParams, paginate
from casegate.api.requests import AgentRequest
from casegate.api.schemas import MAX_ID, CaseOut, Page, ViewIn, ViewOut, responses
from casegate.desk.case_list import CaseFilter, UnknownIntake, filtered_cases
from casegate.desk.output import conversation_as_dict
from casegate.desk.saved_views import (
    ViewConflict,
    ViewRefused,
    add_view,
    remove_view,
    view_count,
    view_dict,
    view_filter,
    views_for,
)
from casegate.desk.services import DeskError

router = Router(tags=["views"])

ViewId = PathEx[int, P(ge=1, le=MAX_ID, description="the view's number")]


@router.get("/views", response=responses({200: list[ViewOut]}))
def list_views(request: AgentRequest) -> list[dict[str, Any]]:
    """The shared views and the caller's own, with how many cases the caller sees in each."""
    return [view_dict(view, view_count(view, request.auth))
            for view in views_for(request.auth)]


@router.post("/views", response=responses({201: ViewOut}, 400, 404, 409, 422))
def save_view(request: AgentRequest, body: ViewIn) -> Status[dict[str, Any]]:
    """Save filters, a search and a sort as a view of the caller's, or shared."""
    try:
        view = add_view(body.name, CaseFilter.from_dict(body.filters.model_dump(
            exclude_none=True)), None if body.shared else request.auth, by=request.auth)
    except ViewRefused as exc:
        raise HttpError(403, str(exc)) from None
    except UnknownIntake as exc:
        raise HttpError(404, str(exc)) from None
    except ViewConflict as exc:
        raise HttpError(409, str(exc)) from None
    except DeskError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, view_dict(view, view_count(view, request.auth)))


@router.delete("/views/{view_id}", response=responses({204: None}, 404, 422))
def delete_view(request: AgentRequest, view_id: ViewId) -> Status[None]:
    """Remove one of the caller's views, or a shared one (with the share views privilege)."""
    try:
        remove_view(view_id, by=request.auth)
    except ViewRefused as exc:
        raise HttpError(403, str(exc)) from None
    except DeskError:
        raise HttpError(404, f"there is no view {view_id}") from None
    return Status(204, None)


@router.get("/views/{view_id}/cases", response=responses({200: Page[CaseOut]}, 400, 404, 422))
def list_view_cases(request: AgentRequest, view_id: ViewId, page: Query[PageParams]
                    ) -> dict[str, Any]:
    """The cases the view shows the caller, newest first (pages follow the id, as every
    list's; the view's sort is the console's)."""
    view = views_for(request.auth).filter(pk=view_id).first()
    if view is None:
        raise HttpError(404, f"there is no view {view_id}")
    wanted = view_filter(view)
    if wanted is None:
        raise HttpError(400, f"the view {view.name!r} no longer reads: its intake is gone")
    rows = filtered_cases(wanted, request.auth).select_related("intake", "assignee")
    return paginate(rows, page, lambda cases: [conversation_as_dict(c) for c in cases])

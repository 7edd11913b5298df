"""Suspended mail (list, recover, delete: one or many at once) and the senders intakes block.

As in the console, reading needs the read-cases privilege and changes the work-cases one; an
agent sees the intakes of their teams and of no team. Each change is in the audit log, under
the token's user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ninja import P, PathEx, Query, Router, Status
from ninja.errors import HttpError

from casegate.api.pagination import PageParams, paginate
from casegate.api.requests import AgentRequest
from casegate.api.schemas import (
    MAX_ID,
    BlockedFilters,
    BlockedSenderIn,
    BlockedSenderOut,
    Page,
    SuspendedFilters,
    SuspendedIds,
    SuspendedOut,
    responses,
)
from casegate.desk.models import BlockedSender
from casegate.desk.services import DeskError
from casegate.desk.suspension import (
    AlreadyDone,
    Unknown,
    block_sender,
    blocked_as_dict,
    blocked_senders,
    delete,
    recover,
    suspended_as_dict,
    unblock_sender,
    waiting,
)
from casegate.desk.visibility import intake_scope

router = Router(tags=["suspended mail"])

BlockedId = PathEx[int, P(ge=1, le=MAX_ID, description="the blocked sender's number")]
_T = TypeVar("_T")


def _changing(change: Callable[[], _T]) -> _T:
    """``change``; refusals as 404, 409 or 400."""
    try:
        return change()
    except Unknown as exc:
        raise HttpError(404, str(exc)) from None
    except AlreadyDone as exc:
        raise HttpError(409, str(exc)) from None
    except DeskError as exc:
        raise HttpError(400, str(exc)) from None


@router.get("/suspended", response=responses({200: Page[SuspendedOut]}, 400, 422))
def list_suspended(request: AgentRequest, filters: Query[SuspendedFilters],
                   page: Query[PageParams]) -> dict[str, Any]:
    """Mail set aside instead of opening a case or lead, newest first."""
    rows = waiting(cause=filters.cause or "", scope=intake_scope(request.auth))
    if filters.intake is not None:
        rows = rows.filter(intake__address__iexact=filters.intake)
    return paginate(rows, page, lambda found: [suspended_as_dict(m) for m in found])


DECIDED = responses({200: list[SuspendedOut]}, 400, 404, 409, 422)


@router.post("/suspended/recover", response=DECIDED)
def recover_suspended(request: AgentRequest, body: SuspendedIds) -> list[dict[str, Any]]:
    """File the messages as if they had just arrived, without suspending them again: each
    opens a case or lead (acknowledged as any new one), or joins the one it answers. All or
    none: 404 names a message that does not exist, 409 one decided on already."""
    user = request.auth
    recovered = _changing(lambda: recover(body.ids, user.get_username(),
                                                   intake_scope(user)))
    return [suspended_as_dict(m) for m in recovered]


@router.post("/suspended/delete", response=DECIDED)
def delete_suspended(request: AgentRequest, body: SuspendedIds) -> list[dict[str, Any]]:
    """Drop the messages; all or none, as for recovering."""
    user = request.auth
    deleted = _changing(lambda: delete(body.ids, user.get_username(),
                                                intake_scope(user)))
    return [suspended_as_dict(m) for m in deleted]


@router.get("/blocked-senders", response=responses({200: list[BlockedSenderOut]}, 422))
def list_blocked_senders(request: AgentRequest, filters: Query[BlockedFilters]
                         ) -> list[dict[str, Any]]:
    """The addresses and domains intakes block: their mail is suspended."""
    rows = blocked_senders(scope=intake_scope(request.auth))
    if filters.intake is not None:
        rows = rows.filter(intake__address__iexact=filters.intake)
    return [blocked_as_dict(b) for b in rows]


@router.post("/blocked-senders", response=responses({201: BlockedSenderOut}, 400, 404, 409, 422))
def create_blocked_sender(request: AgentRequest, body: BlockedSenderIn
                          ) -> Status[dict[str, Any]]:
    """Block an address, or a domain with its subdomains, at an intake."""
    within = intake_scope(request.auth, "")
    blocked = _changing(lambda: block_sender(body.intake, body.entry, within))
    return Status(201, blocked_as_dict(blocked))


@router.delete("/blocked-senders/{blocked_id}", response=responses({204: None}, 404, 422))
def delete_blocked_sender(request: AgentRequest, blocked_id: BlockedId) -> Status[None]:
    """Unblock: the sender's mail opens cases again."""
    blocked = BlockedSender.objects.filter(intake_scope(request.auth), pk=blocked_id).first()
    if blocked is None:
        raise HttpError(404, f"there is no blocked sender {blocked_id}")
    _changing(lambda: unblock_sender(str(blocked.intake_id), blocked.entry))
    return Status(204, None)

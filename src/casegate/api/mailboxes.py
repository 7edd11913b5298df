"""Mailbox accounts over the API: list, add, pause, resume, remove. Only for the
mail-settings administrator (and the super administrator), as in the console and the
command line. The secret itself never passes through the API: only the file or the command
on the casegate host that gives it, which casegate reads or runs as itself, so only the
super administrator adds a mailbox."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import P, PathEx, Router, Status
from ninja.errors import HttpError

from casegate.access import can
from casegate.api.requests import AgentRequest
from casegate.api.schemas import MailboxIn, MailboxOut, responses
from casegate.mailboxes.models import Mailbox
from casegate.mailboxes.services import (
    MailboxError,
    add_mailbox,
    mailbox_named,
    remove_mailbox,
    set_paused,
    status_rows,
)
from casegate.mailboxes.vocabulary import Protocol, Tls

router = Router(tags=["mailboxes"])

MailboxName = PathEx[str, P(max_length=100, pattern=r"^[^\s/]+$", description="its name")]


def _known(name: str) -> Mailbox:
    try:
        return mailbox_named(name)
    except MailboxError as exc:
        raise HttpError(404, str(exc)) from None


@router.get("/mailboxes", response=responses({200: list[MailboxOut]}))
def list_mailboxes(request: HttpRequest) -> list[dict[str, Any]]:
    """Every mailbox and how it stands: the last success, the last error, what was set
    aside."""
    return status_rows()


@router.post("/mailboxes", response=responses({201: MailboxOut}, 400, 422))
def create_mailbox(request: AgentRequest, mailbox: MailboxIn) -> Status[dict[str, Any]]:
    """Fetch a mailbox's mail into the desk, as if it had been sent to ``deliver_to``
    (the super administrator's: it names a file or a command on the casegate host)."""
    if not can(request.auth, "host_files"):
        raise HttpError(403, "adding a mailbox names a file or a command on the casegate"
                             " host: the super administrator's")
    try:
        created = add_mailbox(
            mailbox.name, Protocol(mailbox.protocol), mailbox.server, mailbox.user,
            password_file=mailbox.password_file, token_command=mailbox.oauth2_token_command,
            tls=Tls(mailbox.tls), folder=mailbox.folder, deliver_to=mailbox.deliver_to,
            since=mailbox.since, after_fetch=mailbox.after_fetch)
    except (MailboxError, ValueError) as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, status_rows([created])[0])


@router.post("/mailboxes/{name}/pause", response=responses({200: MailboxOut}, 404, 422))
def pause_mailbox(request: HttpRequest, name: MailboxName) -> dict[str, Any]:
    """Stop fetching it for now."""
    _known(name)
    return status_rows([set_paused(name, True)])[0]


@router.post("/mailboxes/{name}/resume", response=responses({200: MailboxOut}, 404, 422))
def resume_mailbox(request: HttpRequest, name: MailboxName) -> dict[str, Any]:
    """Fetch it again, at once."""
    _known(name)
    return status_rows([set_paused(name, False)])[0]


@router.delete("/mailboxes/{name}", response=responses({204: None}, 404, 422))
def delete_mailbox(request: HttpRequest, name: MailboxName) -> Status[None]:
    """Stop fetching it and forget its state (its mail stays on the server)."""
    _known(name)
    remove_mailbox(name)
    return Status(204, None)

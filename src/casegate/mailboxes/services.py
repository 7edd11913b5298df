"""Adding, pausing and removing mailbox accounts, and how each one stands: shared by the
command line, the console and the API."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from django.db.models import Count

from casegate.directory.addresses import normalize_address
from casegate.errors import CasegateError
from casegate.mail.hostport import HostPortError, parse_hostport
from casegate.mailboxes.models import Mailbox
from casegate.mailboxes.vocabulary import DEFAULT_PORTS, AfterFetch, AfterFetchAction, Protocol, Tls


class MailboxError(CasegateError):
    pass


def add_mailbox(name: str, protocol: Protocol, server: str, user: str, *,
                password_file: str = "", token_command: str = "", tls: Tls = Tls.IMPLICIT,
                folder: str = "INBOX", deliver_to: str, since: datetime | None = None,
                after_fetch: str = "keep") -> Mailbox:
    """A new mailbox account; ``server`` is ``HOST[:PORT]`` (the protocol's port for
    ``tls`` when none is given)."""
    name = name.strip()
    if not name or any(c.isspace() or not c.isprintable() for c in name):
        raise MailboxError(f"mailbox name {name!r}: use letters, digits and - . _ only")
    if Mailbox.objects.filter(name=name).exists():
        raise MailboxError(f"mailbox {name} exists already")
    if bool(password_file) == bool(token_command):
        raise MailboxError("give either --password-file or --oauth2-token-command")
    try:
        where = parse_hostport(server, default_port=DEFAULT_PORTS[(protocol, tls)])
    except HostPortError as exc:
        raise MailboxError(f"server {exc}") from None
    if tls == Tls.NONE and not _on_this_host(where.host):
        raise MailboxError(f"--tls none would send the login in clear to {where.host}: only"
                           " for a server on this host (localhost, 127.0.0.1, ::1); use"
                           " --tls implicit or starttls")
    try:
        after = AfterFetchAction.parse(after_fetch)
    except ValueError as exc:
        raise MailboxError(str(exc)) from None
    if protocol == Protocol.POP3 and after.action not in (AfterFetch.KEEP, AfterFetch.DELETE):
        raise MailboxError("POP3 has no flags or folders: --after-fetch keep or delete")
    if protocol == Protocol.POP3 and folder != "INBOX":
        raise MailboxError("POP3 has one folder only: leave out --folder")
    if not user.strip():
        raise MailboxError("--user is required")
    return Mailbox.objects.create(
        name=name, protocol=protocol, host=where.host, port=where.port, tls=tls,
        user=user.strip(), password_file=password_file, token_command=token_command,
        folder=folder, deliver_to=normalize_address(deliver_to), since=since,
        after_fetch=after.action, move_to=after.folder)


def _on_this_host(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mailbox_named(name: str) -> Mailbox:
    try:
        return Mailbox.objects.get(name=name)
    except Mailbox.DoesNotExist:
        raise MailboxError(f"no mailbox named {name}") from None


def set_paused(name: str, paused: bool) -> Mailbox:
    mailbox = mailbox_named(name)
    mailbox.paused = paused
    # A resumed mailbox is tried at once, whatever its backoff said.
    mailbox.next_attempt_at = None if not paused else mailbox.next_attempt_at
    mailbox.save(update_fields=["paused", "next_attempt_at"])
    return mailbox


def remove_mailbox(name: str) -> None:
    mailbox_named(name).delete()


def state_of(mailbox: Mailbox) -> str:
    if mailbox.paused:
        return "paused"
    if mailbox.failures:
        return "failing"
    return "ok" if mailbox.last_success_at else "new"


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def status_rows(mailboxes: list[Mailbox] | None = None) -> list[dict[str, Any]]:
    """Each mailbox and how it stands, as ``mailbox list --json``, the console and the API
    show it (never its secret: only where the secret comes from)."""
    query = (Mailbox.objects.annotate(set_aside_count=Count("set_aside"))
             .prefetch_related("set_aside").order_by("name"))
    if mailboxes is not None:
        query = query.filter(pk__in=[m.pk for m in mailboxes])
    rows = []
    for mailbox in query:
        rows.append({
            "name": mailbox.name, "protocol": mailbox.protocol, "host": mailbox.host,
            "port": mailbox.port, "tls": mailbox.tls, "user": mailbox.user,
            "secret": "oauth2-token-command" if mailbox.token_command else "password-file",
            "folder": mailbox.folder, "deliver_to": mailbox.deliver_to,
            "since": _when(mailbox.since),
            "after_fetch": str(AfterFetchAction(AfterFetch(mailbox.after_fetch),
                                                mailbox.move_to)),
            "state": state_of(mailbox), "paused": mailbox.paused,
            "last_success_at": _when(mailbox.last_success_at),
            "last_error": mailbox.last_error, "last_error_at": _when(mailbox.last_error_at),
            "failures": mailbox.failures, "next_attempt_at": _when(mailbox.next_attempt_at),
            "fetched": mailbox.fetched, "set_aside": mailbox.set_aside_count,
            "set_aside_messages": [{"key": s.key, "size": s.size, "reason": s.reason,
                                    "at": s.at.isoformat()} for s in mailbox.set_aside.all()],
        })
    return rows

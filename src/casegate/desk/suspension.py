"""Suspended mail and blocked senders: what people do with the mail filing set aside (see
:mod:`casegate.desk.filing.suspension`).

A suspended message is **recovered** (filed again as if it had just arrived, without the
suspension step: it opens a case or lead, acknowledged as any new one would be) or
**deleted** (its bytes are dropped at once); either way the entry stays, marked, until it is
``CASEGATE_SUSPENDED_DAYS`` old, when the worker's desk clock removes it with every other
entry of that age (:func:`remove_expired`). Each decision is recorded in the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from auditlog.context import disable_auditlog
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from casegate.config import get_config
from casegate.desk.arrivals import DeskArrival
from casegate.desk.filing import file_batch
from casegate.desk.models import BlockedSender, Case, Intake, Lead, SuspendedMessage
from casegate.desk.parsing import parse_message
from casegate.desk.services import DeskError
from casegate.desk.vocabulary import SuspensionState
from casegate.directory.addresses import InvalidAddress, normalize_entry
from casegate.routing.snapshot import load_table
from casegate.spool.messages import enqueue
from casegate.text import whole_number

log = logging.getLogger("casegate.desk")


class Unknown(DeskError):
    """What the request names does not exist (or is out of the caller's sight)."""


class AlreadyDone(DeskError):
    """The change asked for was made before: a message decided on, a sender blocked."""


EVERY = Q()  # no limit on which suspended messages or blocked senders are meant


def suspended_as_dict(entry: SuspendedMessage) -> dict[str, Any]:
    """A suspended message as the CLI prints it and the API returns it."""
    return {
        "id": entry.pk,
        "intake": entry.intake.address,
        "queue_id": entry.queue_id,
        "subject": entry.subject,
        "sender": entry.sender,
        "sender_name": entry.sender_name,
        "mail_from": entry.mail_from,
        "message_id": entry.message_id,
        "cause": entry.cause,
        "reason": entry.reason,
        "spam_score": entry.spam_score,
        "auth_results": entry.auth_results,
        "state": entry.state,
        "case": entry.case_id,
        "lead": entry.lead_id,
        "received_at": entry.received_at.isoformat(),
        "created_at": entry.created_at.isoformat(),
    }


def waiting(intake: str = "", cause: str = "", scope: Q = EVERY) -> QuerySet[SuspendedMessage]:
    """The suspended messages no one decided on yet, newest first (without their bytes);
    ``intake``: an intake's address or id; ``scope``: those someone may see."""
    found = (SuspendedMessage.objects.filter(scope, state=SuspensionState.SUSPENDED)
             .select_related("intake").defer("raw").order_by("-id"))
    if intake:
        found = found.filter(intake=find_intake(intake))
    if cause:
        found = found.filter(cause=cause)
    return found


def find_intake(text: str, within: Q = EVERY) -> Intake:
    """An intake by its address or its id (one of the intakes ``within``)."""
    text = text.strip()
    intakes = Intake.objects.filter(within)
    number = whole_number(text)
    found = (intakes.filter(pk=number) if number is not None
             else intakes.filter(address__iexact=text)).first()
    if found is None:
        raise Unknown(f"there is no intake {text!r}; see: casegate desk intake list")
    return found


def _undecided(ids: Iterable[int], scope: Q) -> list[SuspendedMessage]:
    """The suspended messages ``ids`` (within ``scope``), locked, in the order they came;
    each must be waiting."""
    wanted = sorted(set(ids))
    if not wanted:
        raise DeskError("name at least one suspended message")
    found = {m.pk: m for m in SuspendedMessage.objects.select_for_update()
             .select_related("intake").filter(scope, pk__in=wanted)}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise Unknown(f"there is no suspended message {', '.join(missing)};"
                        " see: casegate suspended list")
    decided = [f"#{m.pk} was {m.state}" for m in found.values()
               if m.state != SuspensionState.SUSPENDED]
    if decided:
        raise AlreadyDone(f"{', '.join(decided)} already")
    return [found[i] for i in wanted]


def _decided(entries: list[SuspendedMessage], state: str, actor: str) -> None:
    """Mark ``entries`` decided and drop their bytes (a recovered message keeps them on its
    conversation); each change is saved one by one so the audit log records it."""
    now = timezone.now()
    for entry in entries:
        entry.state, entry.decided_by, entry.decided_at, entry.raw = state, actor[:150], now, b""
        entry.save(update_fields=["state", "decided_by", "decided_at", "raw", "case", "lead"])


@transaction.atomic
def recover(ids: Iterable[int], actor: str, scope: Q = EVERY) -> list[SuspendedMessage]:
    """File the suspended messages ``ids`` as if they had just arrived, without suspending
    them again: each opens a case or lead (or joins one), acknowledged and notified as any
    other; all or none (``scope``: the suspended messages ``actor`` may see)."""
    entries = _undecided(ids, scope)
    arrivals = [DeskArrival(entry.intake, entry.queue_id, entry.original_recipient,
                            entry.received_at, parse_message(bytes(entry.raw)), bytes(entry.raw),
                            entry.mail_from, entry.peer, recovered=True) for entry in entries]
    batch = file_batch(arrivals, load_table(), get_config().hostname)
    if batch.outgoing:
        enqueue(batch.outgoing)
    for entry, item in zip(entries, batch.filed, strict=True):
        conversation = item.conversation
        entry.case = conversation if isinstance(conversation, Case) else None
        entry.lead = conversation if isinstance(conversation, Lead) else None
        log.info("queue=%s suspended=%s recovered-by=%s conversation=%s", entry.queue_id,
                 entry.pk, actor, conversation)
    _decided(entries, SuspensionState.RECOVERED, actor)
    return entries


@transaction.atomic
def delete(ids: Iterable[int], actor: str, scope: Q = EVERY) -> list[SuspendedMessage]:
    """Drop the suspended messages ``ids`` (the entries stay, marked deleted, until they
    expire); all or none (``scope``: as for :func:`recover`)."""
    entries = _undecided(ids, scope)
    _decided(entries, SuspensionState.DELETED, actor)
    for entry in entries:
        log.info("queue=%s suspended=%s deleted-by=%s", entry.queue_id, entry.pk, actor)
    return entries


def remove_expired(now: datetime | None = None) -> int:
    """Remove the entries older than ``CASEGATE_SUSPENDED_DAYS`` (0: keep them), whatever was
    decided on them; returns how many. Housekeeping, so not in the audit log."""
    days = get_config().suspended_days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with disable_auditlog():
        removed, _ = SuspendedMessage.objects.filter(created_at__lt=cutoff).delete()
    if removed:
        log.info("suspended=removed count=%d older-than-days=%d", removed, days)
    return removed


# --- blocked senders -------------------------------------------------------------------------


def _blocked_entry(text: str) -> str:
    """An address or a domain as blocked entries are stored."""
    try:
        return normalize_entry(text)
    except InvalidAddress as exc:
        raise DeskError(f"{text.strip()!r} is neither an address nor a domain: {exc}") from None


@transaction.atomic
def block_sender(intake: str, sender: str, within: Q = EVERY) -> BlockedSender:
    """Suspend mail from ``sender`` (an address, or a domain with its subdomains) to the
    intake instead of opening cases (``intake``: its address or id, one of those
    ``within``)."""
    found = find_intake(intake, within)
    entry = _blocked_entry(sender)
    if BlockedSender.objects.filter(intake=found, entry=entry).exists():
        raise AlreadyDone(f"{found.address} blocks {entry} already")
    return BlockedSender.objects.create(intake=found, entry=entry)


@transaction.atomic
def unblock_sender(intake: str, sender: str, within: Q = EVERY) -> None:
    found = find_intake(intake, within)
    entry = _blocked_entry(sender)
    blocked = BlockedSender.objects.filter(intake=found, entry=entry).first()
    if blocked is None:
        raise Unknown(f"{found.address} does not block {entry};"
                        " see: casegate desk intake blocked")
    blocked.delete()


def blocked_senders(intake: str = "", scope: Q = EVERY) -> QuerySet[BlockedSender]:
    found = (BlockedSender.objects.filter(scope).select_related("intake")
             .order_by("intake_id", "entry"))
    return found.filter(intake=find_intake(intake)) if intake else found


def blocked_as_dict(blocked: BlockedSender) -> dict[str, Any]:
    return {"id": blocked.pk, "intake": blocked.intake.address, "entry": blocked.entry,
            "created_at": blocked.created_at.isoformat()}

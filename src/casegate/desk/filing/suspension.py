"""Noise does not open cases: an arrival that would open a new case or lead is set aside,
**suspended** with its cause, when it is

* ``blocked_sender``: from an address or domain its intake blocks;
* ``spam``: classified as spam by the gateway and let through by a rule with "bypass spam
  filter" (not spam a person released from the quarantine);
* ``loop``: our own mail coming back (its Message-ID is one we signed), or one more from a
  sender who opened ``CASEGATE_LOOP_LIMIT`` conversations at this intake within the hour;
* ``auto_mailer``: automated mail (out-of-office, Auto-Submitted, bulk and list mail,
  reports, no-reply senders: see :func:`casegate.desk.parsing.automated_reason`), or mail
  sent over SMTP or LMTP from the null sender.

The first that applies is the cause; a test message of ``casegate verify`` (its signed
Message-ID says so) is never suspended. Mail that threads onto an existing conversation is
filed there as before (an out-of-office answering a case stays on it), and so is an agent's
answer. Suspended mail is kept whole, gets no acknowledgement and notifies nobody; a person
recovers it (it is filed again, without this step) or deletes it
(:mod:`casegate.desk.suspension`).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from casegate.config import get_config
from casegate.desk.arrivals import DeskArrival, Filed
from casegate.desk.filing.batch import Batch, SuspensionFacts
from casegate.desk.models import BlockedSender, Case, Lead, SuspendedMessage
from casegate.desk.threading import is_signed_test, read_signed
from casegate.desk.vocabulary import IntakeKind, SuspensionCause
from casegate.directory.addresses import InvalidAddress, normalize_address
from casegate.maillog import log_fields
from casegate.routing.engine import AddressListEntries
from casegate.spool.models import Message, Quarantine

log = logging.getLogger("casegate.desk")

# How far back the conversations a sender opened count towards CASEGATE_LOOP_LIMIT.
LOOP_WINDOW = timedelta(hours=1)


def suspension_facts(arrivals: list[DeskArrival]) -> SuspensionFacts:
    """What :func:`suspend_noise` reads, for a batch: a few queries whatever its size."""
    intake_ids = {a.intake.pk for a in arrivals if a.intake is not None}
    if not intake_ids:
        return SuspensionFacts()
    return SuspensionFacts(_blocked_entries(intake_ids), _recent_conversations(arrivals),
                           _released_spam(arrivals))


def _blocked_entries(intake_ids: set[int]) -> dict[int, AddressListEntries]:
    """The senders each intake blocks, by intake id."""
    words: dict[int, list[str]] = {}
    for intake_id, entry in BlockedSender.objects.filter(intake_id__in=intake_ids).values_list(
            "intake_id", "entry"):
        words.setdefault(intake_id, []).append(entry)
    return {intake_id: AddressListEntries(frozenset(w for w in entries if "@" in w),
                                          frozenset(w for w in entries if "@" not in w))
            for intake_id, entries in words.items()}


def _recent_conversations(arrivals: list[DeskArrival]) -> Counter[tuple[str, int]]:
    """How many cases or leads each sender of the batch opened at each of its intakes in the
    last hour (none read when the loop limit is off)."""
    counts: Counter[tuple[str, int]] = Counter()
    if get_config().loop_limit <= 0:
        return counts
    senders = {a.mail.sender[:320] for a in arrivals if a.mail.sender}
    since = timezone.now() - LOOP_WINDOW
    for model, kind in ((Case, IntakeKind.CASE), (Lead, IntakeKind.LEAD)):
        if not senders or not any(a.intake is not None and a.kind == kind for a in arrivals):
            continue
        # Counted here rather than grouped in SQL: a sender seldom has more rows than the
        # loop limit (beyond it their mail is suspended), and composing a grouping costs more.
        # No condition on the intake: given one, SQLite searches the intake's index, which
        # holds every case the intake ever opened, instead of the sender's.
        counts.update(model.objects.filter(requester__in=senders, created_at__gte=since)
                      .order_by().values_list("requester", "intake_id"))
    return counts


def _released_spam(arrivals: list[DeskArrival]) -> set[tuple[str, str]]:
    """(queue id, recipient) of the batch's spam that a person released from quarantine."""
    spam = {a.queue_id for a in arrivals if a.spam}
    if not spam:
        return set()
    return set(Quarantine.objects.filter(message_id__in=spam, state=Quarantine.RELEASED)
               .values_list("message_id", "recipient"))


def suspend_noise(batch: Batch, item: Filed) -> None:
    """Suspends an arrival about to open a conversation when it is noise (see the module);
    any other is counted towards its sender's loop limit."""
    arrival = item.arrival
    if item.conversation is not None or item.author is not None or arrival.recovered:
        return
    assert arrival.intake is not None  # threading gave mail to a reply address its intake
    key = (arrival.mail.sender[:320], arrival.intake.pk)
    cause, reason = _noise(arrival, batch.suspension, batch.suspension.recent[key])
    if not cause:
        batch.suspension.recent[key] += 1
        return
    item.suspended = cause
    suspended = _keep(arrival, cause, reason, batch)
    fields = {"queue": arrival.queue_id, "filed": "suspended", "cause": cause,
              "suspended": suspended.pk, "intake": arrival.intake.address,
              "from": f"<{arrival.mail.sender}>", "reason": suspended.reason}
    transaction.on_commit(lambda: log_fields(log, fields))


def _noise(arrival: DeskArrival, facts: SuspensionFacts, opened: int) -> tuple[str, str]:
    """The cause for suspending ``arrival`` and its detail, or ``("", "")``."""
    assert arrival.intake is not None
    mail = arrival.mail
    if is_signed_test(mail.message_id):  # casegate verify's: it is there to open a case
        return "", ""
    blocked = facts.blocked.get(arrival.intake.pk)
    entry = blocked.entry_for(_comparable(mail.sender)) if blocked and mail.sender else None
    if entry is not None:
        return SuspensionCause.BLOCKED_SENDER, f"the intake blocks {entry}"
    if arrival.spam and (arrival.queue_id, arrival.original_recipient) not in facts.released:
        return SuspensionCause.SPAM, "classified as spam; a rule bypassed the spam filter"
    if read_signed(mail.message_id) is not None:
        return SuspensionCause.LOOP, f"our own message {mail.message_id} came back"
    limit = get_config().loop_limit
    if 0 < limit <= opened and not arrival.quiet:  # old mail comes in bulk, not a loop
        return SuspensionCause.LOOP, (f"{opened} {arrival.kind}s opened by {mail.sender} in the"
                                      f" last hour (CASEGATE_LOOP_LIMIT is {limit})")
    if mail.automated:
        return SuspensionCause.AUTO_MAILER, mail.automated
    if arrival.null_sender:
        return SuspensionCause.AUTO_MAILER, "sent from the null sender (MAIL FROM:<>)"
    return "", ""


def _comparable(sender: str) -> str:
    """The sender as blocked entries are stored (A-label domain, lower case)."""
    try:
        return normalize_address(sender)
    except InvalidAddress:
        return sender.lower()


def _keep(arrival: DeskArrival, cause: str, reason: str, batch: Batch) -> SuspendedMessage:
    """The suspended message, with the gateway's verdict on it copied."""
    assert arrival.intake is not None
    spam_reason, report, auth_results = Message.objects.filter(
        queue_id=arrival.queue_id).values_list("spam_reason", "spam_report", "auth_results"
                                               ).first() or ("", {}, "")
    if cause == SuspensionCause.SPAM and spam_reason:
        reason = f"classified as spam: {spam_reason}"
    mail = arrival.mail
    # Saved without signals, like the rest of filing: the audit log records people's decisions.
    [kept] = SuspendedMessage.objects.bulk_create([SuspendedMessage(
        intake=arrival.intake, queue_id=arrival.queue_id,
        original_recipient=arrival.original_recipient[:320], mail_from=arrival.mail_from[:320],
        peer=arrival.peer[:100], received_at=arrival.received_at, raw=arrival.raw,
        message_id=mail.message_id[:998], subject=mail.subject[:998], sender=mail.sender[:320],
        sender_name=mail.sender_name[:200], cause=cause, reason=reason[:500],
        spam_score=_spam_score(report), auth_results=auth_results, created_at=batch.now)])
    return kept


def _spam_score(report: object) -> float | None:
    """The score in a classifier's report (``Message.spam_report``), if it gave one."""
    score = report.get("score") if isinstance(report, dict) else None
    return float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None

"""The desk's door for the delivery worker: the desk's deliveries in, what became of each
and the mail filing set off out.

Reading comes first, outside any transaction (SQLite has one writer, and the gateway waits
for it): :func:`receive` parses each message, reads what filing needs (checking the DKIM
proofs of agents' answers is DNS lookups) and stores the messages' bytes. The worker then
calls :meth:`Received.file` inside the transaction that records the deliveries' outcomes,
so a message is filed exactly when its delivery is done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from casegate.desk.arrivals import DeskArrival
from casegate.desk.filing import file_batch
from casegate.desk.filing.batch import Prefetched
from casegate.desk.filing.messages import store_contents
from casegate.desk.filing.prefetch import prefetch
from casegate.desk.models import Intake
from casegate.desk.parsing import parse_message
from casegate.mail.headers import HeaderFields, dated
from casegate.routing.engine import RoutingTable
from casegate.spool.messages import AcceptedMessage

log = logging.getLogger("casegate.desk")


@dataclass(frozen=True)
class DeskDelivery:
    """A delivery to the desk that the worker claimed; ``intake_id`` None: mail to an agent's
    reply address. ``peer``: the client the gateway received the message from; ``spam``:
    whether the gateway classified the message as spam; ``quiet``: old mail (imported, or
    older than the mailbox it was fetched from), filed without acknowledgement or
    notification."""

    id: int
    queue_id: str
    intake_id: int | None
    original_recipient: str
    received_at: datetime
    raw: bytes
    mail_from: str
    peer: str
    spam: bool = False
    quiet: bool = False
    null_sender: bool = False  # sent with MAIL FROM:<>


@dataclass
class Receipt:
    """The deliveries ``filed``, those that ``failed`` with the error (any other was to an
    intake that no longer exists), and the mail filing set off, to queue."""

    filed: set[int]
    failed: dict[int, Exception]
    outgoing: list[AcceptedMessage]


def receive(deliveries: list[DeskDelivery]) -> Received:
    """Parse and read the deliveries for filing; outside any transaction."""
    # Mail to an agent's reply address has no intake: it files on the conversation it answers.
    intakes = {None: None, **Intake.objects.in_bulk({d.intake_id for d in deliveries})}
    arrivals: dict[int, DeskArrival] = {}
    failed: dict[int, Exception] = {}
    for delivery in deliveries:
        if delivery.intake_id not in intakes:
            continue
        try:
            mail = parse_message(delivery.raw)
        except Exception as exc:  # parsing notes what it cannot read; this is a defect
            log.exception("queue=%s cannot be parsed for the desk", delivery.queue_id)
            failed[delivery.id] = exc
            continue
        arrivals[delivery.id] = DeskArrival(
            intakes[delivery.intake_id], delivery.queue_id, delivery.original_recipient,
            received_at(delivery), mail, delivery.raw, delivery.mail_from, delivery.peer,
            delivery.spam, quiet=delivery.quiet, null_sender=delivery.null_sender)
    known = prefetch(list(arrivals.values()))
    try:
        store_contents(list(arrivals.values()))
    except Exception:  # filing stores them again, one by one if need be, and reports why
        log.exception("storing message contents before filing failed")
    return Received({d.id for d in deliveries}, arrivals, failed, known)


def received_at(delivery: DeskDelivery) -> datetime:
    """When the desk says the message was received: old mail (quiet) at its ``Date:``, so an
    imported history keeps its times, unless that is missing or later than its arrival here;
    other mail when casegate received it."""
    if delivery.quiet:
        written = dated(HeaderFields(delivery.raw))
        if written is not None and written < delivery.received_at:
            return written
    return delivery.received_at


class Received:
    """Deliveries read for filing (see :func:`receive`)."""

    def __init__(self, delivery_ids: set[int], arrivals: dict[int, DeskArrival],
                 failed: dict[int, Exception], known: Prefetched) -> None:
        self._delivery_ids = delivery_ids
        self._arrivals = arrivals
        self._failed = failed
        self._known = known

    def file(self, held: set[int], table: RoutingTable, hostname: str) -> Receipt:
        """File the deliveries still ``held`` by the worker, inside its transaction: all in
        one go, or one by one if that fails."""
        arrivals = self._arrivals
        known: Prefetched | None = self._known
        if held != self._delivery_ids:  # some went to another worker: read again for the rest
            arrivals = {k: v for k, v in arrivals.items() if k in held}
            known = None
        outgoing, failed = _file_together(arrivals, table, hostname, known)
        return Receipt(set(arrivals) - set(failed), self._failed | failed, outgoing)


def _file_together(arrivals: dict[int, DeskArrival], table: RoutingTable, hostname: str,
                   known: Prefetched | None) -> tuple[list[AcceptedMessage], dict[int, Exception]]:
    """The mail that filing ``arrivals`` sets off, and the deliveries that could not be
    filed, with the error. One that fails holds back no other: they are filed one by one."""
    try:
        with transaction.atomic():
            return file_batch(list(arrivals.values()), table, hostname, known).outgoing, {}
    except Exception as exc:
        if len(arrivals) == 1:
            [(delivery_id, arrival)] = arrivals.items()
            log.exception("queue=%s cannot be filed at the desk", arrival.queue_id)
            return [], {delivery_id: exc}
    outgoing: list[AcceptedMessage] = []
    failed: dict[int, Exception] = {}
    for delivery_id, arrival in arrivals.items():
        try:
            with transaction.atomic():
                outgoing += file_batch([arrival], table, hostname).outgoing
        except Exception as exc:
            log.exception("queue=%s cannot be filed at the desk", arrival.queue_id)
            failed[delivery_id] = exc
    return outgoing, failed

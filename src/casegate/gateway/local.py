"""The way in for mail a local program hands over: ``casegate deliver`` (a pipe from the
company's mail server), the mailbox fetcher and the importer.

A message enters here exactly where SMTP mail does (:class:`~casegate.gateway.admission.
Admission`: loop checks, classification, routing, the durable write), as if sent to the
recipients given. Its ``origin`` makes a copy that can come again (a mailbox's message, an
imported file) stored once: a second copy is answered with the first one's queue id.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import TracebackType

from casegate.config import Config
from casegate.filtering.classifiers import close_classifiers, load_classifiers
from casegate.gateway.admission import Admission, Admitted, Arrival, recipient_refusal, route
from casegate.routing.snapshot import TableCache
from casegate.spool.models import Message
from casegate.spool.store import DurableStore
from casegate.spool.vocabulary import Source

# What a duplicate is answered: it was stored before, so the sender may forget it.
ALREADY_STORED = "250 2.0.0 Ok: already stored as {queue_id}"


def stored_origins(origins: list[str]) -> dict[str, str]:
    """The queue id of each origin already stored."""
    # Saying what the unique index on origin leaves out lets the database use it (SQLite and
    # PostgreSQL do not find that a list of origins leaves out "" by themselves).
    return dict(Message.objects.filter(origin__in=[o for o in origins if o])
                .exclude(origin="").order_by().values_list("origin", "queue_id"))


def already_stored(queue_id: str) -> Admitted:
    """The answer to a copy of the message stored as ``queue_id``."""
    return Admitted(ALREADY_STORED.format(queue_id=queue_id), queue_id)


class LocalDoor:
    """Admits messages from a local program; use as ``async with LocalDoor(...) as door``.

    ``source``: how the messages came (the stored message keeps it); ``checked`` False
    stores them without asking the spam classifiers (old mail being imported)."""

    def __init__(self, config: Config, source: Source, checked: bool = True) -> None:
        self.config = config
        self.source = source
        self.checked = checked
        self.tables = TableCache()
        self.store = DurableStore()
        self.classifiers = load_classifiers() if checked else []
        self.admission = Admission(config, self.classifiers, self.store)

    async def __aenter__(self) -> LocalDoor:
        await asyncio.to_thread(self.tables.reload)
        self.store.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await close_classifiers(self.classifiers)
        await asyncio.to_thread(self.store.close)
        self.tables.close()

    async def admit(self, content: bytes, recipients: list[str], mail_from: str = "", *,
                    helo: str = "") -> Admitted:
        """Store ``content`` (a message with no origin: every copy is new) for
        ``recipients``; refused whole when any recipient is. Messages that can come again
        are first looked for (:func:`stored_origins`, :func:`already_stored`), a batch at a
        time, then given to :meth:`admit_new`."""
        await self.refresh()
        return await self.admit_new(content, recipients, mail_from, helo=helo)

    async def refresh(self) -> None:
        """Read the routing table again if the rules or the directory changed."""
        if self.tables.needs_reload():
            await asyncio.to_thread(self.tables.reload)

    async def admit_new(self, content: bytes, recipients: list[str], mail_from: str = "", *,
                        origin: str = "", quiet: bool = False, helo: str = "",
                        received_at: datetime | None = None) -> Admitted:
        """Store a message whose ``origin`` was found not stored (:func:`stored_origins`),
        with the routing table as last :meth:`refresh` read.

        A door that does not check (``checked`` False) hands the message to the store before
        it first waits, so messages admitted together (``asyncio.gather``) are stored in the
        order they were given."""
        table = self.tables.table
        routings = [route(address, table, sender=mail_from) for address in recipients]
        for address, routing in zip(recipients, routings, strict=True):
            refused = recipient_refusal(routing)
            if refused:
                whoever_sends = not mail_from or bool(recipient_refusal(route(address, table)))
                return Admitted(refused, refuses_recipient=whoever_sends)
        arrival = Arrival(content, mail_from, table, routings, helo=helo or self.source,
                          protocol=self.source.upper(), source=self.source, origin=origin,
                          quiet=quiet, checked=self.checked)
        if received_at is not None:
            arrival.received_at = received_at
        return await self.admission.admit(arrival)

"""What the steps of filing share: the batch of arrivals, and what was read for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from casegate.desk.arrivals import DeskArrival, Filed
from casegate.desk.authorship import Authorship
from casegate.desk.models import Case, CaseEvent, Contact, Lead
from casegate.desk.threading import ThreadHint
from casegate.routing.engine import RoutingTable
from casegate.spool.messages import AcceptedMessage


@dataclass
class Prefetched:
    """What filing a batch needs to read, read before the writing transaction starts.

    ``seen``: (Message-ID, sender, subject) of the messages stored already; ``found``: the
    conversations the arrivals can point at, by ``c<number>``, ``l<number>`` and by the
    Message-IDs of their messages. ``hints`` and ``authorship``: one per arrival.
    """

    seen: set[tuple[str, str, str]]
    hints: list[ThreadHint]
    found: dict[str, Case | Lead]
    contacts: dict[str, Contact]
    authorship: list[Authorship]


@dataclass
class Batch:
    """A batch of arrivals being filed: one :class:`Filed` each, in the order they came.

    The steps read and extend what was prefetched (``seen``, ``found``, ``contacts``),
    collect the case history to write (``events``) and the mail to queue (``outgoing``).
    """

    filed: list[Filed]
    table: RoutingTable
    hostname: str
    seen: set[tuple[str, str, str]]
    found: dict[str, Case | Lead]
    contacts: dict[str, Contact]
    now: datetime = field(default_factory=timezone.now)
    events: list[CaseEvent] = field(default_factory=list)
    outgoing: list[AcceptedMessage] = field(default_factory=list)

    @classmethod
    def start(cls, arrivals: list[DeskArrival], known: Prefetched, table: RoutingTable,
              hostname: str) -> Batch:
        filed = [Filed(arrival, hint, authorship) for arrival, hint, authorship
                 in zip(arrivals, known.hints, known.authorship, strict=True)]
        return cls(filed, table, hostname, set(known.seen), dict(known.found),
                   dict(known.contacts))

    @property
    def stored(self) -> list[Filed]:
        """The arrivals that are not duplicates, so go to a conversation."""
        return [item for item in self.filed if not item.duplicate]


Step = Callable[[Batch], None]
ArrivalStep = Callable[[Batch, Filed], None]


def each_arrival(*steps: ArrivalStep) -> Step:
    """A step that runs ``steps`` on one arrival after the other, each arrival through all
    of them before the next: an arrival can answer one filed just before it in the batch.
    A duplicate goes no further."""

    def run(batch: Batch) -> None:
        for item in batch.filed:
            for step in steps:
                if item.duplicate:
                    break
                step(batch, item)

    return run

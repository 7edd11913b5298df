"""What the steps of filing share: the batch of arrivals, and what was read for it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.utils import timezone

from casegate.desk.arrivals import DeskArrival, Filed
from casegate.desk.authorship import Authorship
from casegate.desk.models import Case, CaseEvent, Contact, Lead
from casegate.desk.threading import ThreadHint
from casegate.routing.engine import AddressListEntries, RoutingTable
from casegate.spool.messages import AcceptedMessage


@dataclass
class SuspensionFacts:
    """What deciding whether to suspend an arrival reads (see
    :mod:`casegate.desk.filing.suspension`): the senders each intake blocks, by intake id;
    how many conversations each (sender, intake id) opened in the last hour; and the
    (queue id, recipient) pairs of spam a person released from the quarantine."""

    blocked: dict[int, AddressListEntries] = field(default_factory=dict)
    recent: Counter[tuple[str, int]] = field(default_factory=Counter)
    released: set[tuple[str, str]] = field(default_factory=set)


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
    suspension: SuspensionFacts = field(default_factory=SuspensionFacts)


@dataclass
class Batch:
    """A batch of arrivals being filed: one :class:`Filed` each, in the order they came.

    The steps read and extend what was prefetched (``seen``, ``found``, ``contacts``,
    ``suspension``), collect the case history to write (``events``) and the mail to queue
    (``outgoing``).
    """

    filed: list[Filed]
    table: RoutingTable
    hostname: str
    seen: set[tuple[str, str, str]]
    found: dict[str, Case | Lead]
    contacts: dict[str, Contact]
    suspension: SuspensionFacts = field(default_factory=SuspensionFacts)
    now: datetime = field(default_factory=timezone.now)
    events: list[CaseEvent] = field(default_factory=list)
    outgoing: list[AcceptedMessage] = field(default_factory=list)

    @classmethod
    def start(cls, arrivals: list[DeskArrival], known: Prefetched, table: RoutingTable,
              hostname: str) -> Batch:
        filed = [Filed(arrival, hint, authorship) for arrival, hint, authorship
                 in zip(arrivals, known.hints, known.authorship, strict=True)]
        return cls(filed, table, hostname, set(known.seen), dict(known.found),
                   dict(known.contacts),
                   replace(known.suspension, recent=Counter(known.suspension.recent)))

    @property
    def stored(self) -> list[Filed]:
        """The arrivals that go to a conversation: neither duplicates nor suspended."""
        return [item for item in self.filed if not item.duplicate and not item.suspended]


Step = Callable[[Batch], None]
ArrivalStep = Callable[[Batch, Filed], None]


def each_arrival(*steps: ArrivalStep) -> Step:
    """A step that runs ``steps`` on one arrival after the other, each arrival through all
    of them before the next: an arrival can answer one filed just before it in the batch.
    A duplicate, or an arrival suspended, goes no further."""

    def run(batch: Batch) -> None:
        for item in batch.filed:
            for step in steps:
                if item.duplicate or item.suspended:
                    break
                step(batch, item)

    return run

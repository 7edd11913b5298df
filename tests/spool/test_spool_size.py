"""The worker's looks at the queue (claiming, how long to sleep, which reports are due) cost
the same with a long history of delivered mail, or a long queue of deferred mail, as with a
short one: each reads by the state of the deliveries it wants, and only the due ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from casegate.delivery.bounces import queue_reports
from casegate.routing.snapshot import load_table
from casegate.spool.messages import AcceptedMessage, DeliveryRow, enqueue, new_queue_id
from casegate.spool.models import Delivery
from casegate.spool.queue import claim, seconds_until_due
from casegate.spool.vocabulary import DeliveryKind, DeliveryState
from tests.support import gather_statistics

pytestmark = pytest.mark.django_db

KINDS = (DeliveryKind.REMOTE,)


def history(count: int, state: str) -> None:
    """``count`` deliveries to partner.example: made a day ago, or deferred for an hour
    more (a next hop that has been down for a while)."""
    message = AcceptedMessage(
        queue_id=new_queue_id(), mail_from="ann@customer.example", rcpt_tos=["x@solarmora.com"],
        received_at=datetime.now(UTC), peer="127.0.0.1", helo="client.example", message_id="",
        spam=False, spam_reason="", raw=b"Subject: x\r\n\r\nbody\r\n",
        deliveries=[DeliveryRow("x@solarmora.com", f"to{n}@partner.example", "remote", None,
                                False, []) for n in range(count)])
    with transaction.atomic():
        enqueue([message])
    pending = Delivery.objects.filter(state=DeliveryState.PENDING)
    if state == DeliveryState.DELIVERED:
        day_ago = datetime.now(UTC) - timedelta(days=1)
        pending.update(state=state, created_at=day_ago, updated_at=day_ago)
    else:
        pending.update(state=state, next_attempt_at=datetime.now(UTC) + timedelta(hours=1))


def work_of_a_look(work: Callable[[], int]) -> int:
    before = work()
    claim(KINDS, 100, 60.0)
    seconds_until_due(KINDS, 5.0)
    queue_reports(load_table(), "mx.solarmora.com", delay_warning=3600.0)
    return work() - before


@pytest.mark.parametrize("state", [DeliveryState.DELIVERED, DeliveryState.DEFERRED])
def test_the_workers_looks_do_not_read_every_delivery_made_or_waiting(
        state: str, database_work: Callable[[], int]) -> None:
    history(50, state)
    gather_statistics()
    work_of_a_look(database_work)  # the first reads the routing table
    short = work_of_a_look(database_work)
    history(5000, state)
    gather_statistics()
    long = work_of_a_look(database_work)
    assert long < short * 1.5 + 5, (short, long)

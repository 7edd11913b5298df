"""The worker's looks at the queue (claiming, how long to sleep, which reports are due) cost
the same with a long history of delivered mail as with a short one: each reads by the
state of the deliveries it wants, never the whole table."""

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


def delivered_history(count: int) -> None:
    """``count`` deliveries made a day ago."""
    message = AcceptedMessage(
        queue_id=new_queue_id(), mail_from="ann@customer.example", rcpt_tos=["x@solarmora.com"],
        received_at=datetime.now(UTC), peer="127.0.0.1", helo="client.example", message_id="",
        spam=False, spam_reason="", raw=b"Subject: x\r\n\r\nbody\r\n",
        deliveries=[DeliveryRow("x@solarmora.com", f"to{n}@partner.example", "remote", None,
                                False, []) for n in range(count)])
    with transaction.atomic():
        enqueue([message])
    day_ago = datetime.now(UTC) - timedelta(days=1)
    Delivery.objects.filter(state=DeliveryState.PENDING).update(
        state=DeliveryState.DELIVERED, created_at=day_ago, updated_at=day_ago)


def work_of_a_look(work: Callable[[], int]) -> int:
    before = work()
    claim(KINDS, 100, 60.0)
    seconds_until_due(KINDS, 5.0)
    queue_reports(load_table(), "mx.solarmora.com", delay_warning=3600.0)
    return work() - before


def test_the_workers_looks_do_not_read_the_delivered_history(
        database_work: Callable[[], int]) -> None:
    delivered_history(50)
    gather_statistics()
    work_of_a_look(database_work)  # the first reads the routing table
    short = work_of_a_look(database_work)
    delivered_history(5000)
    gather_statistics()
    long = work_of_a_look(database_work)
    assert long < short * 1.5 + 5, (short, long)

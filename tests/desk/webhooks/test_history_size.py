"""Finding the events due costs the same with a long history of events sent as with a short
one, and with a long backlog of events waiting as with a short one: the worker's job reads
the calls it wants by their state and its claim, never all."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from casegate.desk.models import Webhook, WebhookCall
from casegate.desk.vocabulary import WebhookCallState
from casegate.desk.webhooks.hooks import add_webhook
from casegate.desk.webhooks.sending import _anything_due, claim_due
from tests.support import gather_statistics

pytestmark = pytest.mark.django_db


def calls(webhook: Webhook, count: int, state: str) -> None:
    """``count`` calls in ``state``; the delivered ones were claimed when they were sent."""
    now = timezone.now()
    WebhookCall.objects.bulk_create([WebhookCall(
        webhook=webhook, delivery_id=str(uuid.uuid4()), event="case_created", body="{}",
        state=state, due_at=now, created_at=now,
        claim=uuid.uuid4().hex if state == WebhookCallState.DELIVERED else "")
        for _ in range(count)])


def work_to_claim(webhook: Webhook, work: Callable[[], int]) -> int:
    calls(webhook, 3, WebhookCallState.PENDING)
    before = work()
    claimed = claim_due()
    done = work() - before
    assert len(claimed) == 3
    WebhookCall.objects.filter(pk__in=[c.id for c in claimed]).update(  # as if sent
        state=WebhookCallState.DELIVERED, lease_until=None)
    return done


def test_claiming_does_not_read_the_calls_sent_before(
        database_work: Callable[[], int]) -> None:
    webhook = add_webhook("crm", "http://127.0.0.1:9/hook", ["case_created"]).webhook
    calls(webhook, 50, WebhookCallState.DELIVERED)
    gather_statistics()
    work_to_claim(webhook, database_work)
    short = work_to_claim(webhook, database_work)
    calls(webhook, 5000, WebhookCallState.DELIVERED)
    gather_statistics()
    long = work_to_claim(webhook, database_work)
    assert long < short * 1.5 + 5, (short, long)


def test_a_backlog_waiting_for_its_receiver_is_not_read(
        database_work: Callable[[], int]) -> None:
    waiting = add_webhook("down", "http://127.0.0.1:9/hook", ["case_created"]).webhook
    paused = add_webhook("paused", "http://127.0.0.1:9/hook", ["case_created"]).webhook
    calls(waiting, 1, WebhookCallState.PENDING)
    WebhookCall.objects.update(due_at=timezone.now() + timedelta(hours=1))  # its retry
    Webhook.objects.filter(pk=paused.pk).update(paused_at=timezone.now())

    def work_to_look(backlog: int) -> int:
        calls(waiting, backlog, WebhookCallState.PENDING)
        calls(paused, backlog, WebhookCallState.PENDING)
        gather_statistics()
        before = database_work()
        assert not _anything_due() and claim_due() == []
        return database_work() - before

    short = work_to_look(20)
    long = work_to_look(5000)
    assert long < short * 1.5 + 5, (short, long)

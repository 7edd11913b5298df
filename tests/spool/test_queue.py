"""The queue keeps each delivery's edits as earlier versions stored them, and tells an idle
worker how long it may sleep."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from casegate.spool.copy_edits import CopyEdits
from casegate.spool.messages import AcceptedMessage, DeliveryRow, enqueue, new_queue_id
from casegate.spool.models import Delivery, Message
from casegate.spool.queue import MIN_SLEEP, claim, seconds_until_due
from casegate.spool.vocabulary import DeliveryState

pytestmark = pytest.mark.django_db

EDITS = CopyEdits((("X-Team", "support"), ("X-Note", "café")), "[Ext]", True, True)
STORED = ('{"headers": [["X-Team", "support"], ["X-Note", "caf\\u00e9"]],'
          ' "subject_prefix": "[Ext]", "remove_attachments": true, "require_tls": true}')


def queue(*edits: CopyEdits) -> None:
    message = AcceptedMessage(
        queue_id=new_queue_id(), mail_from="ann@customer.example", rcpt_tos=["x@solarmora.com"],
        received_at=datetime.now(UTC), peer="127.0.0.1", helo="client.example", message_id="",
        spam=False, spam_reason="", raw=b"Subject: x\r\n\r\nbody\r\n",
        deliveries=[DeliveryRow("x@solarmora.com", f"to{i}@partner.example", "remote", None,
                                False, [], edits=e) for i, e in enumerate(edits)])
    with transaction.atomic():
        enqueue([message])


def test_edits_are_stored_as_before_and_read_back() -> None:
    queue(EDITS, CopyEdits())
    with connection.cursor() as cursor:
        cursor.execute("SELECT edits FROM delivery_delivery ORDER BY id")
        stored = [row[0] for row in cursor.fetchall()]
    if connection.vendor == "sqlite":  # PostgreSQL's jsonb keeps its own form
        assert stored == [STORED, "{}"]
    assert [item.edits for item in claim(("remote",), 10, 60)] == [EDITS, CopyEdits()]


def test_rows_an_earlier_version_wrote_are_read() -> None:
    queue(CopyEdits(), CopyEdits())
    # A copy two recipients led to had its keys in the order their edits had them.
    earlier = [json.loads('{"require_tls": true, "headers": [["X-B", "2"], ["X-A", "1"]]}'), {}]
    for row_id, edits in zip(Delivery.objects.order_by("id").values_list("id", flat=True),
                             earlier, strict=True):
        Delivery.objects.filter(id=row_id).update(edits=edits)
    assert [item.edits for item in claim(("remote",), 10, 60)] == [
        CopyEdits((("X-B", "2"), ("X-A", "1")), require_tls=True), CopyEdits()]


def test_an_empty_queue_lets_the_worker_sleep_the_longest() -> None:
    assert seconds_until_due(("remote",), 5.0) == 5.0


def test_a_worker_sleeps_until_the_next_retry_of_its_kinds() -> None:
    queue(CopyEdits(), CopyEdits())
    first, second = Delivery.objects.order_by("id")
    Delivery.objects.filter(id=first.id).update(
        state=DeliveryState.DEFERRED, next_attempt_at=timezone.now() + timedelta(seconds=2))
    Delivery.objects.filter(id=second.id).update(state=DeliveryState.DELIVERED)
    assert 1.0 < seconds_until_due(("remote",), 5.0) <= 2.0
    assert seconds_until_due(("desk", "mailbox"), 5.0) == 5.0


def test_a_lease_that_runs_out_wakes_the_worker_and_nothing_due_spins_it() -> None:
    queue(CopyEdits())
    claim(("remote",), 10, 1.5)
    assert 0.5 < seconds_until_due(("remote",), 5.0) <= 1.5
    Delivery.objects.update(state=DeliveryState.PENDING,
                            next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert seconds_until_due(("remote",), 5.0) == MIN_SLEEP


def test_an_empty_envelope_sender_is_the_null_sender_only_where_the_envelope_is_real() -> None:
    from casegate.spool.vocabulary import Source

    for source, mail_from in ((Source.SMTP, ""), (Source.LMTP, ""), (Source.SMTP, "a@b.example"),
                              (Source.MAILBOX, ""), (Source.IMPORT, ""), (Source.PIPE, "")):
        message = AcceptedMessage(
            queue_id=new_queue_id(), mail_from=mail_from, rcpt_tos=["x@solarmora.com"],
            received_at=datetime.now(UTC), peer="", helo="", message_id="", spam=False,
            spam_reason="", raw=b"Subject: x\r\n\r\nbody\r\n", source=source,
            deliveries=[DeliveryRow("x@solarmora.com", "x@solarmora.com", "remote", None,
                                    False, [])])
        with transaction.atomic():
            enqueue([message])
    claimed = claim(("remote",), 10, 60)
    assert [item.null_sender for item in claimed] == [True, True, False, False, False, False]


def test_on_postgresql_a_claim_s_lease_runs_on_the_database_s_clock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("one SQLite database has one host, and so one clock")
    queue(CopyEdits())
    [first] = claim(("remote",), 10, 300)
    ahead = timezone.now() + timedelta(minutes=10)
    monkeypatch.setattr("casegate.spool.queue.timezone.now", lambda: ahead)
    assert claim(("remote",), 10, 300) == []  # another host, its clock ten minutes ahead
    Delivery.objects.filter(id=first.id).update(lease_until=timezone.now() - timedelta(1))
    assert [item.id for item in claim(("remote",), 10, 300)] == [first.id]


def test_mail_let_through_long_after_it_came_has_its_whole_lifetime_ahead() -> None:
    from casegate.config import get_config
    from casegate.delivery.worker import temporary_failure

    queue(CopyEdits())
    Message.objects.update(received_at=timezone.now() - timedelta(days=6))
    [released] = claim(("remote",), 10, 60)  # its delivery made just now, as a release does
    assert temporary_failure(released, "451 4.3.0 try again", get_config()).state == "deferred"
    Delivery.objects.update(state=DeliveryState.PENDING, next_attempt_at=timezone.now(),
                            created_at=timezone.now() - timedelta(days=6))
    [old] = claim(("remote",), 10, 60)
    assert temporary_failure(old, "451 4.3.0 try again", get_config()).state == "expired"

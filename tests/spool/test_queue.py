"""The queue keeps each delivery's edits as earlier versions stored them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from casegate.spool.copy_edits import CopyEdits
from casegate.spool.messages import AcceptedMessage, DeliveryRow, enqueue, new_queue_id
from casegate.spool.models import Delivery
from casegate.spool.queue import claim

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

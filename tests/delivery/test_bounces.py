"""The status fields of a delivery report (RFC 3464): the status code and the next hop are
read from the recorded reply, whatever the next hop is called."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from casegate.delivery.bounces import FAILED, _recipient_fields, status_of
from casegate.spool.models import Delivery


def ended(state: str, last_reply: str) -> Delivery:
    return Delivery(recipient="bo@acme.example", state=state, last_reply=last_reply,
                    updated_at=timezone.now())


def test_the_status_is_what_the_next_hop_said_not_a_part_of_its_address() -> None:
    refused = ended(Delivery.BOUNCED, "10.2.3.4 said: 550 5.1.1 <bo@acme.example>: no such user")
    assert status_of(refused) == "5.1.1"
    fields = _recipient_fields(refused, FAILED.action)
    assert fields["Remote-MTA"] == "dns; 10.2.3.4"
    assert fields["Diagnostic-Code"] == "smtp; 550 5.1.1 <bo@acme.example>: no such user"
    waiting = ended(Delivery.DEFERRED, "10.4.5.6 said: 451 try again later")
    assert status_of(waiting) == "4.0.0"


def test_an_expired_delivery_names_the_next_hop_alone() -> None:
    expired = ended(Delivery.EXPIRED, "5.4.7 delivery time expired; last error:"
                                      " mx.acme.example said: 450 4.2.0 mailbox busy")
    assert status_of(expired) == "5.4.7"
    fields = _recipient_fields(expired, FAILED.action)
    assert fields["Remote-MTA"] == "dns; mx.acme.example"
    assert fields["Diagnostic-Code"] == "smtp; 450 4.2.0 mailbox busy"
    unanswered = ended(Delivery.EXPIRED, "5.4.7 delivery time expired; last error:"
                                         " connection refused")
    assert status_of(unanswered) == "5.4.7" and "Remote-MTA" not in _recipient_fields(
        unanswered, FAILED.action)


@pytest.mark.django_db
def test_no_report_goes_to_the_sender_of_spam_who_is_most_likely_forged() -> None:
    from casegate.delivery.bounces import queue_reports
    from casegate.directory.services import add_domain
    from casegate.routing.snapshot import load_table
    from casegate.spool.messages import AcceptedMessage, DeliveryRow, enqueue, new_queue_id
    from casegate.spool.vocabulary import DeliveryState, DsnState

    add_domain("solarmora.com")
    for spam in (True, False):
        message = AcceptedMessage(
            queue_id=new_queue_id(), mail_from="victim@example.org", rcpt_tos=["x@solarmora.com"],
            received_at=timezone.now(), peer="192.0.2.1", helo="client.example", message_id="",
            spam=spam, spam_reason="dmarc=fail" if spam else "", raw=b"Subject: x\r\n\r\nbody\r\n",
            deliveries=[DeliveryRow("x@solarmora.com", "crm@partner.example", "remote", None,
                                    False, [])])
        with transaction.atomic():
            enqueue([message])
        Delivery.objects.filter(message_id=message.queue_id).update(
            state=DeliveryState.BOUNCED, dsn_state=DsnState.PENDING,
            last_reply="550 5.1.1 no such user")
    assert queue_reports(load_table(), "mx.solarmora.com") == 1  # for the mail that was ham
    spam_delivery = Delivery.objects.get(message__spam=True, kind="remote")
    assert spam_delivery.dsn_state == DsnState.SUPPRESSED

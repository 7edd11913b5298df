"""The status fields of a delivery report (RFC 3464): the status code and the next hop are
read from the recorded reply, whatever the next hop is called."""

from __future__ import annotations

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

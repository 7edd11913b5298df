"""Queue age: how long the oldest message still waiting to be delivered has waited."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from casegate.doctor.base import Finding, Host
from casegate.doctor.vocabulary import CheckStatus
from casegate.spool.models import Delivery
from casegate.spool.vocabulary import DeliveryState

NAME = "queue age"
WARN_AFTER = timedelta(hours=1)
FAIL_AFTER = timedelta(days=1)


def check(host: Host) -> Finding:
    waiting = Delivery.objects.filter(state__in=(DeliveryState.PENDING, DeliveryState.DEFERRED))
    oldest = waiting.order_by("message__received_at").values_list(
        "message__received_at", "recipient", "last_reply").first()
    if oldest is None:
        return Finding(NAME, host.name, CheckStatus.OK, "nothing waits to be delivered")
    received_at, recipient, last_reply = oldest
    age = timezone.now() - received_at
    waited = f"{age.total_seconds() / 3600:.1f} hours" if age >= WARN_AFTER \
        else f"{age.total_seconds():.0f} seconds"
    explanation = (f"{waiting.count()} deliveries wait; the oldest, to {recipient}, for"
                   f" {waited}{f' (last reply: {last_reply})' if last_reply else ''}")
    if age >= FAIL_AFTER:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{explanation}: see casegate queue list --state deferred")
    if age >= WARN_AFTER:
        return Finding(NAME, host.name, CheckStatus.WARNING, explanation)
    return Finding(NAME, host.name, CheckStatus.OK, explanation)

"""The delivery app's models: transports; the queue's deliveries, their attempts and
operators' actions (defined in the spool) and DKIM signing keys (defined in signing) are
registered here."""

from __future__ import annotations

from django.db import models

from casegate.signing.models import SigningKey
from casegate.spool.models import Delivery, DeliveryAttempt, QueueAction

__all__ = ["Delivery", "DeliveryAttempt", "QueueAction", "SigningKey", "Transport"]


class Transport(models.Model):
    """A next hop for a destination domain, overriding MX (Postfix's transport map)."""

    domain = models.CharField(max_length=253, unique=True)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=25)
    require_tls = models.BooleanField(
        default=False, help_text="defer rather than send in clear when the host lacks STARTTLS")

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return f"{self.domain} → {self.host}:{self.port}"

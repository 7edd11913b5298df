"""The delivery app's models: DKIM signing keys and transports; the queue's deliveries, their
attempts and operators' actions are defined in the spool and registered here."""

from __future__ import annotations

from django.db import models

from casegate.spool.models import Delivery, DeliveryAttempt, QueueAction

__all__ = ["Delivery", "DeliveryAttempt", "QueueAction", "SigningKey", "Transport"]


class SigningKey(models.Model):
    """A DKIM key of one of the company's domains, used to ARC-seal forwarded mail.

    Kept in the database so every gateway and worker host signs with the same key.
    """

    domain = models.CharField(max_length=253)
    selector = models.CharField(max_length=63)
    private_key = models.TextField(help_text="PEM (PKCS#8)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "selector"], name="unique_signing_key")
        ]
        ordering = ["domain", "-created_at"]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"


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

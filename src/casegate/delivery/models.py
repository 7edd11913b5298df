from __future__ import annotations

from django.db import models

from casegate.delivery.vocabulary import FINAL_FAILURES, DeliveryKind, DeliveryState, DsnState


class Delivery(models.Model):
    """One final recipient of one message, and where its delivery stands."""

    # Short names the delivery worker uses; DeliveryState has every state.
    DEFERRED = DeliveryState.DEFERRED
    DELIVERED = DeliveryState.DELIVERED
    BOUNCED = DeliveryState.BOUNCED
    EXPIRED = DeliveryState.EXPIRED
    FAILED = DeliveryState.FAILED
    FINAL_FAILURES = FINAL_FAILURES

    message = models.ForeignKey(
        "gateway.Message", on_delete=models.CASCADE, related_name="deliveries"
    )
    original_recipient = models.CharField(max_length=320)
    recipient = models.CharField(max_length=320)
    kind = models.CharField(max_length=10, choices=DeliveryKind.choices)
    intake_id = models.BigIntegerField(null=True, blank=True)
    junk = models.BooleanField(default=False)
    relay = models.CharField(
        max_length=300, blank=True, default="",
        help_text="smtp:HOST:PORT or lmtp:HOST:PORT of the domain's mail store, when it has one",
    )
    rules = models.JSONField(default=list, blank=True)
    edits = models.JSONField(
        default=dict, blank=True,
        help_text="what the rules change in this copy: headers, subject_prefix, "
                  "remove_attachments, require_tls")
    state = models.CharField(max_length=10, choices=DeliveryState.choices,
                             default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_reply = models.TextField(blank=True, default="")
    notify = models.CharField(max_length=40, blank=True, default="",
                              help_text="DSN NOTIFY from RCPT TO (empty: failures only)")
    orcpt = models.CharField(max_length=500, blank=True, default="",
                             help_text="DSN ORCPT from RCPT TO")
    dsn_state = models.CharField(max_length=10, choices=DsnState.choices, blank=True,
                                 default=DsnState.NONE, db_index=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["state", "kind", "next_attempt_at"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["state", "updated_at"]),
            models.Index(fields=["original_recipient", "created_at"]),
            models.Index(fields=["recipient", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.pk} to {self.recipient} ({self.state})"


class DeliveryAttempt(models.Model):
    """One try at a delivery: when, where, how long, and what the other side said."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration = models.FloatField(help_text="seconds")
    host = models.CharField(max_length=300, blank=True, default="")
    outcome = models.CharField(max_length=10)
    reply = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]


class QueueAction(models.Model):
    """An operator's change to a delivery (retry, hold, release, delete), for the audit trail."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=10)
    reason = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]


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

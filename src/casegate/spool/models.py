"""The queue's tables: accepted messages, held mail, deliveries, their attempts and the
operators' actions on them.

Each model keeps the app label and table it has always had (see the package's docstring):
the ``gateway`` and ``delivery`` apps import them so Django registers them there.
"""

from __future__ import annotations

from django.db import models

from casegate.mail.headers import SHOWN_LENGTH
from casegate.spool.vocabulary import FINAL_FAILURES, DeliveryKind, DeliveryState, DsnState, Source


class Message(models.Model):
    """A message the gateway acknowledged with 250, stored whole before that reply."""

    queue_id = models.CharField(max_length=32, primary_key=True)
    mail_from = models.CharField(max_length=320, blank=True, default="")
    rcpt_tos = models.JSONField(default=list)
    received_at = models.DateTimeField(db_index=True)
    peer = models.CharField(max_length=100, blank=True, default="")
    helo = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveIntegerField(default=0)
    message_id = models.CharField(max_length=998, blank=True, default="", db_index=True)
    subject = models.CharField(max_length=SHOWN_LENGTH, blank=True, default="",
                               help_text="the Subject header, decoded")
    from_header = models.CharField(max_length=SHOWN_LENGTH, blank=True, default="",
                                   help_text="the From header, decoded")
    spam = models.BooleanField(default=False)
    spam_reason = models.CharField(max_length=200, blank=True, default="")
    auth_results = models.TextField(
        blank=True, default="",
        help_text="the Authentication-Results header value the gateway added on arrival")
    spam_report = models.JSONField(
        default=dict, blank=True,
        help_text="the classifier's report: classifier, action, score, required score, symbols")
    dsn_ret = models.CharField(max_length=4, blank=True, default="",
                               help_text="DSN RET from MAIL FROM: FULL or HDRS")
    dsn_envid = models.CharField(max_length=100, blank=True, default="")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SMTP,
                              db_default=Source.SMTP)
    origin = models.CharField(
        max_length=500, blank=True, default="", db_default="",
        help_text="where this copy came from, when it can come again (a mailbox's message,"
                  " an imported file): a second copy with the same origin is not stored")
    quiet = models.BooleanField(
        default=False, db_default=False,
        help_text="filed at the desk without acknowledgement or notification (old mail)")
    raw = models.BinaryField()

    class Meta:
        app_label = "gateway"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["origin"], condition=~models.Q(origin=""),
                                    name="gateway_message_one_per_origin"),
        ]

    def __str__(self) -> str:
        return self.queue_id


class Quarantine(models.Model):
    """Mail for one recipient held back (spam not re-routed); released or deleted by a person."""

    HELD = "held"
    RELEASED = "released"
    DELETED = "deleted"
    STATE_CHOICES = [(HELD, "held"), (RELEASED, "released"), (DELETED, "deleted")]

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="quarantined")
    recipient = models.CharField(max_length=320)
    reason = models.CharField(max_length=500)
    notify = models.CharField(max_length=40, blank=True, default="")
    orcpt = models.CharField(max_length=500, blank=True, default="")
    state = models.CharField(max_length=10, choices=STATE_CHOICES, default=HELD, db_index=True)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "gateway"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"quarantine #{self.pk} for {self.recipient}"


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
        Message, on_delete=models.CASCADE, related_name="deliveries"
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
                                 default=DsnState.NONE)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "delivery"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["state", "kind", "next_attempt_at"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["state", "updated_at"]),
            models.Index(fields=["original_recipient", "created_at"]),
            models.Index(fields=["recipient", "created_at"]),
            # The reports due: failures (few) and, with CASEGATE_DELAY_WARNING, deliveries
            # deferred since before a time. By dsn_state alone, the second would read every
            # delivery that never needed a report.
            models.Index(fields=["dsn_state", "state", "created_at"],
                         name="delivery_reports_due"),
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
        app_label = "delivery"
        ordering = ["id"]


class QueueAction(models.Model):
    """An operator's change to a delivery (retry, hold, release, delete), for the audit trail."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=10)
    reason = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        app_label = "delivery"
        ordering = ["id"]

from __future__ import annotations

from django.db import models


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
    spam = models.BooleanField(default=False)
    spam_reason = models.CharField(max_length=200, blank=True, default="")
    dsn_ret = models.CharField(max_length=4, blank=True, default="",
                               help_text="DSN RET from MAIL FROM: FULL or HDRS")
    dsn_envid = models.CharField(max_length=100, blank=True, default="")
    raw = models.BinaryField()

    class Meta:
        ordering = ["-received_at"]

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
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"quarantine #{self.pk} for {self.recipient}"

from __future__ import annotations

from django.db import models


class Rule(models.Model):
    """A default-routing rule, as in the article's admin console."""

    MATCH_ADDRESS = "address"
    MATCH_PATTERN = "pattern"
    MATCH_ALL = "all"
    MATCH_CHOICES = [
        (MATCH_ADDRESS, "single recipient"),
        (MATCH_PATTERN, "pattern (regular expression)"),
        (MATCH_ALL, "all recipients"),
    ]

    REWRITE_NONE = ""
    REWRITE_RECIPIENT = "recipient"
    REWRITE_USER = "user"
    REWRITE_DOMAIN = "domain"
    REWRITE_CHOICES = [
        (REWRITE_NONE, "keep the envelope recipient"),
        (REWRITE_RECIPIENT, "replace recipient"),
        (REWRITE_USER, "replace username"),
        (REWRITE_DOMAIN, "replace domain"),
    ]

    APPLY_ALL = "all"
    APPLY_RECOGNIZED = "recognized"
    APPLY_UNRECOGNIZED = "unrecognized"
    APPLY_CHOICES = [
        (APPLY_ALL, "recognized and unrecognized addresses"),
        (APPLY_RECOGNIZED, "recognized addresses only"),
        (APPLY_UNRECOGNIZED, "unrecognized addresses only"),
    ]

    ACTION_MODIFY = "modify"
    ACTION_REJECT = "reject"
    ACTION_QUARANTINE = "quarantine"
    ACTION_CHOICES = [
        (ACTION_MODIFY, "modify the message"),
        (ACTION_REJECT, "reject the message"),
        (ACTION_QUARANTINE, "send to quarantine"),
    ]

    position = models.PositiveIntegerField(help_text="1 is the highest priority")
    action = models.CharField(max_length=10, choices=ACTION_CHOICES, default=ACTION_MODIFY)
    reject_text = models.CharField(max_length=300, blank=True, default="",
                                   help_text="the SMTP reply's text when the action is reject")
    description = models.CharField(max_length=500, blank=True, default="")
    enabled = models.BooleanField(default=True)
    match_type = models.CharField(max_length=10, choices=MATCH_CHOICES)
    match_value = models.CharField(max_length=1000, blank=True, default="")
    rewrite = models.CharField(max_length=10, choices=REWRITE_CHOICES, blank=True, default="")
    rewrite_value = models.CharField(max_length=320, blank=True, default="")
    bypass_spam = models.BooleanField(default=False)
    also_deliver = models.JSONField(default=list, blank=True)
    apply_to = models.CharField(max_length=12, choices=APPLY_CHOICES, default=APPLY_ALL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["match_type", "match_value"])]

    def __str__(self) -> str:
        return f"rule #{self.pk} ({self.match_type} {self.match_value})".strip()


class RoutingVersion(models.Model):
    """One row whose number grows with every change to rules or the directory.

    Each gateway process compares it before a mail transaction and reloads its
    in-memory routing table when it moved, so a saved rule applies to the next message.
    """

    version = models.BigIntegerField(default=1)

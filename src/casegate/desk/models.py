from __future__ import annotations

from django.db import models


class Intake(models.Model):
    """An address of the desk: mail delivered to it opens a case or a lead."""

    CASE = "case"
    LEAD = "lead"
    KIND_CHOICES = [(CASE, "case"), (LEAD, "lead")]

    address = models.CharField(max_length=320, unique=True)
    kind = models.CharField(max_length=4, choices=KIND_CHOICES, default=CASE)
    name = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} intake {self.address}"


class Conversation(models.Model):
    """What cases and leads share: who asked, through which intake, from which message."""

    intake = models.ForeignKey(Intake, on_delete=models.PROTECT)
    subject = models.CharField(max_length=998, blank=True, default="")
    requester = models.CharField(max_length=320, blank=True, default="")
    requester_name = models.CharField(max_length=200, blank=True, default="")
    original_recipient = models.CharField(max_length=320, blank=True, default="")
    message_id = models.CharField(max_length=998, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(db_index=True)
    received_at = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["-id"]


class Case(Conversation):
    NEW = "new"
    STATUS_CHOICES = [
        ("new", "new"),
        ("open", "open"),
        ("pending", "pending"),
        ("solved", "solved"),
        ("closed", "closed"),
    ]
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=NEW)

    def __str__(self) -> str:
        return f"CG-{self.pk}: {self.subject}"


class Lead(Conversation):
    NEW = "new"
    STATUS_CHOICES = [
        ("new", "new"),
        ("working", "working"),
        ("qualified", "qualified"),
        ("converted", "converted"),
        ("disqualified", "disqualified"),
    ]
    status = models.CharField(max_length=12, choices=STATUS_CHOICES, default=NEW)

    def __str__(self) -> str:
        return f"lead {self.pk}: {self.subject}"


class DeskMessage(models.Model):
    """One message in a case's or a lead's thread."""

    INBOUND = "inbound"
    DIRECTION_CHOICES = [(INBOUND, "inbound"), ("outbound", "outbound"), ("note", "internal note")]

    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="messages")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="messages")
    direction = models.CharField(max_length=10, choices=DIRECTION_CHOICES, default=INBOUND)
    queue_id = models.CharField(max_length=32, blank=True, default="")
    message_id = models.CharField(max_length=998, blank=True, default="")
    subject = models.CharField(max_length=998, blank=True, default="")
    sender = models.CharField(max_length=320, blank=True, default="")
    sender_name = models.CharField(max_length=200, blank=True, default="")
    text = models.TextField(blank=True, default="")
    html = models.TextField(blank=True, default="", help_text="sanitized with nh3")
    parse_problems = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]


class Attachment(models.Model):
    message = models.ForeignKey(DeskMessage, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=500, blank=True, default="")
    content_type = models.CharField(max_length=200, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    content_id = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]

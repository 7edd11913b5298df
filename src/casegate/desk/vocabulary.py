"""The words the desk stores: intake kinds, case and lead statuses, priorities, directions.

Free of models so the command line can offer them as choices before Django is set up.
"""

from __future__ import annotations

from django.db import models


class IntakeKind(models.TextChoices):
    """What mail to an intake address opens."""

    CASE = "case", "case"
    LEAD = "lead", "lead"


class CaseStatus(models.TextChoices):
    NEW = "new", "new"
    OPEN = "open", "open"
    PENDING = "pending", "pending"
    SOLVED = "solved", "solved"
    CLOSED = "closed", "closed"


class LeadStatus(models.TextChoices):
    NEW = "new", "new"
    WORKING = "working", "working"
    QUALIFIED = "qualified", "qualified"
    CONVERTED = "converted", "converted"
    DISQUALIFIED = "disqualified", "disqualified"


# A lead in one of these statuses has left the pipeline: it is converted no more.
FINISHED_LEAD_STATUSES = (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)


class Priority(models.TextChoices):
    LOW = "low", "low"
    NORMAL = "normal", "normal"
    HIGH = "high", "high"
    URGENT = "urgent", "urgent"


class Direction(models.TextChoices):
    """Which way a message of a thread went."""

    INBOUND = "inbound", "inbound"
    OUTBOUND = "outbound", "outbound"
    AUTOMATIC = "automatic", "automatic reply"
    NOTE = "note", "internal note"


class ReplyDelivery(models.TextChoices):
    """Where an outbound message stands: handed to the queue, delivered, or failed."""

    QUEUED = "queued", "queued"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"

"""The words the desk stores: intake kinds, case and lead statuses, priorities, directions,
why and how mail is suspended.

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


# A case in one of these statuses is done: its resolution time runs until it got there.
DONE_CASE_STATUSES = (CaseStatus.SOLVED, CaseStatus.CLOSED)


class CaseChannel(models.TextChoices):
    """Where a case was opened: mail to an intake, or an agent in the console, the API or
    the command line (a split)."""

    MAIL = "mail", "mail"
    CONSOLE = "console", "console"
    API = "api", "API"
    COMMAND_LINE = "cli", "command line"


class CaseQueue(models.TextChoices):
    """The case list's queues: which cases it shows before any other filter."""

    ALL = "all", "All"
    MINE = "mine", "Mine"
    UNASSIGNED = "unassigned", "Unassigned"
    OPEN = "open", "Open"


# The case list's sortable columns: name in the list -> the field it orders by.
CASE_SORTS = {"id": "id", "subject": "subject", "requester": "requester", "status": "status",
              "priority": "priority", "assignee": "assignee__username",
              "created": "created_at", "updated": "updated_at"}


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


class SuspensionCause(models.TextChoices):
    """Why mail to an intake was set aside instead of opening a case or a lead."""

    SPAM = "spam", "spam"
    AUTO_MAILER = "auto_mailer", "from an auto-mailer"
    LOOP = "loop", "mail loop"
    BLOCKED_SENDER = "blocked_sender", "blocked sender"


class SuspensionState(models.TextChoices):
    """Where suspended mail stands: waiting for a person, recovered onto a case or lead,
    or deleted."""

    SUSPENDED = "suspended", "suspended"
    RECOVERED = "recovered", "recovered"
    DELETED = "deleted", "deleted"

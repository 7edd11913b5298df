"""The words the desk stores: intake kinds, case and lead statuses, priorities, directions,
why and how mail is suspended, satisfaction ratings, the texts an intake writes.

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
              "due": "sla_due_at", "created": "created_at", "updated": "updated_at"}


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


class WebhookCallState(models.TextChoices):
    """Where one event for a webhook stands: waiting to be sent (or retried), taken by the
    receiver, or given up after the last retry."""

    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    GAVE_UP = "gave_up", "gave up"


class WebhookAttemptOutcome(models.TextChoices):
    """What one attempt at a webhook came to."""

    DELIVERED = "delivered", "delivered"
    RETRY = "retry", "to be retried"
    GAVE_UP = "gave_up", "given up"
    TEST = "test", "test"


class SlaTarget(models.TextChoices):
    """What a service level times: from a new case to the first agent reply, from a
    customer's reply to the next agent reply, from a new case to its solving."""

    FIRST_RESPONSE = "first_response", "first response"
    NEXT_RESPONSE = "next_response", "next response"
    RESOLUTION = "resolution", "resolution"


class SlaStage(models.TextChoices):
    """What the SLA clock tells of a target: its due time is near, or has passed."""

    WARNING = "warning", "warning"
    BREACH = "breach", "breach"


# While a case is in one of these statuses its SLA clock stands still: pending waits on the
# customer, solved and closed on nothing (a solved case that reopens goes on from there).
SLA_PAUSED_STATUSES = (CaseStatus.PENDING, CaseStatus.SOLVED, CaseStatus.CLOSED)


class Rating(models.TextChoices):
    """A requester's answer to a satisfaction survey."""

    GOOD = "good", "good"
    BAD = "bad", "bad"


class DeskText(models.TextChoices):
    """The desk's own mail whose text an intake may write per language."""

    ACKNOWLEDGEMENT = "acknowledgement", "acknowledgement"
    SURVEY = "survey", "satisfaction survey"


class ReportDimension(models.TextChoices):
    """What a report groups cases by."""

    TEAM = "team", "team"
    AGENT = "agent", "agent"
    INTAKE = "intake", "intake"

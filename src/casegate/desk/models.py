from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import models

from casegate.desk.vocabulary import (
    CaseChannel,
    CaseStatus,
    DeskText,
    Direction,
    IntakeKind,
    LeadStatus,
    Priority,
    Rating,
    ReplyDelivery,
    SuspensionCause,
    SuspensionState,
    WebhookAttemptOutcome,
    WebhookCallState,
)


class Blob(models.Model):
    """Bytes named by their SHA-256 (see :mod:`casegate.desk.blobs`)."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    data = models.BinaryField(null=True, blank=True, help_text="empty when kept on disk")

    def __str__(self) -> str:
        return self.sha256


class Intake(models.Model):
    """An address of the desk: mail delivered to it opens a case or a lead."""

    # Short names the desk's filing uses; the vocabulary is IntakeKind.
    CASE = IntakeKind.CASE
    LEAD = IntakeKind.LEAD

    address = models.CharField(max_length=320, unique=True)
    kind = models.CharField(max_length=4, choices=IntakeKind.choices, default=IntakeKind.CASE)
    name = models.CharField(max_length=200, blank=True, default="")
    acknowledge = models.BooleanField(
        default=False, help_text="answer each new case with an acknowledgement")
    reply_from = models.CharField(
        max_length=320, blank=True, default="",
        help_text="From address of acknowledgements and replies (default: the address the "
                  "customer wrote to)")
    team = models.CharField(max_length=100, blank=True, default="",
                            help_text="the team new cases of this intake belong to")
    survey = models.BooleanField(
        default=False, help_text="mail the requester a satisfaction survey when a case is "
                                 "solved (once a case)")
    signature = models.TextField(
        blank=True, default="",
        help_text="added to agents' replies when the agent has no signature (placeholders "
                  "filled)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} intake {self.address}"


class IntakeText(models.Model):
    """An intake's own wording of one of the desk's mails in one language, used instead of
    the built-in text (see :mod:`casegate.desk.texts`)."""

    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="texts")
    kind = models.CharField(max_length=20, choices=DeskText.choices)
    language = models.CharField(max_length=8)
    subject = models.CharField(max_length=500)
    body = models.TextField()

    class Meta:
        ordering = ["intake_id", "kind", "language"]
        constraints = [models.UniqueConstraint(fields=["intake", "kind", "language"],
                                               name="desk_intake_text_once")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.language}) of {self.intake.address}"


class Agent(models.Model):
    """A user who works cases; their address is how an emailed reply is recognized."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="agent")
    teams = models.JSONField(default=list, blank=True)
    notify = models.BooleanField(default=True,
                                 help_text="mail a notification for each customer message")
    signature = models.TextField(blank=True, default="",
                                 help_text="added to the agent's replies, placeholders filled "
                                           "(empty: the intake's); {{agent.signature}} in "
                                           "macros' and triggers' replies")

    def __str__(self) -> str:
        return self.user.email or self.user.username


class Company(models.Model):
    """Contacts grouped by their mail domain (free-mail domains excluded)."""

    domain = models.CharField(max_length=253, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.name or self.domain


class Contact(models.Model):
    """Someone who wrote to the desk, known by address."""

    address = models.CharField(max_length=320, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="contacts")
    language = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class Conversation(models.Model):
    """What cases and leads share: who asked, through which intake, from which message."""

    intake = models.ForeignKey(Intake, on_delete=models.PROTECT)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="%(class)ss")
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
        indexes = [models.Index(fields=["requester", "id"])]


# The trigger or macro saving a case, for the audit log.
_changed_by: ContextVar[str] = ContextVar("case_changed_by", default="")


class Case(Conversation):
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="assigned_cases")
    team = models.CharField(max_length=100, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    # The SLA clock (see casegate.desk.sla.clocks): the policy that applies, each target's
    # due time, when the clock stopped (pending), the earliest due time of the targets
    # running, the next instant the clock job looks at the case, and the warnings and
    # breaches fired (``first_response:breach``).
    sla_policy = models.ForeignKey("SlaPolicy", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sla_alarm_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sla_fired = models.JSONField(default=list, blank=True)
    follows = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="followups",
                                help_text="the closed case this one continues")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="merged_cases",
                                    help_text="the case this one was merged into: its messages"
                                              " and the mail that threads onto it go there")
    updated_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True,
                                             help_text="empty: the status is the first one")
    channel = models.CharField(max_length=10, choices=CaseChannel.choices,
                               default=CaseChannel.MAIL, db_default=CaseChannel.MAIL,
                               help_text="where the case was opened (for the reports)")

    class Meta(Conversation.Meta):
        # Every column the reports read of a case, led by the day it was created: SQLite
        # reads a range's cases from the index alone.
        indexes = [*Conversation.Meta.indexes, models.Index(
            fields=["created_at", "merged_into", "team", "assignee", "channel", "intake",
                    "status", "first_responded_at", "status_changed_at"],
            name="desk_case_reports")]

    def __str__(self) -> str:
        return f"CG-{self.pk}: {self.subject}"

    @staticmethod
    @contextmanager
    def changed_by(rule: str) -> Iterator[None]:
        """Saves inside are made by ``rule`` (a trigger, a macro): the audit log says so."""
        token = _changed_by.set(rule)
        try:
            yield
        finally:
            _changed_by.reset(token)

    def get_additional_data(self) -> dict[str, str] | None:
        """What the audit log keeps beside a change (django-auditlog asks)."""
        rule = _changed_by.get()
        return {"by": rule} if rule else None


class Lead(Conversation):
    status = models.CharField(max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW)
    converted_at = models.DateTimeField(null=True, blank=True)
    converted_by = models.CharField(max_length=150, blank=True, default="")

    class Meta(Conversation.Meta):
        # The pipeline's columns: each state's newest leads and their count, read from this
        # index instead of every lead once a column.
        indexes = [*Conversation.Meta.indexes,
                   models.Index(fields=["status", "id"], name="desk_lead_pipeline")]

    def __str__(self) -> str:
        return f"lead {self.pk}: {self.subject}"


class DeskMessage(models.Model):
    """One message in a case's or a lead's thread."""

    # Short names the desk's filing uses; the vocabulary is Direction.
    INBOUND = Direction.INBOUND
    OUTBOUND = Direction.OUTBOUND
    NOTE = Direction.NOTE

    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="messages")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="messages")
    direction = models.CharField(max_length=10, choices=Direction.choices,
                                 default=Direction.INBOUND)
    queue_id = models.CharField(max_length=32, blank=True, default="", db_index=True)
    message_id = models.CharField(max_length=998, blank=True, default="", db_index=True)
    in_reply_to = models.CharField(max_length=998, blank=True, default="")
    references = models.TextField(blank=True, default="")
    recipients = models.TextField(blank=True, default="", help_text="outbound: who it went to")
    cc = models.TextField(blank=True, default="", help_text="the Cc addresses, one per line")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+",
                               help_text="the agent who wrote a reply or note")
    delivery_status = models.CharField(
        max_length=10, choices=ReplyDelivery.choices, blank=True, default="",
        help_text="outbound: queued, delivered or failed (with the reason in parse_problems)")
    moved_from = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="the case it belonged to before a merge moved it here")
    split_from = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="the case it was split off into a case of its own")
    raw = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT,
                            related_name="+", help_text="the message as it arrived or left")
    automated = models.CharField(max_length=100, blank=True, default="",
                                 help_text="why it counts as automated mail (never answered)")
    subject = models.CharField(max_length=998, blank=True, default="")
    sender = models.CharField(max_length=320, blank=True, default="")
    sender_name = models.CharField(max_length=200, blank=True, default="")
    text = models.TextField(blank=True, default="")
    new_text = models.TextField(blank=True, default="",
                                help_text="the text without the quoted history")
    html = models.TextField(blank=True, default="", help_text="sanitized with nh3")
    parse_problems = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        # The automatic messages a sender got lately, which CASEGATE_ACK_LIMIT counts for
        # every new case: by the created_at index alone, the count reads all recent mail.
        indexes = [models.Index(fields=["recipients", "created_at"],
                                condition=models.Q(direction=Direction.AUTOMATIC),
                                name="desk_message_automatic_to")]


class Attachment(models.Model):
    message = models.ForeignKey(DeskMessage, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=500, blank=True, default="")
    content_type = models.CharField(max_length=200, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    content_id = models.CharField(max_length=500, blank=True, default="")
    inline = models.BooleanField(default=False)
    container = models.CharField(max_length=500, blank=True, default="",
                                 help_text="the winmail.dat it was unpacked from")
    problem = models.CharField(max_length=500, blank=True, default="",
                               help_text="why it is kept as it arrived (malformed, too large)")
    blob = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+", help_text="empty when over the size limits")

    class Meta:
        ordering = ["id"]


class CaseViewer(models.Model):
    """An agent who has a case open in the console: when they last looked, and last typed a
    reply (see :mod:`casegate.desk.presence`)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    seen_at = models.DateTimeField()
    typing_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"],
                                               name="desk_caseviewer_one_per_agent")]


class Survey(models.Model):
    """The satisfaction survey mailed about a solved case, and the requester's answer (see
    :mod:`casegate.desk.satisfaction`). Only the token's SHA-256 is kept: the link in the
    mail is the one way to answer."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="survey")
    token_sha256 = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=8, blank=True, default="")
    sent_at = models.DateTimeField()
    rating = models.CharField(max_length=4, choices=Rating.choices, blank=True, default="")
    comment = models.TextField(blank=True, default="")
    answered_at = models.DateTimeField(
        null=True, blank=True, db_index=True,
        help_text="the first answer: it may be changed for a while after")
    changed_at = models.DateTimeField(null=True, blank=True, help_text="the latest answer")
    team = models.CharField(max_length=100, blank=True, default="",
                            help_text="the case's team at the latest answer")
    agent = models.CharField(max_length=150, blank=True, default="",
                             help_text="the case's assignee at the latest answer")

    def __str__(self) -> str:
        return f"survey of CG-{self.case_id}: {self.rating or 'unanswered'}"


class CaseEvent(models.Model):
    """A change to a case (status, assignee, …): who, when, before and after."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="history")
    field = models.CharField(max_length=50)
    before = models.TextField(blank=True, default="")
    after = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]


class BlockedSender(models.Model):
    """An address, or a whole domain (with its subdomains), whose mail to an intake is
    suspended instead of opening cases."""

    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="+")
    entry = models.CharField(max_length=320, help_text="an address or a domain, normalised")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["intake_id", "entry"]
        constraints = [models.UniqueConstraint(fields=["intake", "entry"],
                                               name="desk_blocked_sender_once")]

    def __str__(self) -> str:
        return f"{self.entry} blocked at {self.intake.address}"


class SuspendedMessage(models.Model):
    """Mail to an intake set aside instead of opening a case or a lead (spam let through by
    a rule, an auto-mailer, a loop, a blocked sender), kept whole until a person recovers
    it, deletes it, or ``CASEGATE_SUSPENDED_DAYS`` pass.

    The score and the authentication results are copied from the gateway's message, so the
    list shows why the mail looks as it does without reading the queue.
    """

    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="+")
    queue_id = models.CharField(max_length=32, db_index=True)
    original_recipient = models.CharField(max_length=320, blank=True, default="")
    mail_from = models.CharField(max_length=320, blank=True, default="")
    peer = models.CharField(max_length=100, blank=True, default="")
    received_at = models.DateTimeField()
    raw = models.BinaryField(help_text="the message as it reached the desk; emptied once "
                                       "recovered or deleted")
    message_id = models.CharField(max_length=998, blank=True, default="")
    subject = models.CharField(max_length=998, blank=True, default="")
    sender = models.CharField(max_length=320, blank=True, default="")
    sender_name = models.CharField(max_length=200, blank=True, default="")
    cause = models.CharField(max_length=20, choices=SuspensionCause.choices)
    reason = models.CharField(max_length=500, blank=True, default="",
                              help_text="the cause in detail: the classifier's reason, the "
                                        "automated header, the blocked entry")
    spam_score = models.FloatField(null=True, blank=True,
                                   help_text="the spam classifier's score, when it gave one")
    auth_results = models.TextField(blank=True, default="",
                                    help_text="the Authentication-Results the gateway added")
    state = models.CharField(max_length=10, choices=SuspensionState.choices,
                             default=SuspensionState.SUSPENDED)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text="the case it was recovered onto")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text="the lead it was recovered onto")
    decided_by = models.CharField(max_length=150, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "id"])]

    def __str__(self) -> str:
        return f"suspended #{self.pk} ({self.cause}) from {self.sender}: {self.subject[:80]}"


class OrderedRule(models.Model):
    """What triggers and automations have alike: a named rule, in its place in the order,
    with ``conditions`` and ``actions`` as data (see :mod:`casegate.desk.automation`)."""

    name = models.CharField(max_length=200, unique=True)
    position = models.PositiveIntegerField(help_text="1 runs first")
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=500, blank=True, default="")
    conditions = models.JSONField(default=dict, help_text='{"all": [...], "any": [...]}')
    actions = models.JSONField(default=list, help_text="[{kind: value}, ...], in order")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["position", "id"]


class RuleSetVersion(models.Model):
    """One change to a set of rules; the subclass keeps the whole set as it was after it
    (in order), so any version can be restored."""

    number = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=200, blank=True, default="")
    summary = models.CharField(max_length=500)

    class Meta:
        abstract = True
        ordering = ["-number"]


class Trigger(OrderedRule):
    """Actions the desk takes on a case when an event matches conditions. ``conditions``
    and ``actions`` are checked by :func:`casegate.desk.automation.rules.check_trigger`
    before they are saved."""

    events = models.JSONField(default=list, help_text="the events it listens to")

    def __str__(self) -> str:
        return f"trigger {self.name}"


class TriggerVersion(RuleSetVersion):
    triggers = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"trigger version {self.number}: {self.summary}"


class Automation(OrderedRule):
    """Actions the desk takes on the cases whose conditions have held for some hours, run by
    the worker's clock (see :mod:`casegate.desk.automation.scheduled`). ``conditions`` and
    ``actions`` are checked by :func:`casegate.desk.automation.rules.check_automation`."""

    def __str__(self) -> str:
        return f"automation {self.name}"


class AutomationVersion(RuleSetVersion):
    automations = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"automation version {self.number}: {self.summary}"


class AutomationRun(models.Model):
    """An automation acted on a case for one period: the latest of the times its conditions
    count hours from. Unique, so that however many workers pass, a case is acted on once a
    period."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    period = models.DateTimeField()
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["automation", "case", "period"],
                                               name="desk_automation_run_once")]


class Macro(models.Model):
    """Actions and a reply an agent applies to a case in one step; ``owner`` None: shared."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.CASCADE, related_name="+",
                              help_text="empty: every agent may apply it")
    actions = models.JSONField(default=list)
    reply = models.TextField(blank=True, default="",
                             help_text="mailed to the requester, placeholders filled")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "owner"], name="desk_macro_name_per_owner"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(owner__isnull=True),
                                    name="desk_shared_macro_name"),
        ]

    def __str__(self) -> str:
        return f"macro {self.name}"


class MacroVersion(RuleSetVersion):
    macros = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"macro version {self.number}: {self.summary}"


class TeamRotation(models.Model):
    """Whom a team's round-robin assignment gave a case last."""

    team = models.CharField(max_length=100, unique=True)
    last_assigned = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")


class Webhook(models.Model):
    """A URL the desk posts case events to, signed with ``secret`` (see
    :mod:`casegate.desk.webhooks`). Paused (by a person, or by the desk after it kept
    failing) it is sent nothing; its events wait for it to resume."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list, help_text="the trigger events it is sent")
    secret = models.CharField(max_length=200)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=500, blank=True, default="")
    failures = models.PositiveIntegerField(default=0, help_text="failed attempts in a row")
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"webhook {self.name}"


class WebhookVersion(RuleSetVersion):
    """The webhooks' settings after a change, their secrets included (never shown), so that
    a rollback restores them."""

    webhooks = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"webhook version {self.number}: {self.summary}"


class WebhookCall(models.Model):
    """One event to post to a webhook: written with the event, sent later by the worker,
    retried until the receiver takes it or the desk gives up."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="calls")
    delivery_id = models.CharField(max_length=36, unique=True)
    event = models.CharField(max_length=50)
    case_id = models.BigIntegerField(null=True, blank=True)
    body = models.TextField(help_text="the JSON posted, exactly")
    state = models.CharField(max_length=10, choices=WebhookCallState.choices,
                             default=WebhookCallState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField()
    claim = models.CharField(max_length=32, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "due_at"], name="desk_webhook_call_due"),
                   # each receiver's first pending events, in order (sending._claimable)
                   models.Index(fields=["webhook", "state", "id"],
                                name="desk_webhook_call_pending")]

    def __str__(self) -> str:
        return f"webhook call {self.delivery_id}"


class WebhookAttempt(models.Model):
    """One POST to a webhook and its answer (``status`` None: no answer)."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="attempts")
    call = models.ForeignKey(WebhookCall, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="tries")
    delivery_id = models.CharField(max_length=36)
    event = models.CharField(max_length=50)
    at = models.DateTimeField()
    status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    seconds = models.FloatField(default=0.0)
    outcome = models.CharField(max_length=10, choices=WebhookAttemptOutcome.choices)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["webhook", "at"], name="desk_webhook_attempt_at")]

    def __str__(self) -> str:
        return f"webhook attempt {self.delivery_id} at {self.at}"


class SlaCalendar(models.Model):
    """Business hours: a time zone, the ranges of each weekday (``{"mon": ["09:00-17:00"]}``)
    and holidays (ISO dates), checked by :func:`casegate.desk.sla.rules.check_calendar`."""

    name = models.CharField(max_length=200, unique=True)
    timezone = models.CharField(max_length=64)
    hours = models.JSONField(default=dict)
    holidays = models.JSONField(default=list)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"calendar {self.name}"


class SlaPolicy(models.Model):
    """Service-level targets for the cases its conditions pick (the first policy in order
    that matches a case applies), counted in its calendar's business time (none: around
    the clock); checked by :func:`casegate.desk.sla.rules.check_policy`."""

    name = models.CharField(max_length=200, unique=True)
    position = models.PositiveIntegerField(help_text="1 is tried first")
    conditions = models.JSONField(default=dict, help_text="intake, priority, company: lists")
    calendar = models.ForeignKey(SlaCalendar, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="policies")
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    warning = models.CharField(max_length=10, default="80%",
                               help_text="80%: when 80% of a target's time is used; 30m: "
                                         "30 minutes before it is due")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"SLA policy {self.name}"


class SlaVersion(models.Model):
    """One change to the SLA calendars and policies, with both sets as they were after it,
    so any version can be restored."""

    number = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=200, blank=True, default="")
    summary = models.CharField(max_length=500)
    calendars = models.JSONField(default=list)
    policies = models.JSONField(default=list)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"SLA version {self.number}: {self.summary}"


class SavedView(models.Model):
    """A named case list: its filters, search and sort; ``owner`` None: shared by everyone
    who reads cases (see :mod:`casegate.desk.saved_views`)."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.CASCADE, related_name="+",
                              help_text="empty: shared")
    filters = models.JSONField(default=dict, help_text="checked by CaseFilter.from_dict")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "owner"], name="desk_view_name_per_owner"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(owner__isnull=True),
                                    name="desk_shared_view_name"),
        ]

    def __str__(self) -> str:
        return f"view {self.name}"

"""The words of triggers, automations and macros: the events a trigger listens to, what
conditions read and how they compare, the hours an automation's conditions count, and what
actions do.

A later kind of event (a webhook's answer) is one more member of
:class:`TriggerEvent` that something fires; a new action is one more member of
:class:`ActionKind` with its checker in :mod:`casegate.desk.automation.rules` and its
effect in :mod:`casegate.desk.automation.actions`.
"""

from __future__ import annotations

from django.db import models


class TriggerEvent(models.TextChoices):
    """What happened to a case."""

    CASE_CREATED = "case_created", "case created"
    CUSTOMER_REPLIED = "customer_replied", "customer replied"
    AGENT_REPLIED = "agent_replied", "agent replied"
    NOTE_ADDED = "note_added", "note added"
    FIELD_CHANGED = "field_changed", "field changed"
    SLA_WARNING = "sla_warning", "an SLA target is nearly due"
    SLA_BREACHED = "sla_breached", "an SLA target is overdue"
    SATISFACTION_RATED = "satisfaction_rated", "satisfaction rated"


class ConditionField(models.TextChoices):
    """What a condition reads, from the case or from the message of the event."""

    INTAKE = "intake", "the intake's address"
    ORIGINAL_RECIPIENT = "original_recipient", "the address the customer wrote to"
    SENDER = "sender", "the message's sender (the requester when there is no message)"
    SENDER_DOMAIN = "sender_domain", "the sender's domain"
    SUBJECT = "subject", "the subject"
    BODY = "body", "the message's text without the quoted history"
    LANGUAGE = "language", "the message's language, else the requester's"
    TAGS = "tags", "the case's tags"
    PRIORITY = "priority", "priority"
    STATUS = "status", "status"
    TEAM = "team", "team"
    ASSIGNEE = "assignee", "the assignee's user name"
    CHANGED = "changed", "the fields the event changed (SLA events: the target)"
    SPF = "spf", "SPF's result at the gateway"
    DKIM = "dkim", "DKIM's result at the gateway"
    DMARC = "dmarc", "DMARC's result at the gateway"
    ARC = "arc", "ARC's result at the gateway"
    SPAM = "spam", "classified as spam at the gateway"
    SATISFACTION = "satisfaction", "the requester's satisfaction rating (good, bad; empty: none)"


class Operator(models.TextChoices):
    """How a condition compares; each field takes the operators of its kind."""

    IS = "is", "is (or is one of a list)"
    IS_NOT = "is_not", "is not (nor any of a list)"
    CONTAINS = "contains", "contains, whatever the case"
    NOT_CONTAINS = "not_contains", "does not contain"
    MATCHES = "matches", "matches a regular expression (RE2), whatever the case"
    NOT_MATCHES = "not_matches", "does not match"
    INCLUDES = "includes", "has this one (or one of a list)"
    EXCLUDES = "excludes", "has none of them"


class TimeField(models.TextChoices):
    """The hours an automation's condition counts, wall-clock, up to the time of its pass;
    a case without a message of the kind counts from its creation."""

    CREATED = "hours_since_created", "hours since the case was created"
    UPDATED = "hours_since_updated", "hours since the case last changed"
    STATUS_CHANGED = "hours_since_status_changed", "hours since the status last changed"
    CUSTOMER_MESSAGE = "hours_since_customer_message", "hours since the customer last wrote"
    AGENT_REPLY = "hours_since_agent_reply", "hours since an agent last replied"


class TimeOperator(models.TextChoices):
    AT_LEAST = "at_least", "at least this many hours"
    LESS_THAN = "less_than", "fewer than this many hours"


# The condition fields an automation reads from the case; the others are about the message
# of an event, which a pass of the clock has not.
AUTOMATION_FIELDS = (ConditionField.INTAKE, ConditionField.ORIGINAL_RECIPIENT,
                     ConditionField.SENDER, ConditionField.SENDER_DOMAIN,
                     ConditionField.SUBJECT,
                     ConditionField.LANGUAGE, ConditionField.TAGS, ConditionField.PRIORITY,
                     ConditionField.STATUS, ConditionField.TEAM, ConditionField.ASSIGNEE,
                     ConditionField.SATISFACTION)


_TEXT = (Operator.IS, Operator.IS_NOT, Operator.CONTAINS, Operator.NOT_CONTAINS,
         Operator.MATCHES, Operator.NOT_MATCHES)
_CHOICE = (Operator.IS, Operator.IS_NOT)
_SET = (Operator.INCLUDES, Operator.EXCLUDES)

# Which operators each field takes.
OPERATORS: dict[str, tuple[Operator, ...]] = {
    ConditionField.INTAKE: _TEXT, ConditionField.ORIGINAL_RECIPIENT: _TEXT,
    ConditionField.SENDER: _TEXT, ConditionField.SENDER_DOMAIN: _TEXT,
    ConditionField.SUBJECT: _TEXT, ConditionField.BODY: _TEXT,
    ConditionField.LANGUAGE: _CHOICE, ConditionField.TAGS: _SET,
    ConditionField.PRIORITY: _CHOICE, ConditionField.STATUS: _CHOICE,
    ConditionField.TEAM: _CHOICE, ConditionField.ASSIGNEE: _CHOICE,
    ConditionField.CHANGED: _SET, ConditionField.SPF: _CHOICE, ConditionField.DKIM: _CHOICE,
    ConditionField.DMARC: _CHOICE, ConditionField.ARC: _CHOICE,
    ConditionField.SPAM: (Operator.IS,), ConditionField.SATISFACTION: _CHOICE,
}


class ActionKind(models.TextChoices):
    """What an action does; each is one key of an action, with its value."""

    STATUS = "status", "set the status"
    PRIORITY = "priority", "set the priority"
    TEAM = "team", "set the team"
    ADD_TAGS = "add_tags", "add tags"
    REMOVE_TAGS = "remove_tags", "remove tags"
    ASSIGN = "assign", "assign to an agent (user name), or unassign (empty)"
    ASSIGN_ROUND_ROBIN = "assign_round_robin", "assign to the next agent of a team in turn"
    ASSIGN_LEAST_LOADED = ("assign_least_loaded",
                           "assign to the agent of a team with the fewest unsolved cases")
    REPLY = "reply", "mail the requester a text (placeholders filled)"
    NOTIFY = "notify", "mail agents (assignee, team, agents) or an address a text"
    NOTE = "note", "add an internal note"
    WEBHOOK = "webhook", "call a webhook (its name) with the event"


class NotifyTarget(models.TextChoices):
    """Who a ``notify`` action mails, besides a plain address."""

    ASSIGNEE = "assignee", "the case's assignee"
    TEAM = "team", "the agents of the case's team"
    AGENTS = "agents", "every agent"


# The placeholders of reply texts: {{requester.name}} and so on.
PLACEHOLDERS = ("requester.name", "requester.email", "case.number", "case.tag", "case.id",
                "case.subject", "case.status", "case.priority", "case.team", "agent.name",
                "agent.email", "agent.signature")
# A signature's: a reply's but itself.
SIGNATURE_PLACEHOLDERS = tuple(p for p in PLACEHOLDERS if p != "agent.signature")
# A satisfaction survey's text: a reply's and the link to answer it.
SURVEY_PLACEHOLDERS = (*PLACEHOLDERS, "survey.link")

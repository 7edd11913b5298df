"""What a trigger's conditions read about an event: the case as it is now, and the message
of the event (the mail that came, the reply or note written; none for a field change).

Each value is read when a condition first asks for it and kept for the event: the
gateway's authentication results cost a query, made only when a trigger reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from casegate.desk.automation.rules import FactValue
from casegate.desk.automation.vocabulary import ConditionField
from casegate.desk.models import Case, Survey
from casegate.directory.addresses import domain_of
from casegate.filtering.auth_results import verdicts
from casegate.spool.models import Message


@dataclass(frozen=True)
class EventMessage:
    """The message an event is about. ``queue_id``: the gateway's, for mail that came in;
    ``automated``: why it counts as automated mail (never answered); ``null_sender``: the
    envelope had none."""

    sender: str
    subject: str
    body: str
    language: str = ""
    queue_id: str = ""
    automated: str = ""
    spam: bool = False
    null_sender: bool = False


@dataclass
class Facts:
    case: Case
    event: str
    message: EventMessage | None = None
    changed: frozenset[str] = frozenset()
    _read: dict[str, FactValue] = field(default_factory=dict)
    _authentication_results: dict[str, str] | None = None

    def __call__(self, name: str) -> FactValue:
        if name not in self._read:
            self._read[name] = self._value(name)
        return self._read[name]

    def forget_case_fields(self) -> None:
        """The case changed: what was read from it is read again."""
        for name in (ConditionField.TAGS, ConditionField.PRIORITY, ConditionField.STATUS,
                     ConditionField.TEAM, ConditionField.ASSIGNEE):
            self._read.pop(name, None)

    def _value(self, name: str) -> FactValue:
        case, message = self.case, self.message
        if name == ConditionField.INTAKE:
            return case.intake.address
        if name == ConditionField.ORIGINAL_RECIPIENT:
            return case.original_recipient
        if name == ConditionField.SENDER:
            return message.sender if message else case.requester
        if name == ConditionField.SENDER_DOMAIN:
            return domain_of(str(self(ConditionField.SENDER)))
        if name == ConditionField.SUBJECT:
            return message.subject if message else case.subject
        if name == ConditionField.BODY:
            return message.body if message else ""
        if name == ConditionField.LANGUAGE:
            language = message.language if message else ""
            if not language and case.contact_id is not None and case.contact is not None:
                language = case.contact.language
            return language.lower()[:2]
        if name == ConditionField.TAGS:
            return frozenset(case.tags)
        if name == ConditionField.ASSIGNEE:
            return case.assignee.get_username() if case.assignee_id and case.assignee else ""
        if name in (ConditionField.PRIORITY, ConditionField.STATUS, ConditionField.TEAM):
            return str(getattr(case, name))
        if name == ConditionField.CHANGED:
            return self.changed
        if name == ConditionField.SPAM:
            return bool(message and message.spam)
        if name == ConditionField.SATISFACTION:
            return Survey.objects.filter(case_id=case.pk).values_list(
                "rating", flat=True).first() or ""
        return self._authentication().get(name, "")

    def _authentication(self) -> dict[str, str]:
        if self._authentication_results is None:
            queue_id = self.message.queue_id if self.message else ""
            stored = (Message.objects.filter(queue_id=queue_id).values_list(
                "auth_results", flat=True).first() if queue_id else None)
            self._authentication_results = verdicts(stored or "")
        return self._authentication_results

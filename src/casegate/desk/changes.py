"""Changing a case's fields, the one way every change takes: checked, and recorded in the
case's history with who (or which trigger) made it and the value before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from casegate.desk.models import Case, CaseEvent
from casegate.desk.sla import clocks
from casegate.desk.vocabulary import CaseStatus, Priority
from casegate.errors import CasegateError


class DeskError(CasegateError):
    """A desk operation was refused."""


CASE_FIELDS = ("status", "priority", "assignee", "team", "tags", "first_response_due_at")
# The time a change of the field is stamped in, saved with it (automations count from it).
STAMPS = {"status": "status_changed_at"}


def case_event(case: Case, field: str, before: str, after: str, actor: str) -> CaseEvent:
    """A change to ``case`` for its history, to be saved."""
    return CaseEvent(case=case, field=field, before=before, after=after, actor=actor,
                     at=timezone.now())


def _display(field_name: str, value: Any) -> str:
    if value is None:
        return ""
    if field_name == "assignee":
        return value.get_username()
    if field_name == "tags":
        return ", ".join(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _checked(field_name: str, value: Any) -> Any:
    if field_name == "status":
        if value not in CaseStatus.values:
            raise DeskError(f"the status of a case is one of {', '.join(CaseStatus.values)}")
    elif field_name == "priority" and value not in Priority.values:
        raise DeskError(f"the priority of a case is one of {', '.join(Priority.values)}")
    elif field_name == "assignee" and value is not None and not isinstance(value, get_user_model()):
        user = get_user_model().objects.filter(username=value, is_active=True).first()
        if user is None:
            raise DeskError(f"there is no active user {value!r} to assign")
        return user
    elif field_name == "tags":
        tags = sorted({str(t).strip().lower() for t in value if str(t).strip()})
        if any(len(t) > 50 or "," in t for t in tags):
            raise DeskError("a tag is at most 50 characters, without commas")
        return tags
    elif field_name == "team":
        return str(value or "").strip()[:100]
    elif field_name == "first_response_due_at" and value is not None and (
            not isinstance(value, datetime) or value.tzinfo is None):
        raise DeskError("the first-response due time needs a date, a time and a time zone")
    return value


def change_fields(case: Case, actor: str, changes: dict[str, Any],
                  now: datetime | None = None) -> list[CaseEvent]:
    """Set ``changes`` on ``case`` (not saved); the history of each that alters a value, to
    be saved with it. ``assignee`` is a user or a username (None unassigns). A change of
    status or priority moves the SLA clock too (its :data:`~casegate.desk.sla.clocks.
    CLOCK_FIELDS` are to be saved with the case)."""
    unknown = set(changes) - set(CASE_FIELDS)
    if unknown:
        raise DeskError(f"a case has no field {', '.join(sorted(unknown))}")
    events = []
    now = now or timezone.now()
    before_values: dict[str, object] = {}
    for field_name, value in changes.items():
        value = _checked(field_name, value)
        before = getattr(case, field_name)
        if _display(field_name, before) == _display(field_name, value):
            continue
        events.append(case_event(case, field_name, _display(field_name, before),
                                 _display(field_name, value), actor))
        before_values[field_name] = before
        setattr(case, field_name, value)
        if field_name in STAMPS:
            setattr(case, STAMPS[field_name], now)
    if events:
        case.updated_at = now
        if clocks.CLOCK_MOVERS.intersection(before_values):
            events += clocks.fields_changed(case, before_values, now)
    return events

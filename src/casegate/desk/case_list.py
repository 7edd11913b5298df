"""The case list's filters, search and sort: what the console's list shows, what a saved
view keeps and what its count counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import urlencode

from django.db.models import Case as Switch
from django.db.models import F, IntegerField, QuerySet, When

from casegate.desk.changes import DeskError
from casegate.desk.models import Case, Intake
from casegate.desk.search import matching_cases
from casegate.desk.search_query import SearchSyntaxError, parse_query
from casegate.desk.visibility import case_scope
from casegate.desk.vocabulary import (
    CASE_SORTS,
    DONE_CASE_STATUSES,
    CaseQueue,
    CaseStatus,
    IntakeKind,
    Priority,
)
from casegate.text import whole_number

SEARCH_LENGTH = 500
DEFAULT_SORT = "-id"
# Priorities sort by urgency, not by name.
_PRIORITY_RANK = Switch(*(When(priority=p, then=rank) for rank, p in enumerate(Priority.values)),
                        output_field=IntegerField())


class UnknownIntake(DeskError):
    """A filter names an intake there is no case intake for."""


@dataclass(frozen=True)
class CaseFilter:
    """Which cases the list shows and in which order; a field left at its default does not
    narrow."""

    queue: str = CaseQueue.ALL.value
    intake: int | None = None
    status: str = ""
    team: str = ""
    q: str = ""  # a search in the syntax of casegate.desk.search_query
    sort: str = DEFAULT_SORT  # a column of CASE_SORTS, "-" first for descending

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseFilter:
        """The filter ``data`` describes, checked: a DeskError names what is wrong."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DeskError(f"a case filter has no {', '.join(unknown)}; it has "
                            f"{', '.join(sorted(known))}")
        values = {name: "" if value is None else value for name, value in data.items()}
        intake = _intake(values.pop("intake", None))
        if any(not isinstance(value, str) for value in values.values()):
            raise DeskError("a case filter's values are texts (the intake: a number)")
        wanted = cls(intake=intake, **values)
        wanted.check()
        return wanted

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> CaseFilter:
        """The filter of the case list's query string; what it cannot read is left out,
        but for the search, whose problem the list explains."""
        intake = form.get("intake", "")
        wanted = cls(queue=form.get("queue", "") or CaseQueue.ALL.value,
                     intake=whole_number(intake),
                     status=form.get("status", ""), team=form.get("team", "")[:100],
                     q=form.get("q", "")[:SEARCH_LENGTH],
                     sort=form.get("sort", "") or DEFAULT_SORT)
        return cls(**{name: value if name == "q" or _readable(name, value)
                      else getattr(cls(), name) for name, value in asdict(wanted).items()})

    def check(self) -> None:
        if self.queue not in CaseQueue.values:
            raise DeskError(f"the queue is one of {', '.join(CaseQueue.values)}")
        if self.status and self.status not in CaseStatus.values:
            raise DeskError(f"the status is one of {', '.join(CaseStatus.values)}")
        if self.sort.lstrip("-") not in CASE_SORTS:
            raise DeskError(f"the sort is one of {', '.join(CASE_SORTS)}, '-' first for "
                            "descending")
        if len(self.q) > SEARCH_LENGTH or len(self.team) > 100:
            raise DeskError(f"a search has at most {SEARCH_LENGTH} characters, a team 100")
        try:
            parse_query(self.q)
        except SearchSyntaxError as exc:
            raise DeskError(f"the search: {exc}") from None

    def as_dict(self) -> dict[str, Any]:
        """The fields that narrow or sort (those not at their default)."""
        default = CaseFilter()
        return {name: value for name, value in asdict(self).items()
                if value != getattr(default, name)}

    def query_string(self, **changes: Any) -> str:
        """The case list's URL query for this filter (with ``changes``)."""
        return urlencode({**self.as_dict(), **changes})


def _intake(value: Any) -> int | None:
    if value in ("", None):
        return None
    number = value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else whole_number(value) if isinstance(value, str) else None
    if number is None:
        raise DeskError("the intake is an intake's number")
    if not Intake.objects.filter(pk=number, kind=IntakeKind.CASE).exists():
        raise UnknownIntake(f"there is no case intake {value}")
    return number


def _readable(name: str, value: Any) -> bool:
    try:
        CaseFilter(**{name: value}).check()
    except DeskError:
        return False
    return True


def filtered_cases(wanted: CaseFilter, user: Any) -> QuerySet[Case]:
    """The cases ``user`` may see that ``wanted`` shows, in its order (``user`` None: every
    case, and none is "mine")."""
    found = Case.objects.all() if user is None else Case.objects.filter(case_scope(user))
    if wanted.queue == CaseQueue.MINE:
        found = found.none() if user is None else found.filter(assignee_id=user.pk)
    elif wanted.queue == CaseQueue.UNASSIGNED:
        found = found.filter(assignee__isnull=True)
    elif wanted.queue == CaseQueue.OPEN:
        found = found.exclude(status__in=DONE_CASE_STATUSES)
    if wanted.intake is not None:
        found = found.filter(intake_id=wanted.intake)
    if wanted.status:
        found = found.filter(status=wanted.status)
    if wanted.team:
        found = found.filter(team=wanted.team)
    if wanted.q.strip():
        found = matching_cases(parse_query(wanted.q), found)
    column = CASE_SORTS[wanted.sort.lstrip("-")]
    descending = wanted.sort.startswith("-")
    if column == "id":  # never empty: no NULLS clause, so the primary key's index serves it
        return found.order_by("-id" if descending else "id")
    order = _PRIORITY_RANK if column == "priority" else F(column)
    if descending:
        return found.order_by(order.desc(nulls_last=True), "-id")
    # Earliest due first puts the cases no SLA times after those it does.
    untimed_last = column == "sla_due_at"
    return found.order_by(order.asc(nulls_last=True) if untimed_last
                          else order.asc(nulls_first=True), "-id")

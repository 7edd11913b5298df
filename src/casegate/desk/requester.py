"""What the case page shows beside the thread: who asked (the contact, their company),
their latest other cases with any satisfaction answer, and the case's neighbours in the
open queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from casegate.desk.case_list import CaseFilter, filtered_cases
from casegate.desk.models import Case, Contact
from casegate.desk.visibility import case_scope
from casegate.desk.vocabulary import CaseQueue

OTHER_CASES_SHOWN = 10


@dataclass(frozen=True)
class RequesterPanel:
    contact: Contact | None
    other_cases: Sequence[Mapping[str, Any]] = ()

    @property
    def answers(self) -> list[Mapping[str, Any]]:
        """The satisfaction answers given about the cases listed."""
        return [case for case in self.other_cases if case["survey__rating"]]


def requester_panel(case_id: int, requester: str, contact_id: int | None, user: Any
                    ) -> RequesterPanel:
    """Who asked case ``case_id`` and their latest other cases ``user`` may see, each with
    its satisfaction answer (two queries: the contact with its company, the cases with
    their surveys)."""
    contact = (Contact.objects.select_related("company").filter(pk=contact_id).first()
               if contact_id else None)
    if not requester:
        return RequesterPanel(contact)
    others = list(Case.objects.filter(case_scope(user), requester=requester)
                  .exclude(pk=case_id).order_by("-id")
                  .values("id", "subject", "status", "created_at", "survey__rating",
                          "survey__comment")[:OTHER_CASES_SHOWN])
    return RequesterPanel(contact, others)


@dataclass(frozen=True)
class Neighbours:
    """The cases before and after one in the open queue, newest first as the list shows it."""

    previous: int | None
    next: int | None


def queue_neighbours(case_id: int, user: Any) -> Neighbours:
    queue = filtered_cases(CaseFilter(queue=CaseQueue.OPEN), user)
    newer = queue.filter(pk__gt=case_id).order_by("id").values_list("pk", flat=True).first()
    older = queue.filter(pk__lt=case_id).order_by("-id").values_list("pk", flat=True).first()
    return Neighbours(previous=newer, next=older)

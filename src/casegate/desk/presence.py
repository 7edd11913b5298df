"""Who else has a case open (Help Scout's "traffic cop"): each console page of a case notes
its viewer, the page asks again every few seconds, and typing a reply is noted too; a
viewer not heard of for a minute has gone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from casegate.desk.models import CaseViewer

VIEWING = timedelta(seconds=60)
TYPING = timedelta(seconds=15)


@dataclass(frozen=True)
class Viewer:
    name: str
    typing: bool


def note_viewer(case_id: int, user: Any, typing: bool = False) -> None:
    now = timezone.now()
    fields = {"seen_at": now, **({"typing_at": now} if typing else {})}
    CaseViewer.objects.update_or_create(case_id=case_id, user=user, defaults=fields)


def other_viewers(case_id: int, user: Any) -> list[Viewer]:
    """The other agents who have the case open now, and whether they are typing."""
    now = timezone.now()
    rows = (CaseViewer.objects.filter(case_id=case_id, seen_at__gte=now - VIEWING)
            .exclude(user=user).select_related("user").order_by("user__username"))
    return [Viewer(row.user.get_full_name() or row.user.get_username(),
                   bool(row.typing_at and row.typing_at >= now - TYPING)) for row in rows]

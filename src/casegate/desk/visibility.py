"""Which cases, desk messages and intakes' suspended mail a console or API user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from casegate.access import AGENT, MAIL_SETTINGS, VIEWER, roles_of
from casegate.desk.models import Agent, Case


def case_scope(user: Any) -> Q:
    """The cases ``user`` may see: every case, or for an agent the cases of their teams,
    those of no team and those assigned to them."""
    roles = roles_of(user)
    if user.is_superuser or roles & {MAIL_SETTINGS, VIEWER}:
        return Q()
    if AGENT in roles:
        return Q(assignee=user) | Q(team="") | Q(team__in=_teams_of(user))
    return Q(pk__in=[])


def _teams_of(user: Any) -> list[str]:
    return list(Agent.objects.filter(user=user).values_list("teams", flat=True).first() or [])


def intake_scope(user: Any, path: str = "intake__") -> Q:
    """The intakes whose mail (suspended mail, blocked senders) ``user`` may see: every one,
    or for an agent those of their teams and of no team. ``path``: from the model filtered
    to the intake ("" for intakes themselves)."""
    roles = roles_of(user)
    if user.is_superuser or roles & {MAIL_SETTINGS, VIEWER}:
        return Q()
    if AGENT in roles:
        return Q(**{f"{path}team": ""}) | Q(**{f"{path}team__in": _teams_of(user)})
    return Q(pk__in=[])


def hide_unseen_cases(detail: dict[str, Any], user: Any) -> dict[str, Any]:
    """A case's detail without the numbers of related cases ``user`` may not see (the
    requester's other cases, the case it follows)."""
    related = [*detail.get("other_cases", []),
               *filter(None, [detail.get("follows"), detail.get("merged_into")])]
    scope = case_scope(user)
    if not related or not scope:
        return detail
    seen = set(Case.objects.filter(scope, pk__in=related).values_list("pk", flat=True))
    detail["other_cases"] = [number for number in detail["other_cases"] if number in seen]
    for link in ("follows", "merged_into"):
        if detail.get(link) not in seen:
            detail[link] = None
    return detail


def message_scope(user: Any) -> Q:
    """The desk messages ``user`` may see: those of leads and of the cases they may see."""
    scope = case_scope(user)
    if not scope:
        return Q()
    return Q(case__isnull=True) | Q(case__in=Case.objects.filter(scope))

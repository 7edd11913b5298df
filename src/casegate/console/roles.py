"""Who may do what in the console and the API.

Four roles, as Django groups (a super administrator is Django's superuser):

- **super administrator**: everything;
- **mail-settings administrator** (the article's privilege): routing, directory,
  transports, quarantine and the message trace; reads cases (to check where mail went);
- **agent**: cases and leads (their teams' and unassigned ones), and the suspended mail and
  blocked senders of their teams' intakes;
- **viewer**: reads cases, leads and suspended mail, changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse

from casegate.errors import CasegateError

MAIL_SETTINGS = "mail-settings administrator"
AGENT = "agent"
VIEWER = "viewer"
SUPER = "super administrator"
ROLES = (SUPER, MAIL_SETTINGS, AGENT, VIEWER)

# privilege -> roles that hold it (a superuser holds every privilege)
PRIVILEGES = {
    "mail_settings": {MAIL_SETTINGS},
    "audit": {MAIL_SETTINGS},
    "work_cases": {AGENT},
    "read_cases": {AGENT, VIEWER, MAIL_SETTINGS},
}


class RoleError(CasegateError):
    """A user or role request was refused."""


def roles_of(user: Any) -> set[str]:
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(ROLES)
    cached = getattr(user, "_casegate_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._casegate_roles = cached
    return cached


def can(user: Any, privilege: str) -> bool:
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return bool(roles_of(user) & PRIVILEGES[privilege])


def require(privilege: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A view only for signed-in users holding ``privilege``: others log in or get 403."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not can(request.user, privilege):
                raise PermissionDenied(f"this page needs the {privilege.replace('_', ' ')} "
                                       "privilege")
            return view(request, *args, **kwargs)

        return checked

    return decorate


def _teams_of(user: Any) -> list[str]:
    from casegate.desk.models import Agent

    return list(Agent.objects.filter(user=user).values_list("teams", flat=True).first() or [])


def case_scope(user: Any) -> Q:
    """The cases ``user`` may see: every case, or for an agent the cases of their teams,
    those of no team and those assigned to them."""
    roles = roles_of(user)
    if user.is_superuser or roles & {MAIL_SETTINGS, VIEWER}:
        return Q()
    if AGENT in roles:
        return Q(assignee=user) | Q(team="") | Q(team__in=_teams_of(user))
    return Q(pk__in=[])


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
    from casegate.desk.models import Case

    related = [*detail.get("other_cases", []), *filter(None, [detail.get("follows")])]
    scope = case_scope(user)
    if not related or not scope:
        return detail
    seen = set(Case.objects.filter(scope, pk__in=related).values_list("pk", flat=True))
    detail["other_cases"] = [number for number in detail["other_cases"] if number in seen]
    if detail.get("follows") not in seen:
        detail["follows"] = None
    return detail


def message_scope(user: Any) -> Q:
    """The desk messages ``user`` may see: those of leads and of the cases they may see."""
    from casegate.desk.models import Case

    scope = case_scope(user)
    if not scope:
        return Q()
    return Q(case__isnull=True) | Q(case__in=Case.objects.filter(scope))


@transaction.atomic
def add_user(username: str, role: str, password: str, email: str = "") -> Any:
    """Create (or update) a console user with one role."""
    if role not in ROLES:
        raise RoleError(f"the role is one of: {', '.join(ROLES)}")
    if len(password) < 10:
        raise RoleError("a console password has at least 10 characters")
    users = get_user_model().objects
    user, _ = users.get_or_create(username=username, defaults={"email": email})
    if email:
        user.email = email
    user.set_password(password)
    user.is_superuser = user.is_staff = role == SUPER
    user.save()
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    if role != SUPER:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user

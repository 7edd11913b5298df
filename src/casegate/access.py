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

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

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
    # shared saved views change every agent's case list: the super administrator's
    "share_views": set(),
    # the reports count every case, so only those who see every case read them
    "reports": {VIEWER, MAIL_SETTINGS},
    # naming a file or a command on the casegate host (a mailbox's password file or token
    # command): casegate reads that file and runs that command as itself
    "host_files": set(),
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


@transaction.atomic
def add_user(username: str, role: str, password: str, email: str = "") -> Any:
    """Create (or update) a console user with one role."""
    if role not in ROLES:
        raise RoleError(f"the role is one of: {', '.join(ROLES)}")
    try:
        validate_password(password)
    except ValidationError as exc:
        raise RoleError(f"a console password: {' '.join(exc.messages)}") from None
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

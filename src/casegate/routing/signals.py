"""Bump :class:`RoutingVersion` whenever something routing depends on changes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import F
from django.db.models.signals import post_delete, post_save

from casegate.directory.models import Account, Domain, Group, GroupMember, OrgUnit
from casegate.routing.models import AddressList, Route, RoutingVersion, Rule


def bump_version(**_kwargs: Any) -> None:
    if not RoutingVersion.objects.filter(pk=1).update(version=F("version") + 1):
        RoutingVersion.objects.get_or_create(pk=1)


def bump_version_for_user(update_fields: frozenset[str] | None = None, **_kwargs: Any) -> None:
    """A user's change can move where postmaster mail goes (a super administrator's email
    address); a login, which saves only its time, cannot."""
    if update_fields is None or not update_fields <= {"last_login", "password"}:
        bump_version()


def watch(*watched: type[models.Model]) -> None:
    """A change to any row of these models changes the routing table."""
    for model in watched:
        post_save.connect(bump_version, sender=model, dispatch_uid=f"bump-{model.__name__}")
        post_delete.connect(bump_version, sender=model, dispatch_uid=f"bump-del-{model.__name__}")


def connect() -> None:
    watch(Domain, Account, Group, GroupMember, Rule, OrgUnit, AddressList, Route)
    user = get_user_model()
    post_save.connect(bump_version_for_user, sender=user, dispatch_uid="bump-user")
    post_delete.connect(bump_version, sender=user, dispatch_uid="bump-del-user")

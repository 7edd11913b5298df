"""Bump :class:`RoutingVersion` whenever something routing depends on changes."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.db.models.signals import post_delete, post_save


def bump_version(**_kwargs: Any) -> None:
    from casegate.routing.models import RoutingVersion

    if not RoutingVersion.objects.filter(pk=1).update(version=F("version") + 1):
        RoutingVersion.objects.get_or_create(pk=1)


def bump_for_agent_user(instance: Any, update_fields: Any = None, **_kwargs: Any) -> None:
    """A user's address or activity decides whether their mail is an agent's (a login,
    which saves only ``last_login``, changes neither)."""
    from casegate.desk.models import Agent

    if update_fields is not None and set(update_fields) <= {"last_login", "password"}:
        return
    if Agent.objects.filter(user_id=instance.pk).exists():
        bump_version()


def connect() -> None:
    from django.contrib.auth import get_user_model

    from casegate.desk.models import Agent, Intake
    from casegate.directory.models import Account, Domain, Group, GroupMember, OrgUnit
    from casegate.routing.models import AddressList, Route, Rule

    for model in (Domain, Account, Group, GroupMember, Intake, Rule, OrgUnit, AddressList, Route,
                  Agent):
        post_save.connect(bump_version, sender=model, dispatch_uid=f"bump-{model.__name__}")
        post_delete.connect(bump_version, sender=model, dispatch_uid=f"bump-del-{model.__name__}")
    post_save.connect(bump_for_agent_user, sender=get_user_model(), dispatch_uid="bump-agent-user")

"""Macros: a named set of actions and a reply an agent applies to a case in one step, shared
or their own.

The actions are a trigger's (but ``reply``: the macro's reply is its own text, mailed as
the agent's reply). Each change is in the case's history as the agent's, naming the macro;
then the field changes and the reply run their triggers like any agent's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet

from casegate.config import get_config
from casegate.desk.automation.actions import Acting, placeholder_values
from casegate.desk.automation.engine import run_after_change
from casegate.desk.automation.rules import (
    TriggerError,
    check_actions,
    check_placeholders,
    fill_placeholders,
)
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.models import Case, DeskMessage, Macro
from casegate.desk.references import by_number_or_name, own_first
from casegate.desk.replies import post_reply
from casegate.desk.vocabulary import IntakeKind
from casegate.spool.messages import enqueue


def macro_dict(macro: Macro) -> dict[str, Any]:
    return {"id": macro.pk, "name": macro.name,
            "owner": macro.owner.get_username() if macro.owner else None,
            "actions": macro.actions, "reply": macro.reply}


def _user(username: str) -> Any:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise TriggerError(f"there is no active user {username!r}")
    return user


@transaction.atomic
def add_macro(name: str, actions: Any, reply: str = "", owner: str | None = None) -> Macro:
    """A macro of ``owner``'s (None: shared by every agent)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise TriggerError("a macro needs a name of at most 200 characters")
    checked = check_actions(actions, replies=False)
    if not checked and not reply.strip():
        raise TriggerError("a macro needs actions, a reply, or both")
    user = _user(owner) if owner else None
    if Macro.objects.filter(name=name, owner=user).exists():
        raise TriggerError(f"there is a macro named {name!r} already")
    return Macro.objects.create(name=name, owner=user, actions=checked,
                                reply=check_placeholders(reply.strip()))


def macros_for(user: Any) -> QuerySet[Macro]:
    """The macros ``user`` may apply: the shared ones and their own (all, for None)."""
    found = Macro.objects.select_related("owner")
    return found if user is None else found.filter(Q(owner__isnull=True) | Q(owner=user))


def find_macro(reference: str | int, user: Any = None) -> Macro:
    """A macro by number or name, among those ``user`` may apply (their own first)."""
    found = by_number_or_name(own_first(macros_for(user)), reference)
    if found is None:
        raise TriggerError(f"there is no macro {str(reference).strip()!r}; see: casegate "
                           "macro list")
    return found


@transaction.atomic
def remove_macro(reference: str | int) -> Macro:
    macro = find_macro(reference)
    macro.delete()
    return macro


@dataclass
class Applied:
    macro: Macro
    case: Case
    changes: list[str]
    reply: DeskMessage | None


@transaction.atomic
def apply_macro(reference: str | int, case_id: int, user: Any, actor: str = "") -> Applied:
    """Apply a macro ``user`` may use to a case, as ``user``: its actions, then its reply.
    Without a user (the command line's operator, named ``actor``), any macro, and the reply
    is the desk's."""
    macro = find_macro(reference, user)
    case = (Case.objects.select_for_update().select_related("intake")
            .filter(pk=case_id).first())
    if case is None:
        raise TriggerError(f"there is no case {case_id}")
    who = user.get_username() if user is not None else actor
    acting = Acting(case, f"{who} (macro {macro.name})".strip(), None, get_config().hostname)
    for action in macro.actions:
        acting.apply(action)
    acting.finish()
    if acting.outgoing:
        enqueue(acting.outgoing)
    if acting.changed:
        run_after_change(case, TriggerEvent.FIELD_CHANGED, changed=frozenset(acting.changed))
    reply = None
    if macro.reply:
        case.refresh_from_db()
        reply = post_reply(IntakeKind.CASE, case.pk, user,
                           fill_placeholders(macro.reply, placeholder_values(case, user)))
    return Applied(macro, case, acting.done, reply)

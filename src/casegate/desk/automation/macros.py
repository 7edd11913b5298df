"""Macros: a named set of actions and a reply an agent applies to a case in one step, shared
or their own.

The actions are a trigger's (but ``reply``: the macro's reply is its own text, mailed as
the agent's reply). Each change is in the case's history as the agent's, naming the macro;
then the field changes and the reply run their triggers like any agent's.

The macros are kept like the triggers (:data:`MACROS`: versions, rollback, a YAML file),
the shared ones and every agent's own:

.. code-block:: yaml

    macros:
      - name: Refund sent
        actions: [{status: solved}, {add_tags: [refund]}]
        reply: "Hello {{requester.name}}, your refund for case {{case.number}} is on its way."
      - name: My greeting
        owner: alice
        reply: "Hello {{requester.name}},"
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from casegate.desk.models import Case, DeskMessage, Macro, MacroVersion
from casegate.desk.named_sets import NamedSet
from casegate.desk.references import by_number_or_name, own_first
from casegate.desk.replies import post_reply
from casegate.desk.rule_files import refuse_unknown_keys
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


@dataclass(frozen=True)
class MacroSpec:
    """A macro as written; ``owner`` None: shared by every agent."""

    name: str
    owner: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    reply: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.owner or "", self.name

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"name": self.name}
        if self.owner:
            shown["owner"] = self.owner
        if self.actions:
            shown["actions"] = self.actions
        if self.reply:
            shown["reply"] = self.reply
        return shown


_KEYS = ("name", "owner", "actions", "reply")


def check_macro(data: Any) -> MacroSpec:
    """A macro's fields as written (the CLI's, a YAML file's), checked; its owner an active
    user."""
    if not isinstance(data, dict):
        raise TriggerError("a macro is a mapping of name, owner, actions, reply")
    refuse_unknown_keys(data, _KEYS, "a macro", TriggerError)
    name, owner, reply = data.get("name"), data.get("owner") or None, data.get("reply") or ""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise TriggerError("a macro needs a name of at most 200 characters", data)
    if not isinstance(reply, str) or (owner is not None and not isinstance(owner, str)):
        raise TriggerError("a macro's reply and owner are texts", data)
    actions = check_actions(data.get("actions") or [], replies=False)
    if not actions and not reply.strip():
        raise TriggerError("a macro needs actions, a reply, or both", data)
    if owner is not None:
        owner = _user(owner.strip()).get_username()
    return MacroSpec(name.strip(), owner, actions, check_placeholders(reply.strip(), data))


def _stored() -> list[MacroSpec]:
    return [MacroSpec(m.name, m.owner.get_username() if m.owner else None, m.actions, m.reply)
            for m in Macro.objects.select_related("owner")]


def _write(specs: list[MacroSpec]) -> list[str]:
    """Make the macros exactly ``specs``: the others removed, those of the same owner and
    name changed in place."""
    wanted = {spec.key: spec for spec in specs}
    owners = {user.get_username(): user for user in get_user_model().objects.filter(
        username__in={spec.owner for spec in specs if spec.owner})}
    for macro in Macro.objects.select_related("owner"):
        spec = wanted.pop((macro.owner.get_username() if macro.owner else "", macro.name),
                          None)
        if spec is None:
            macro.delete()
        elif (macro.actions, macro.reply) != (spec.actions, spec.reply):
            macro.actions, macro.reply = spec.actions, spec.reply
            macro.save(update_fields=["actions", "reply"])
    for spec in wanted.values():
        Macro.objects.create(name=spec.name, owner=owners.get(spec.owner or ""),
                             actions=spec.actions, reply=spec.reply)
    return []


MACROS: NamedSet[MacroSpec] = NamedSet("macro", "macros", MacroVersion, check_macro, _stored,
                                       _write)


@transaction.atomic
def add_macro(name: str, actions: Any, reply: str = "", owner: str | None = None) -> Macro:
    """A macro of ``owner``'s (None: shared by every agent)."""
    spec = check_macro({"name": name, "owner": owner, "actions": actions, "reply": reply})
    user = _user(spec.owner) if spec.owner else None
    if Macro.objects.filter(name=spec.name, owner=user).exists():
        raise TriggerError(f"there is a macro named {spec.name!r} already")
    macro = Macro.objects.create(name=spec.name, owner=user, actions=spec.actions,
                                 reply=spec.reply)
    MACROS.record(f"add {spec.name}")
    return macro


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
    MACROS.record(f"remove {macro.name}")
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

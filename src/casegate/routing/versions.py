"""Every change to the rule set is a numbered version that can be rolled back.

A version keeps the operations that made it (a rule inserted at a position, deleted,
moved, or some of its fields updated), not a copy of all rules, so a change costs the
same with 10 rules or 100,000. Rolling back to version N undoes the operations of every
later version, newest first; the rollback is itself a new version, so it can be undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.db.models import F

from casegate.errors import CasegateError
from casegate.routing.models import AddressList, Route, Rule, RuleVersion

_operations: ContextVar[list[dict[str, Any]] | None] = ContextVar("rule_operations",
                                                                  default=None)
_SKIPPED = {"created_at", "updated_at"}


class VersionError(CasegateError):
    """A version could not be shown or restored."""


def rule_fields(rule: Rule) -> dict[str, Any]:
    """The rule's stored fields (foreign keys as ids), enough to recreate it."""
    return {f.attname: getattr(rule, f.attname) for f in Rule._meta.concrete_fields
            if f.attname not in _SKIPPED}


def _actor() -> str:
    try:
        from auditlog.context import auditlog_value

        context = auditlog_value.get()
    except LookupError:
        return ""
    actor = context.get("actor")
    if actor is not None:
        return str(getattr(actor, "username", "") or actor)[:200]
    return str(context.get("actor_email") or "")[:200]


@contextmanager
def versioned(summary: str) -> Iterator[None]:
    """Record the rule operations done inside as one version (nested calls join the
    outermost one)."""
    if _operations.get() is not None:
        yield
        return
    operations: list[dict[str, Any]] = []
    token = _operations.set(operations)
    try:
        with transaction.atomic():
            yield
            if operations:
                RuleVersion.objects.create(summary=summary[:500], actor=_actor(),
                                           operations=operations)
    finally:
        _operations.reset(token)


def record(operation: dict[str, Any]) -> None:
    operations = _operations.get()
    if operations is not None:
        operations.append(operation)


def history(limit: int = 50) -> list[RuleVersion]:
    return list(RuleVersion.objects.order_by("-number")[:limit])


def _restore(fields: dict[str, Any]) -> None:
    """Recreate a deleted rule with its number, at its position."""
    for attname, model, what in (("route_id", Route, "route"),
                                 ("sender_list_id", AddressList, "address list"),
                                 ("recipient_list_id", AddressList, "address list")):
        if fields.get(attname) and not model.objects.filter(pk=fields[attname]).exists():
            raise VersionError(f"rule #{fields['id']} cannot be restored: its {what} no longer "
                               "exists")
    from casegate.directory.models import OrgUnit

    if fields.get("org_unit_id") and not OrgUnit.objects.filter(pk=fields["org_unit_id"]).exists():
        raise VersionError(f"rule #{fields['id']} cannot be restored: its unit no longer exists")
    if Rule.objects.filter(pk=fields["id"]).exists():
        raise VersionError(f"rule #{fields['id']} exists again; it cannot be restored twice")
    last = Rule.objects.count()
    position = min(fields["position"], last + 1)
    Rule.objects.filter(position__gte=position).update(position=F("position") + 1)
    rule = Rule.objects.create(**{**fields, "position": position})
    record({"op": "insert", "rule": rule_fields(rule)})


def _undo(operation: dict[str, Any]) -> None:
    from casegate.routing.services import RuleError, move_rule, remove_rule, update_rule

    kind = operation["op"]
    try:
        if kind == "insert":
            if Rule.objects.filter(pk=operation["rule"]["id"]).exists():
                remove_rule(operation["rule"]["id"])
        elif kind == "delete":
            _restore(operation["rule"])
        elif kind == "move":
            move_rule(operation["id"], operation["from"])
        elif kind == "update":
            update_rule(operation["id"], operation["before"])
    except RuleError as exc:
        raise VersionError(str(exc)) from None


def rollback(number: int) -> RuleVersion | None:
    """Bring the rule set back to what it was right after version ``number``."""
    latest = RuleVersion.objects.order_by("-number").first()
    if number != 0 and not RuleVersion.objects.filter(number=number).exists():
        raise VersionError(f"there is no version {number}; see: casegate rule history")
    if latest is None or number >= latest.number:
        raise VersionError(f"version {number} is the current one: nothing to roll back")
    with versioned(f"rollback to version {number}"):
        for version in RuleVersion.objects.filter(number__gt=number).order_by("-number"):
            for operation in reversed(version.operations):
                _undo(operation)
    return RuleVersion.objects.order_by("-number").first()

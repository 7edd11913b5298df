"""Every change to the rule set is a numbered version that can be rolled back.

A version keeps the operations that made it (a rule inserted at a position, deleted,
moved, some of its fields updated; for an import, the rules it removed, the numbers of
those it added and the order before and after), not a copy of all rules, so a change
costs the same with 10 rules or 100,000. Rolling back to version N undoes the operations
of every later version, newest first; the rollback is itself a new version, so it can be
undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from operator import attrgetter
from typing import Any

from django.db import connections, models, transaction
from django.db.models import F
from django.utils import timezone

from casegate.directory.claims import owner_of
from casegate.directory.models import OrgUnit
from casegate.errors import CasegateError
from casegate.routing.models import AddressList, Route, Rule, RuleVersion
from casegate.routing.signals import bump_version
from casegate.routing.vocabulary import MatchType

_operations: ContextVar[list[dict[str, Any]] | None] = ContextVar("rule_operations",
                                                                  default=None)
_SKIPPED = {"created_at", "updated_at"}
_BATCH = 2000


class VersionError(CasegateError):
    """A version could not be shown or restored."""


@cache
def _stored() -> tuple[str, ...]:
    return tuple(f.attname for f in Rule._meta.concrete_fields if f.attname not in _SKIPPED)


def rule_fields(rule: Rule) -> dict[str, Any]:
    """The rule's stored fields (foreign keys as ids), enough to recreate it."""
    return {name: getattr(rule, name) for name in _stored()}


def audit_actor() -> str:
    """Who the audit log names for the change being made (the console's user, cli:<login>)."""
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
                _audit_replacements(RuleVersion.objects.create(
                    summary=summary[:500], actor=audit_actor(), operations=operations))
    finally:
        _operations.reset(token)


def record(operation: dict[str, Any]) -> None:
    operations = _operations.get()
    if operations is not None:
        operations.append(operation)


def history(limit: int = 50) -> list[RuleVersion]:
    return list(RuleVersion.objects.order_by("-number")[:limit])


def set_order(ids: list[int]) -> None:
    """Number the rules 1, 2, … in the order of ``ids`` (rules not named follow, in their
    current order), in one bulk update."""
    present = dict(Rule.objects.values_list("id", "position"))
    named = [pk for pk in dict.fromkeys(ids) if pk in present]
    seen = set(named)
    rest = sorted((pk for pk in present if pk not in seen), key=lambda pk: (present[pk], pk))
    changed = [Rule(pk=pk, position=position)
               for position, pk in enumerate(named + rest, start=1) if present[pk] != position]
    Rule.objects.bulk_update(changed, ["position"], batch_size=1000)
    bump_version()


def insert_rules(rules: list[Rule]) -> list[Rule]:
    """Save new rules in bulk and give them their numbers. Unlike a rule saved alone, no
    signal per rule: the caller bumps the routing version once (:func:`set_order`), and
    the version's audit log entry stands for the rules (:func:`versioned`).

    ``bulk_create`` spends six seconds on 100,000 rules preparing each value on its own;
    only the JSON fields need converting, and the times are the same for all. PostgreSQL
    takes the rows with ``COPY``, numbered from the table's sequence beforehand: an
    ``INSERT`` of one array per column, as ``bulk_create`` does it, spent more than half
    of its time turning Python lists into arrays. SQLite gets one ``INSERT`` a batch that
    returns the numbers."""
    connection = connections[Rule.objects.db]
    if not rules:
        return rules
    if not connection.features.can_return_rows_from_bulk_insert:
        return Rule.objects.bulk_create(rules, batch_size=_BATCH)
    by_copy = connection.vendor == "postgresql"
    # Rules restored by a rollback come back with their numbers.
    numbered = any(rule.pk is not None for rule in rules)
    fields = [f for f in Rule._meta.concrete_fields
              if numbered or by_copy or not f.primary_key]
    now = timezone.now()
    constant = {i: f.get_db_prep_save(now, connection) for i, f in enumerate(fields)
                if isinstance(f, models.DateTimeField)}
    # An empty list, what most rules hold in their JSON fields, is written out once.
    converted = [(i, f.encoder, connection.ops.adapt_json_value([], f.encoder))
                 for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    values_of = attrgetter(*(f.attname for f in fields))

    def row(rule: Rule) -> list[Any]:
        rule.created_at = rule.updated_at = now
        rule._state.adding = False
        rule._state.db = connection.alias
        values = list(values_of(rule))
        for i, value in constant.items():
            values[i] = value
        for i, encoder, empty in converted:
            value = values[i]
            values[i] = empty if value == [] else connection.ops.adapt_json_value(value,
                                                                                  encoder)
        return values

    quote = connection.ops.quote_name
    table, key = Rule._meta.db_table, "id"
    into = f"{quote(table)} ({', '.join(quote(str(f.column)) for f in fields)})"
    with connection.cursor() as cursor:
        if by_copy:
            if not numbered:
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                               "FROM generate_series(1, %s)", [table, key, len(rules)])
                for rule, (pk,) in zip(rules, sorted(cursor.fetchall()), strict=True):
                    rule.pk = pk
            with cursor.copy(f"COPY {into} FROM STDIN") as copy:
                for rule in rules:
                    copy.write_row(row(rule))
            return rules
        batch_size = min(connection.ops.bulk_batch_size(fields, rules) or _BATCH, _BATCH)
        placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(rules), batch_size):
            batch = rules[start:start + batch_size]
            cursor.execute(f"INSERT INTO {into} VALUES "
                           + ", ".join([placeholders] * len(batch))
                           + f" RETURNING {quote(key)}",
                           [value for rule in batch for value in row(rule)])
            for rule, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                rule.pk = pk
    return rules


def delete_rules(rules: list[Rule]) -> None:
    """Delete rules in batches; like :func:`insert_rules`, without a signal per rule."""
    ids = [rule.pk for rule in rules]
    for start in range(0, len(ids), _BATCH):
        Rule.objects.filter(pk__in=ids[start:start + _BATCH])._raw_delete(Rule.objects.db)


def _audit_replacements(version: RuleVersion) -> None:
    """One audit log entry for the rules a version inserted and deleted in bulk (an import,
    or undoing one), instead of one per rule (100,000 for such an import): who, when, from
    where and how many; the version holds the rules themselves."""
    from auditlog.models import LogEntry

    replaced = [op for op in version.operations if op["op"] == "replace"]
    if replaced:
        LogEntry.objects.log_create(version, force_log=True, action=LogEntry.Action.CREATE,
                                    changes={
            "rules added": [None, sum(len(op["inserted"]) for op in replaced)],
            "rules removed": [None, sum(len(op["deleted"]) for op in replaced)]})


def _check_restorable(fields: dict[str, Any]) -> None:
    for attname, model, what in (("route_id", Route, "route"),
                                 ("sender_list_id", AddressList, "address list"),
                                 ("recipient_list_id", AddressList, "address list"),
                                 ("org_unit_id", OrgUnit, "unit")):
        if fields.get(attname) and not model.objects.filter(pk=fields[attname]).exists():
            raise VersionError(f"rule #{fields['id']} cannot be restored: its {what} no longer "
                               "exists")
    if Rule.objects.filter(pk=fields["id"]).exists():
        raise VersionError(f"rule #{fields['id']} exists again; it cannot be restored twice")
    if fields.get("match_type") == MatchType.ADDRESS:
        owner = owner_of(fields["match_value"])
        if owner is not None and not owner.forwarding:
            raise VersionError(
                f"rule #{fields['id']} cannot be restored: {fields['match_value']} is now "
                f"{owner}, and a forwarding address must not be an account, mailbox or group")


def replace_rules(removed: list[Rule], added: list[Rule], before: list[int],
                  after: list[int]) -> None:
    """Delete ``removed`` and put the rules in the order ``after`` (``added``, saved
    already, among them), as one operation of the current version: an import, or undoing
    one."""
    deleted = [rule_fields(rule) for rule in removed]
    delete_rules(removed)
    set_order(after)
    # The added rules by number only: they are in the rule table, and a later version that
    # removes one keeps its fields. (Writing out their fields
    # took a sixth of an import's time.)
    record({"op": "replace", "deleted": deleted, "inserted": [rule.pk for rule in added],
            "before": before, "after": after})


def _restore(fields: dict[str, Any]) -> None:
    """Recreate a deleted rule with its number, at its position."""
    _check_restorable(fields)
    last = Rule.objects.count()
    position = min(fields["position"], last + 1)
    Rule.objects.filter(position__gte=position).update(position=F("position") + 1)
    rule = Rule.objects.create(**{**fields, "position": position})
    record({"op": "insert", "rule": rule_fields(rule)})


def _undo(operation: dict[str, Any]) -> None:
    # Here, not at the top: the rule services record their changes with this module.
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
        elif kind == "replace":
            for fields in operation["deleted"]:
                _check_restorable(fields)
            restored = insert_rules([Rule(**fields) for fields in operation["deleted"]])
            # Versions written before kept each added rule's fields.
            inserted = [entry["id"] if isinstance(entry, dict) else entry
                        for entry in operation["inserted"]]
            replace_rules(list(Rule.objects.filter(pk__in=inserted)), restored,
                          operation["after"], operation["before"])
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

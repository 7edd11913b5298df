"""The triggers as data: adding, removing, moving, enabling; every change a numbered version
that can be rolled back; the whole set as a YAML file, imported all or nothing.

A version keeps the whole set as it was after the change, in order (a desk has tens or
hundreds of triggers, not the routing rules' hundred thousand), so rolling back to a
version makes the set that version's again, as one more version. Triggers are known by
their name: an import or a rollback updates the triggers it keeps in place.

.. code-block:: yaml

    triggers:
      - name: Refunds to billing
        events: [case_created]
        conditions:
          all:
            - {field: intake, is: help@solarmora.com}
            - {field: subject, contains: refund}
        actions:
          - team: Billing
          - assign_round_robin: Billing
          - add_tags: [refund]
          - reply: "Hello {{requester.name}}, billing has your request {{case.number}}."
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from casegate.desk.automation.rules import TriggerError, TriggerSpec, check_trigger
from casegate.desk.models import Trigger, TriggerVersion
from casegate.desk.ordering import make_room, moved, renumber
from casegate.desk.rule_files import (
    LINE_KEY,
    dump,
    file_diff,
    line_of,
    load_with_lines,
    without_lines,
)
from casegate.errors import CasegateError
from casegate.routing.versions import audit_actor


class TriggerSetError(CasegateError):
    """A file or a version was refused; nothing changed."""


def _leading(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    """``mapping`` with ``key`` first (PostgreSQL keeps no order of keys): a condition's
    field, an action's kind before its text."""
    return {key: mapping[key], **{k: v for k, v in mapping.items() if k != key}}


def trigger_dict(trigger: Trigger) -> dict[str, Any]:
    """A trigger as the API, the export and the versions show it (defaults left out)."""
    shown: dict[str, Any] = {"name": trigger.name, "events": trigger.events}
    conditions = {group: [_leading(c, "field") for c in trigger.conditions[group]]
                  for group in ("all", "any") if trigger.conditions.get(group)}
    if conditions:
        shown["conditions"] = conditions
    shown["actions"] = [_leading(action, next(k for k in action if k != "text"))
                        for action in trigger.actions]
    if not trigger.enabled:
        shown["enabled"] = False
    if trigger.description:
        shown["description"] = trigger.description
    return shown


def _ordered() -> list[Trigger]:
    return list(Trigger.objects.order_by("position", "id"))


def _version(summary: str) -> TriggerVersion:
    return TriggerVersion.objects.create(summary=summary[:500], actor=audit_actor(),
                                         triggers=[trigger_dict(t) for t in _ordered()])


def find_trigger(reference: str | int) -> Trigger:
    """A trigger by its number or its name."""
    text = str(reference).strip()
    found = (Trigger.objects.filter(pk=int(text)).first() if text.isdigit() else None) \
        or Trigger.objects.filter(name=text).first()
    if found is None:
        raise TriggerError(f"there is no trigger {text!r}; see: casegate trigger list")
    return found


def _spec_fields(spec: TriggerSpec) -> dict[str, Any]:
    return {"events": spec.events, "conditions": spec.conditions, "actions": spec.actions,
            "enabled": spec.enabled, "description": spec.description}


@transaction.atomic
def add_trigger(data: dict[str, Any], position: int | None = None) -> Trigger:
    """A new trigger, last or at ``position`` (1 runs first)."""
    spec = check_trigger(data)
    if Trigger.objects.filter(name=spec.name).exists():
        raise TriggerError(f"there is a trigger named {spec.name!r} already")
    place = make_room(Trigger, position)
    trigger = Trigger.objects.create(name=spec.name, position=place, **_spec_fields(spec))
    _version(f"add {spec.name}")
    return trigger


@transaction.atomic
def remove_trigger(reference: str | int) -> None:
    trigger = find_trigger(reference)
    trigger.delete()
    renumber(Trigger, [t.pk for t in _ordered()])
    _version(f"remove {trigger.name}")


@transaction.atomic
def move_trigger(reference: str | int, position: int) -> Trigger:
    trigger = find_trigger(reference)
    renumber(Trigger, moved([row.pk for row in _ordered()], trigger.pk, position))
    _version(f"move {trigger.name} to {position}")
    trigger.refresh_from_db()
    return trigger


@transaction.atomic
def set_enabled(reference: str | int, enabled: bool) -> Trigger:
    trigger = find_trigger(reference)
    if trigger.enabled != enabled:
        trigger.enabled = enabled
        trigger.save(update_fields=["enabled", "updated_at"])
        _version(f"{'enable' if enabled else 'disable'} {trigger.name}")
    return trigger


def _replace(specs: list[TriggerSpec], summary: str) -> TriggerVersion | None:
    """Make the set exactly ``specs``, in their order, as one version (None: no change)."""
    before = [trigger_dict(t) for t in _ordered()]
    existing = {t.name: t for t in _ordered()}
    wanted = {spec.name for spec in specs}
    Trigger.objects.filter(pk__in=[t.pk for name, t in existing.items()
                                   if name not in wanted]).delete()
    ids = []
    for position, spec in enumerate(specs, start=1):
        trigger = existing.get(spec.name)
        if trigger is None:
            trigger = Trigger.objects.create(name=spec.name, position=position,
                                             **_spec_fields(spec))
        else:
            for name, value in _spec_fields(spec).items():
                setattr(trigger, name, value)
            trigger.save()
        ids.append(trigger.pk)
    renumber(Trigger, ids)
    if [trigger_dict(t) for t in _ordered()] == before:
        return None
    return _version(summary)


def history(limit: int = 50) -> list[TriggerVersion]:
    return list(TriggerVersion.objects.order_by("-number")[:limit])


@transaction.atomic
def rollback(number: int) -> TriggerVersion | None:
    """Make the triggers what they were right after version ``number`` (0: none at all)."""
    if number == 0:
        triggers: list[Any] = []
    else:
        version = TriggerVersion.objects.filter(number=number).first()
        if version is None:
            raise TriggerSetError(f"there is no version {number}; see: casegate trigger "
                                  "history")
        triggers = version.triggers
    return _replace([check_trigger(data) for data in triggers], f"rollback to version {number}")


# The set as a YAML file.

_HEADER = "# casegate triggers: they run in this order\n"


def export_triggers() -> str:
    triggers = [trigger_dict(t) for t in _ordered()]
    return dump(_HEADER, {"triggers": triggers})


def parse_triggers(text: str, source: str = "triggers.yaml") -> list[TriggerSpec]:
    """The file's triggers, checked; :class:`TriggerSetError` names every bad line."""
    document = load_with_lines(text, source, TriggerSetError)
    if document is None:
        return []
    if not isinstance(document, dict) or set(document) - {"triggers", LINE_KEY} \
            or not isinstance(document.get("triggers", []), list):
        raise TriggerSetError(f"{source}:1: the file holds one key, triggers, a list")
    specs: list[TriggerSpec] = []
    errors: list[str] = []
    names: set[str] = set()
    for item in document.get("triggers") or []:
        item_line = line_of(item)
        try:
            spec = check_trigger(item)
        except TriggerError as exc:
            bad_line = exc.at.get(LINE_KEY, item_line) if exc.at else item_line
            errors.append(f"{source}:{bad_line}: {exc}")
            continue
        if spec.name in names:
            errors.append(f"{source}:{item_line}: a second trigger named {spec.name!r}")
        names.add(spec.name)
        specs.append(TriggerSpec(**without_lines(spec.as_dict())))
    if errors:
        raise TriggerSetError("\n".join([*errors, "nothing was changed"]))
    return specs


@dataclass
class ImportResult:
    diff: str
    version: int | None
    triggers: int


def import_triggers(text: str, source: str = "triggers.yaml", dry_run: bool = False
                    ) -> ImportResult:
    """Make the triggers the file's, as one version; with ``dry_run`` only say what would
    change."""
    specs = parse_triggers(text, source)
    before = export_triggers()
    after = dump(_HEADER, {"triggers": [_shown(spec) for spec in specs]})
    diff = file_diff(before, after, "current triggers", source)
    result = ImportResult(diff, None, len(specs))
    if dry_run or not diff:
        return result
    with transaction.atomic():
        version = _replace(specs, f"import {source}")
    result.version = version.number if version else None
    return result


def _shown(spec: TriggerSpec) -> dict[str, Any]:
    return trigger_dict(Trigger(name=spec.name, **_spec_fields(spec)))


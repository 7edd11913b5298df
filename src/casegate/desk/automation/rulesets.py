"""Rules kept as an ordered set: the triggers and the automations. Adding, removing, moving,
enabling; every change a numbered version that can be rolled back; the whole set as a YAML
file, imported all or nothing.

A version keeps the whole set as it was after the change, in order (a desk has tens or
hundreds of rules, not the routing rules' hundred thousand), so rolling back to a version
makes the set that version's again, as one more version. Rules are known by their name: an
import or a rollback updates the rules it keeps in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import models, transaction

from casegate.desk.automation.rules import TriggerError
from casegate.desk.ordering import make_room, moved, renumber, replace_rows
from casegate.desk.references import by_number_or_name
from casegate.desk.rule_files import (
    ImportResult,
    checked_items,
    dump,
    file_diff,
    listed,
    without_lines,
)
from casegate.errors import CasegateError
from casegate.routing.versions import audit_actor


class TriggerSetError(CasegateError):
    """A file or a version was refused; nothing changed."""


class Spec(Protocol):
    """A rule as checked (:class:`~casegate.desk.automation.rules.TriggerSpec` and its
    like)."""

    @property
    def name(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


def _leading(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    """``mapping`` with ``key`` first (PostgreSQL keeps no order of keys): a condition's
    field, an action's kind before its text."""
    return {key: mapping[key], **{k: v for k, v in mapping.items() if k != key}}


def _fields(spec: Spec) -> dict[str, Any]:
    return {name: value for name, value in spec.as_dict().items() if name != "name"}


@dataclass(frozen=True)
class RuleSet:
    """One kind of rule: its model (name, position, enabled, description, conditions,
    actions and the kind's own ``keys``), its versions' model (whose ``plural`` field holds
    the set), and how one is checked."""

    noun: str
    plural: str
    model: type[models.Model]
    versions: type[models.Model]
    check: Callable[[Any], Spec]
    keys: tuple[str, ...] = ()

    def as_dict(self, rule: Any) -> dict[str, Any]:
        """A rule as the API, the export and the versions show it (defaults left out)."""
        shown: dict[str, Any] = {"name": rule.name}
        shown.update({key: getattr(rule, key) for key in self.keys})
        conditions = {group: [_leading(c, "field") for c in rule.conditions[group]]
                      for group in ("all", "any") if rule.conditions.get(group)}
        if conditions:
            shown["conditions"] = conditions
        shown["actions"] = [_leading(action, next(k for k in action if k != "text"))
                            for action in rule.actions]
        if not rule.enabled:
            shown["enabled"] = False
        if rule.description:
            shown["description"] = rule.description
        return shown

    def ordered(self) -> list[Any]:
        return list(self.model._default_manager.order_by("position", "id"))

    def _version(self, summary: str) -> Any:
        return self.versions._default_manager.create(
            summary=summary[:500], actor=audit_actor(),
            **{self.plural: [self.as_dict(r) for r in self.ordered()]})

    def find(self, reference: str | int) -> Any:
        """A rule by its number or its name."""
        found = by_number_or_name(self.model._default_manager.all(), reference)
        if found is None:
            raise TriggerError(f"there is no {self.noun} {str(reference).strip()!r}; see: "
                               f"casegate {self.noun} list")
        return found

    def add(self, data: dict[str, Any], position: int | None = None) -> Any:
        """A new rule, last or at ``position`` (1 runs first)."""
        with transaction.atomic():
            spec = self.check(data)
            rules = self.model._default_manager
            if rules.filter(name=spec.name).exists():
                raise TriggerError(f"there is a {self.noun} named {spec.name!r} already")
            rule = rules.create(name=spec.name, position=make_room(self.model, position),
                                **_fields(spec))
            self._version(f"add {spec.name}")
            return rule

    def update(self, reference: str | int, data: dict[str, Any]) -> Any:
        """The rule as ``data`` says, in its place."""
        with transaction.atomic():
            rule = self.find(reference)
            spec = self.check(data)
            if spec.name != rule.name and \
                    self.model._default_manager.filter(name=spec.name).exists():
                raise TriggerError(f"there is a {self.noun} named {spec.name!r} already")
            rule.name = spec.name
            for name, value in _fields(spec).items():
                setattr(rule, name, value)
            rule.save()
            self._version(f"edit {spec.name}")
            return rule

    def remove(self, reference: str | int) -> None:
        with transaction.atomic():
            rule = self.find(reference)
            rule.delete()
            renumber(self.model, [r.pk for r in self.ordered()])
            self._version(f"remove {rule.name}")

    def move(self, reference: str | int, position: int) -> Any:
        with transaction.atomic():
            rule = self.find(reference)
            renumber(self.model, moved([r.pk for r in self.ordered()], rule.pk, position))
            self._version(f"move {rule.name} to {position}")
            rule.refresh_from_db()
            return rule

    def set_enabled(self, reference: str | int, enabled: bool) -> Any:
        with transaction.atomic():
            rule = self.find(reference)
            if rule.enabled != enabled:
                rule.enabled = enabled
                rule.save(update_fields=["enabled", "updated_at"])
                self._version(f"{'enable' if enabled else 'disable'} {rule.name}")
            return rule

    def replace(self, specs: list[Spec], summary: str) -> Any:
        """Make the set exactly ``specs``, in their order, as one version (None: no
        change)."""
        before = [self.as_dict(r) for r in self.ordered()]
        replace_rows(self.model, [(spec.name, _fields(spec)) for spec in specs])
        if [self.as_dict(r) for r in self.ordered()] == before:
            return None
        return self._version(summary)

    def history(self, limit: int = 50) -> list[Any]:
        return list(self.versions._default_manager.order_by("-number")[:limit])

    def rollback(self, number: int) -> Any:
        """Make the set what it was right after version ``number`` (0: none at all)."""
        with transaction.atomic():
            if number == 0:
                kept: list[Any] = []
            else:
                version = self.versions._default_manager.filter(number=number).first()
                if version is None:
                    raise TriggerSetError(f"there is no version {number}; see: casegate "
                                          f"{self.noun} history")
                kept = getattr(version, self.plural)
            return self.replace([self.check(data) for data in kept],
                                f"rollback to version {number}")

    # The set as a YAML file.

    @property
    def _header(self) -> str:
        return f"# casegate {self.plural}: they run in this order\n"

    def _dump(self, rules: list[dict[str, Any]]) -> str:
        return dump(self._header, {self.plural: rules})

    def export(self) -> str:
        return self._dump([self.as_dict(r) for r in self.ordered()])

    def parse(self, text: str, source: str) -> list[Spec]:
        """The file's rules, checked; :class:`TriggerSetError` names every bad line."""
        items = listed(text, source, self.plural, TriggerSetError)
        errors: list[str] = []
        checked = checked_items(items, self.check, self.noun, source,
                                errors)
        if errors:
            raise TriggerSetError("\n".join([*errors, "nothing was changed"]))
        return [type(spec)(**without_lines(spec.as_dict())) for _, spec in checked]

    def import_(self, text: str, source: str, dry_run: bool = False) -> ImportResult:
        """Make the set the file's, as one version; with ``dry_run`` only say what would
        change."""
        specs = self.parse(text, source)
        before = self.export()
        after = self._dump([self.as_dict(self.model(name=spec.name, **_fields(spec)))
                            for spec in specs])
        diff = file_diff(before, after, f"current {self.plural}", source)
        result = ImportResult(diff, None, len(specs))
        if dry_run or not diff:
            return result
        with transaction.atomic():
            version = self.replace(specs, f"import {source}")
        result.version = version.number if version else None
        return result

"""Rules kept as an ordered set: the triggers and the automations. Adding, removing, moving,
enabling; every change a numbered version that can be rolled back; the whole set as a YAML
file, imported all or nothing.

A version keeps the whole set as it was after the change, in order (a desk has tens or
hundreds of rules, not the routing rules' hundred thousand), so rolling back to a version
makes the set that version's again, as one more version. Rules are known by their name: an
import or a rollback updates the rules it keeps in place.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import yaml
from django.db import models, transaction
from django.db.models import F

from casegate.desk.automation.rules import LINE_KEY, TriggerError
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


class _LineLoader(yaml.SafeLoader):
    """Notes each mapping's line, so a problem names it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=True)
        mapping[LINE_KEY] = node.start_mark.line + 1
        return mapping


def _without_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_lines(v) for k, v in value.items() if k != LINE_KEY}
    if isinstance(value, list):
        return [_without_lines(v) for v in value]
    return value


@dataclass
class ImportResult:
    diff: str
    version: int | None
    rules: int


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
        text = str(reference).strip()
        rules = self.model._default_manager
        found = (rules.filter(pk=int(text)).first() if text.isdigit() else None) \
            or rules.filter(name=text).first()
        if found is None:
            raise TriggerError(f"there is no {self.noun} {text!r}; see: casegate {self.noun} "
                               "list")
        return found

    def _renumber(self, ids: list[int]) -> None:
        """Positions 1, 2, … in the order of ``ids``."""
        rules: dict[int, Any] = self.model._default_manager.in_bulk(ids)
        changed = []
        for position, pk in enumerate(ids, start=1):
            if rules[pk].position != position:
                rules[pk].position = position
                changed.append(rules[pk])
        self.model._default_manager.bulk_update(changed, ["position"])

    def add(self, data: dict[str, Any], position: int | None = None) -> Any:
        """A new rule, last or at ``position`` (1 runs first)."""
        with transaction.atomic():
            spec = self.check(data)
            rules = self.model._default_manager
            if rules.filter(name=spec.name).exists():
                raise TriggerError(f"there is a {self.noun} named {spec.name!r} already")
            count = rules.count()
            place = count + 1 if position is None else max(1, min(position, count + 1))
            rules.filter(position__gte=place).update(position=F("position") + 1)
            rule = rules.create(name=spec.name, position=place, **_fields(spec))
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
            self._renumber([r.pk for r in self.ordered()])
            self._version(f"remove {rule.name}")

    def move(self, reference: str | int, position: int) -> Any:
        with transaction.atomic():
            rule = self.find(reference)
            ids = [r.pk for r in self.ordered() if r.pk != rule.pk]
            ids.insert(max(0, min(position - 1, len(ids))), rule.pk)
            self._renumber(ids)
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
        existing = {r.name: r for r in self.ordered()}
        wanted = {spec.name for spec in specs}
        rules = self.model._default_manager
        rules.filter(pk__in=[r.pk for name, r in existing.items() if name not in wanted]).delete()
        ids = []
        for position, spec in enumerate(specs, start=1):
            rule = existing.get(spec.name)
            if rule is None:
                rule = rules.create(name=spec.name, position=position, **_fields(spec))
            else:
                for name, value in _fields(spec).items():
                    setattr(rule, name, value)
                rule.save()
            ids.append(rule.pk)
        self._renumber(ids)
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
        return self._header + yaml.safe_dump({self.plural: rules}, sort_keys=False,
                                             allow_unicode=True, width=100,
                                             default_flow_style=False)

    def export(self) -> str:
        return self._dump([self.as_dict(r) for r in self.ordered()])

    def parse(self, text: str, source: str) -> list[Spec]:
        """The file's rules, checked; :class:`TriggerSetError` names every bad line."""
        try:
            document = yaml.load(text, Loader=_LineLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise TriggerSetError(f"{source}{line}: not valid YAML: "
                                  f"{getattr(exc, 'problem', None) or exc}") from None
        if document is None:
            return []
        if not isinstance(document, dict) or set(document) - {self.plural, LINE_KEY} \
                or not isinstance(document.get(self.plural, []), list):
            raise TriggerSetError(f"{source}:1: the file holds one key, {self.plural}, a list")
        specs: list[Spec] = []
        errors: list[str] = []
        names: set[str] = set()
        for item in document.get(self.plural) or []:
            item_line = item.get(LINE_KEY, 1) if isinstance(item, dict) else 1
            try:
                spec = self.check(item)
            except TriggerError as exc:
                bad_line = exc.at.get(LINE_KEY, item_line) if exc.at else item_line
                errors.append(f"{source}:{bad_line}: {exc}")
                continue
            if spec.name in names:
                errors.append(f"{source}:{item_line}: a second {self.noun} named "
                              f"{spec.name!r}")
            names.add(spec.name)
            specs.append(type(spec)(**_without_lines(spec.as_dict())))
        if errors:
            raise TriggerSetError("\n".join([*errors, "nothing was changed"]))
        return specs

    def import_(self, text: str, source: str, dry_run: bool = False) -> ImportResult:
        """Make the set the file's, as one version; with ``dry_run`` only say what would
        change."""
        specs = self.parse(text, source)
        before = self.export()
        after = self._dump([self.as_dict(self.model(name=spec.name, **_fields(spec)))
                            for spec in specs])
        diff = "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                            after.splitlines(keepends=True),
                                            f"current {self.plural}", source))
        result = ImportResult(diff, None, len(specs))
        if dry_run or not diff:
            return result
        with transaction.atomic():
            version = self.replace(specs, f"import {source}")
        result.version = version.number if version else None
        return result

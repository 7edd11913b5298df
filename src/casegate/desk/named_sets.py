"""Sets of named things that run in no order (the webhooks, the macros), kept like the
triggers: every change a numbered version holding the whole set, so that any version can be
brought back; the set as a YAML file, imported all or nothing or only checked.

A file shows each item as :meth:`Item.as_dict` does, but the keys a set hides (a webhook's
secret): a version keeps them, so that a rollback restores them; a file need not carry them,
and an item imported without them keeps its own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from django.db import models, transaction

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


class SetError(CasegateError):
    """A file or a version was refused; nothing changed."""


class Item(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key(self) -> Hashable:
        """What tells two items apart (a macro's owner and name)."""

    def as_dict(self) -> dict[str, Any]: ...


ItemT = TypeVar("ItemT", bound=Item)


@dataclass(frozen=True)
class NamedSet(Generic[ItemT]):
    """One kind of item: how one is checked, the set as it is stored (``stored``, each item
    as :meth:`Item.as_dict` shows it), how the stored set is made exactly a list of items
    (``write``, which returns what to tell once, such as a new secret), and the model of the
    versions, whose ``plural`` field holds the set."""

    noun: str
    plural: str
    versions: type[models.Model]
    check: Callable[[Any], ItemT]
    stored: Callable[[], list[ItemT]]
    write: Callable[[list[ItemT]], list[str]]
    hidden: tuple[str, ...] = ()

    def _kept(self, items: list[ItemT]) -> list[dict[str, Any]]:
        return [item.as_dict() for item in sorted(items, key=lambda i: str(i.key))]

    def _shown(self, kept: list[dict[str, Any]]) -> str:
        return dump(f"# casegate {self.plural}\n",
                    {self.plural: [{k: v for k, v in item.items() if k not in self.hidden}
                                   for item in kept]})

    def record(self, summary: str) -> Any:
        """A version holding the set as it is now; call it in the change's transaction."""
        return self.versions._default_manager.create(
            summary=summary[:500], actor=audit_actor(),
            **{self.plural: self._kept(self.stored())})

    def history(self, limit: int = 50) -> list[Any]:
        return list(self.versions._default_manager.order_by("-number")[:limit])

    def export(self) -> str:
        return self._shown(self._kept(self.stored()))

    def parse(self, text: str, source: str) -> list[ItemT]:
        """The file's items, checked; :class:`SetError` names every bad line."""
        items = listed(text, source, self.plural, SetError)
        errors: list[str] = []
        checked = checked_items(items, self.check, self.noun,
                                source, errors, key=lambda item: item.key)
        if errors:
            raise SetError("\n".join([*errors, "nothing was changed"]))
        return [self.check(without_lines(item.as_dict())) for _, item in checked]

    def _replace(self, items: list[ItemT], summary: str) -> tuple[Any, list[str]]:
        """Make the set exactly ``items`` as one version (None: no change), and what to
        tell once."""
        before = self._kept(self.stored())
        notes = self.write(items)
        if self._kept(self.stored()) == before:
            return None, notes
        return self.record(summary), notes

    def import_(self, text: str, source: str, dry_run: bool = False) -> ImportResult:
        """Make the set the file's, as one version; with ``dry_run`` only say what would
        change."""
        items = self.parse(text, source)
        diff = file_diff(self.export(), self._shown(self._kept(items)),
                         f"current {self.plural}", source)
        result = ImportResult(diff, None, len(items))
        if dry_run:
            return result
        with transaction.atomic():
            version, result.notes = self._replace(items, f"import {source}")
        result.version = version.number if version else None
        return result

    def rollback(self, number: int) -> Any:
        """Make the set what it was right after version ``number`` (0: none at all), as one
        more version (None: no change)."""
        with transaction.atomic():
            kept: list[Any] = []
            if number:
                version = self.versions._default_manager.filter(number=number).first()
                if version is None:
                    raise SetError(f"there is no version {number}; see: casegate {self.noun} "
                                   "history")
                kept = getattr(version, self.plural)
            return self._replace([self.check(item) for item in kept],
                                 f"rollback to version {number}")[0]

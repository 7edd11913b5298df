"""Rules kept in order (triggers, automations, SLA policies): each row's ``position``, 1
first, kept 1, 2, … without gaps as rows are added, moved and removed."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Model


def make_room(model: type[Model], position: int | None) -> int:
    """The position a new row takes (last, or ``position`` within the rows), the rows from
    there on moved down one."""
    count = model._default_manager.count()
    place = count + 1 if position is None else max(1, min(position, count + 1))
    model._default_manager.filter(position__gte=place).update(position=F("position") + 1)
    return place


def renumber(model: type[Model], ids: list[int]) -> None:
    """Positions 1, 2, … in the order of ``ids``."""
    rows: dict[Any, Any] = model._default_manager.in_bulk(ids)
    changed = []
    for position, pk in enumerate(ids, start=1):
        if rows[pk].position != position:
            rows[pk].position = position
            changed.append(rows[pk])
    model._default_manager.bulk_update(changed, ["position"])


def moved(ids: list[int], pk: int, position: int) -> list[int]:
    """``ids`` with ``pk`` at ``position`` (1 first)."""
    others = [other for other in ids if other != pk]
    others.insert(max(0, min(position - 1, len(others))), pk)
    return others


def replace_rows(model: type[Model], rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Make the rows exactly ``rows`` (each a name and its fields), in their order: the rows
    of other names removed, those of the same name changed in place."""
    manager = model._default_manager
    current: list[Any] = list(manager.all())
    existing = {row.name: row for row in current}
    wanted = {name for name, _ in rows}
    manager.filter(pk__in=[row.pk for name, row in existing.items() if name not in wanted]
                   ).delete()
    ids = []
    for position, (name, fields) in enumerate(rows, start=1):
        row = existing.get(name)
        if row is None:
            row = manager.create(name=name, position=position, **fields)
        else:
            for field, value in fields.items():
                setattr(row, field, value)
            row.save()
        ids.append(row.pk)
    renumber(model, ids)

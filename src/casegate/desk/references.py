"""Rows that people name by their number or their name (triggers, automations, SLA
policies, webhooks, macros, saved views)."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Case, Model, QuerySet, Value, When

from casegate.text import whole_number

Row = TypeVar("Row", bound=Model)


def by_number_or_name(rows: QuerySet[Row], reference: str | int) -> Row | None:
    """The row of ``rows`` numbered ``reference``, else the first of them (in their order)
    named so. An ``int`` (an API's or a page's id) is a number only: a view named "42" is
    never removed in place of view 42."""
    if isinstance(reference, int):
        return rows.filter(pk=reference).first()
    text = reference.strip()
    number = whole_number(text)
    return (rows.filter(pk=number).first() if number is not None else None) \
        or rows.filter(name=text).first()


def own_first(rows: QuerySet[Row]) -> QuerySet[Row]:
    """``rows`` with a person's own before the shared ones (those with no owner)."""
    return rows.order_by(Case(When(owner__isnull=True, then=Value(1)), default=Value(0)),
                         "name", "id")

"""Rows that people name by their number or their name (triggers, automations, SLA
policies, webhooks, macros, saved views)."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Case, Model, QuerySet, Value, When

Row = TypeVar("Row", bound=Model)


def by_number_or_name(rows: QuerySet[Row], reference: str | int) -> Row | None:
    """The row of ``rows`` numbered ``reference``, else the first of them (in their order)
    named so."""
    text = str(reference).strip()
    return (rows.filter(pk=int(text)).first() if text.isdigit() else None) \
        or rows.filter(name=text).first()


def own_first(rows: QuerySet[Row]) -> QuerySet[Row]:
    """``rows`` with a person's own before the shared ones (those with no owner)."""
    return rows.order_by(Case(When(owner__isnull=True, then=Value(1)), default=Value(0)),
                         "name", "id")

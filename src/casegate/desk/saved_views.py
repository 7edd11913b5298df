"""Saved views: named case lists (filters, search and sort), an agent's own or shared.

A shared view is made and removed by those holding the ``share_views`` privilege
(:mod:`casegate.access`); the command line acts as the operator (``by`` None). Each view's
count is one COUNT query, kept ``COUNT_SECONDS`` per view and reader.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Q, QuerySet

from casegate.access import can
from casegate.desk.case_list import CaseFilter, filtered_cases
from casegate.desk.changes import DeskError
from casegate.desk.models import SavedView
from casegate.desk.references import by_number_or_name, own_first

COUNT_SECONDS = 20
MAX_VIEWS = 100  # an owner's own, and the shared ones

log = logging.getLogger("casegate.desk")


class ViewRefused(DeskError):
    """The user may not change this view (a shared one needs the share_views privilege)."""


class ViewConflict(DeskError):
    """The name is taken, or the owner has as many views as they may."""


def views_for(user: Any) -> QuerySet[SavedView]:
    """The views ``user`` sees: the shared ones and their own (every one, for None)."""
    found = SavedView.objects.select_related("owner")
    return found if user is None else found.filter(Q(owner__isnull=True) | Q(owner=user))


def view_dict(view: SavedView, count: int | None = None) -> dict[str, Any]:
    return {"id": view.pk, "name": view.name,
            "owner": view.owner.get_username() if view.owner else None,
            "shared": view.owner_id is None, "filters": view.filters, "count": count}


@transaction.atomic
def add_view(name: str, wanted: CaseFilter, owner: Any, by: Any = None) -> SavedView:
    """Save ``wanted`` as ``owner``'s view (``owner`` None: shared), asked by ``by``."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DeskError("a view needs a name of at most 100 characters")
    if owner is None and by is not None and not can(by, "share_views"):
        raise ViewRefused("sharing a view needs the share views privilege")
    wanted.check()
    if SavedView.objects.filter(name=name, owner=owner).exists():
        raise ViewConflict(f"there is a {'shared ' if owner is None else ''}view named {name!r}"
                        " already")
    if SavedView.objects.filter(owner=owner).count() >= MAX_VIEWS:
        raise ViewConflict(f"at most {MAX_VIEWS} views each; remove one first")
    return SavedView.objects.create(name=name, owner=owner, filters=wanted.as_dict())


def find_view(reference: str | int, user: Any = None) -> SavedView:
    """A view by number or name among those ``user`` sees (their own first)."""
    found = by_number_or_name(own_first(views_for(user)), reference)
    if found is None:
        raise DeskError(f"there is no view {str(reference).strip()!r}; see: casegate view "
                        "list")
    return found


@transaction.atomic
def remove_view(reference: str | int, by: Any = None) -> SavedView:
    """Remove a view ``by`` sees: their own, or a shared one with the privilege."""
    view = find_view(reference, by)
    if view.owner_id is None and by is not None and not can(by, "share_views"):
        raise ViewRefused("removing a shared view needs the share views privilege")
    view.delete()
    return view


def view_filter(view: SavedView) -> CaseFilter | None:
    """The view's filter, or None when it no longer reads (its intake was removed)."""
    try:
        return CaseFilter.from_dict(view.filters)
    except DeskError:
        return None


def view_count(view: SavedView, user: Any) -> int | None:
    """How many cases ``user`` sees in ``view`` (None: the view no longer reads)."""
    key = (f"casegate:view-count:{view.pk}:{view.updated_at.timestamp()}:"
           f"{getattr(user, 'pk', 0)}")
    count = cache.get(key)
    if count is None:
        wanted = view_filter(view)
        try:
            with transaction.atomic():  # a savepoint: PostgreSQL's transaction goes on
                count = -1 if wanted is None else filtered_cases(wanted, user).count()
        except DatabaseError:  # one view the database cannot read takes no list down with it
            log.exception("view=%s cannot be counted", view.pk)
            count = -1
        cache.set(key, count, COUNT_SECONDS)
    return None if count < 0 else int(count)

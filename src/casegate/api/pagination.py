"""Cursor pagination, shared by every list endpoint.

A cursor is opaque to clients: the last id on the page as 8 bytes in URL-safe base64, so
the strings ``CURSOR_PATTERN`` matches are exactly the valid cursors. Pages follow the id:
rows added meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from ninja.errors import HttpError
from pydantic import Field

from casegate.api.schemas import MAX_ID, Input, omittable

CURSOR_PATTERN = r"^[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]$"  # 8 bytes in 11 characters
_CURSOR = re.compile(CURSOR_PATTERN)

Row = TypeVar("Row", bound=Model)


class PageParams(Input):
    cursor: str = omittable(
        description="the next_cursor of the previous page", extra={"pattern": CURSOR_PATTERN})
    limit: int = Field(50, ge=1, le=200, description="how many items a page holds at most")


def encode_cursor(last_id: int) -> str:
    """The cursor of the page after the one ending with ``last_id``."""
    return base64.urlsafe_b64encode(last_id.to_bytes(8, "big")).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for; a malformed cursor is a 400 saying so."""
    if not _CURSOR.fullmatch(cursor):
        raise HttpError(400, f"the cursor {cursor[:40]!r} is malformed: pass the next_cursor "
                             "of a previous page unchanged, or leave cursor out for the first page")
    return int.from_bytes(base64.urlsafe_b64decode(cursor + "="), "big")


def paginate(rows: QuerySet[Row], page: PageParams, render: Callable[[list[Row]], list[Any]],
             *, newest_first: bool = True) -> dict[str, Any]:
    """One page of ``rows`` by id (``newest_first`` or oldest first), as ``render`` shows it."""
    rows = rows.order_by("-id" if newest_first else "id")
    if page.cursor is not None:
        last = min(decode_cursor(page.cursor), MAX_ID)
        rows = rows.filter(id__lt=last) if newest_first else rows.filter(id__gt=last)
    found = list(rows[: page.limit + 1])
    shown = found[: page.limit]
    more = len(found) > page.limit
    return {"items": render(shown), "next_cursor": encode_cursor(shown[-1].pk) if more else None}

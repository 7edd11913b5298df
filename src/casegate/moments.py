"""Moments as forms and clients give them."""

from __future__ import annotations

from datetime import UTC, datetime


def in_utc(value: datetime) -> datetime:
    """``value`` (aware) in UTC, clamped to the range a datetime can hold."""
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00
        return (datetime.max if value.year > 1 else datetime.min).replace(tzinfo=UTC)

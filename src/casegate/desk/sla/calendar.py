"""Business time: a calendar's weekly hours in its time zone, less its holidays, and the
arithmetic of service levels on it.

Each day's hours are turned into instants through the calendar's time zone, so a day
after a change of summer time has its hours at the same local times and the arithmetic,
done on instants, stays exact. ``None`` as a calendar means around the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEARCH_DAYS = 366 * 5  # a calendar with hours always has some within a week of holidays

Range = tuple[int, int]  # minutes after local midnight, the end after the start (1440 at most)


@dataclass(frozen=True, eq=False)  # known by identity: a quick key for the days' cache
class Calendar:
    """``hours[weekday]`` (0 is Monday): the ranges of that day, in order, not overlapping."""

    timezone: str
    hours: tuple[tuple[Range, ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.hours) != 7 or not any(self.hours):
            raise ValueError("a calendar has the hours of 7 weekdays, some of them open")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def day_ranges(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The business hours of local ``day`` as instants (UTC)."""
        return _day_ranges(self, day)


@lru_cache(maxsize=8192)  # the cases filed in a week count through the same days
def _day_ranges(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    if day in calendar.holidays:
        return ()
    zone = calendar.zone
    ranges = []
    for start, end in calendar.hours[day.weekday()]:
        begins = _instant(day, start, zone)
        ends = _instant(day, end, zone)
        if ends > begins:
            ranges.append((begins, ends))
    return tuple(ranges)


def _instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    local = datetime.combine(day, time()) + timedelta(minutes=minutes)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _days(calendar: Calendar, moment: datetime, step: int) -> Iterator[date]:
    """Local days from the one before ``moment``'s (hours may reach past midnight in UTC)
    onward (``step`` 1), or from the one after it backward (``step`` -1)."""
    day = moment.astimezone(calendar.zone).date() - timedelta(days=step)
    for _ in range(_SEARCH_DAYS):
        yield day
        day += timedelta(days=step)
    raise ValueError("the calendar has no business hours in five years")


def add_business_time(calendar: Calendar | None, start: datetime, amount: timedelta
                      ) -> datetime:
    """The instant when ``amount`` of business time has passed since ``start`` (before it,
    for a negative amount): the first such instant, so the end of a range rather than the
    start of the next. The arithmetic is on UTC instants: Python adds to an aware local time
    on the wall clock."""
    start = start.astimezone(UTC)
    if calendar is None or not amount:
        return start + amount
    if amount < timedelta(0):
        return _back(calendar, start, -amount)
    left = amount
    for day in _days(calendar, start, 1):
        for begins, ends in calendar.day_ranges(day):
            if ends <= start:
                continue
            begins = max(begins, start)
            if left <= ends - begins:
                return begins + left
            left -= ends - begins
    raise AssertionError("unreachable")


def _back(calendar: Calendar, start: datetime, amount: timedelta) -> datetime:
    left = amount
    for day in _days(calendar, start, -1):
        for begins, ends in reversed(calendar.day_ranges(day)):
            if begins >= start:
                continue
            ends = min(ends, start)
            if left <= ends - begins:
                return ends - left
            left -= ends - begins
    raise AssertionError("unreachable")


def business_time_between(calendar: Calendar | None, start: datetime, end: datetime
                          ) -> timedelta:
    """The business time from ``start`` to ``end`` (nothing when ``end`` is not later)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return timedelta(0)
    if calendar is None:
        return end - start
    total = timedelta(0)
    day = start.astimezone(calendar.zone).date() - timedelta(days=1)
    last = end.astimezone(calendar.zone).date() + timedelta(days=1)
    while day <= last:
        for begins, ends in calendar.day_ranges(day):
            overlap = min(ends, end) - max(begins, start)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total

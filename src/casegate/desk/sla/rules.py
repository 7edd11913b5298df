"""SLA calendars and policies as data: checking what is saved, and compiling it for the
clock.

A calendar is a time zone, weekly hours and holidays::

    name: Paris office
    timezone: Europe/Paris
    hours: {mon: 09:00-17:00, tue: [09:00-12:00, 13:00-17:00], ...}
    holidays: [2026-12-25]

A policy names the cases it covers (every condition given must hold: the intake, the
priority, the requester's company, each a text or a list), its calendar (none: around the
clock), its targets (``2h``, ``90m``, ``1h30m`` or a number of minutes) and when to warn
(``80%`` of a target's time used, or ``30m`` before it is due; ``0%``: never)::

    name: Urgent at Solarmora
    conditions: {intake: help@solarmora.com, priority: [high, urgent]}
    calendar: Paris office
    first_response: 2h
    next_response: 4h
    resolution: 16h
    warning: 80%
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from casegate.desk.rule_files import RuleError, refuse_unknown_keys, written_keys
from casegate.desk.sla.calendar import WEEKDAYS, Calendar, Range
from casegate.desk.vocabulary import Priority, SlaTarget
from casegate.directory.addresses import InvalidAddress, normalize_address, normalize_domain

DEFAULT_WARNING = "80%"
CONDITION_KEYS = ("intake", "priority", "company")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
_WARNING = re.compile(r"^\s*(\d{1,2}|100)\s*%\s*$")


class SlaError(RuleError):
    """A calendar or a policy cannot be saved as written; ``at`` is the part at fault."""


def _name(data: dict[str, Any], what: str) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise SlaError(f"{what} needs a name of at most 200 characters", data)
    return name.strip()


def _only(data: Any, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SlaError(f"{what} is a mapping: {', '.join(keys)}")
    refuse_unknown_keys(data, keys, what, SlaError)
    return data


# Calendars.

@dataclass(frozen=True)
class CalendarSpec:
    """A calendar as checked: ``hours`` by weekday name, each a list of ``HH:MM-HH:MM``."""

    name: str
    timezone: str
    hours: dict[str, list[str]]
    holidays: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "timezone": self.timezone, "hours": self.hours,
                "holidays": self.holidays}


_CALENDAR_KEYS = ("name", "timezone", "hours", "holidays")


def _range(text: Any, at: dict[str, Any]) -> Range:
    found = _RANGE.match(text) if isinstance(text, str) else None
    if found is None:
        raise SlaError(f"business hours are ranges like 09:00-17:00, not {text!r}", at)
    start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start_m > 59 or end_m > 59 or end > 24 * 60 or start >= end:
        raise SlaError(f"{text.strip()} is not a range of one day (00:00 to 24:00, the end "
                       "after the start)", at)
    return start, end


def _shown_range(value: Range) -> str:
    return "-".join(f"{minutes // 60:02d}:{minutes % 60:02d}" for minutes in value)


def _day_ranges(value: Any, at: dict[str, Any]) -> list[Range]:
    texts = value if isinstance(value, list) else [] if value in (None, "") else [value]
    ranges = sorted(_range(text, at) for text in texts)
    for before, after in itertools.pairwise(ranges):
        if after[0] < before[1]:
            raise SlaError(f"{_shown_range(before)} and {_shown_range(after)} overlap", at)
    return ranges


def _timezone(value: Any, at: dict[str, Any]) -> str:
    if not isinstance(value, str) or value.strip() not in available_timezones():
        raise SlaError(f"timezone is an IANA time zone such as Europe/Paris, not {value!r}",
                       at)
    try:
        ZoneInfo(value.strip())
    except ZoneInfoNotFoundError:
        raise SlaError(f"the time zone {value!r} is not installed", at) from None
    return value.strip()


def _holiday(value: Any, at: dict[str, Any]) -> str:
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise SlaError(f"a holiday is a date such as 2026-12-25, not {value!r}", at) from None


def check_calendar(data: Any) -> CalendarSpec:
    """A calendar's fields as written (the CLI's, the API's, a YAML file's), checked."""
    data = _only(data, _CALENDAR_KEYS, "a calendar")
    name = _name(data, "a calendar")
    hours = data.get("hours")
    if not isinstance(hours, dict) or set(written_keys(hours)) - set(WEEKDAYS):
        raise SlaError(f"hours are a mapping of weekdays ({', '.join(WEEKDAYS)}) to ranges "
                       "like 09:00-17:00", data)
    shown = {day: [_shown_range(r) for r in _day_ranges(hours.get(day), hours)]
             for day in WEEKDAYS}
    if not any(shown.values()):
        raise SlaError("a calendar needs business hours on at least one weekday", data)
    holidays = data.get("holidays") or []
    if not isinstance(holidays, list):
        raise SlaError("holidays are a list of dates", data)
    return CalendarSpec(name, _timezone(data.get("timezone"), data),
                        {day: ranges for day, ranges in shown.items() if ranges},
                        sorted({_holiday(h, data) for h in holidays}))


def compile_calendar(timezone: str, hours: dict[str, list[str]], holidays: list[str]
                     ) -> Calendar:
    return Calendar(timezone, tuple(tuple(_range(text, {}) for text in hours.get(day, []))
                                    for day in WEEKDAYS),
                    frozenset(date.fromisoformat(day) for day in holidays))


# Policies.

def parse_duration(value: Any, what: str, at: dict[str, Any] | None = None) -> int:
    """Minutes from ``2h``, ``90m``, ``1h30m`` or a number of minutes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    found = _DURATION.match(value) if isinstance(value, str) else None
    minutes = int(found.group(1) or 0) * 60 + int(found.group(2) or 0) if found else 0
    if not minutes:
        raise SlaError(f"{what} is a time such as 2h, 90m or 1h30m, not {value!r}", at)
    return minutes


def shown_duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")


def _warning(value: Any, at: dict[str, Any]) -> str:
    if value is None:
        return DEFAULT_WARNING
    found = _WARNING.match(value) if isinstance(value, str) else None
    if found is not None:
        return f"{int(found.group(1))}%"
    return shown_duration(parse_duration(value, "warning (a share like 80%, or a time)", at))


def _condition_texts(value: Any, key: str, at: dict[str, Any]) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise SlaError(f"the condition on {key} takes a text or a list of texts", at)
    texts = [v.strip().lower() for v in values]
    try:
        if key == "intake":
            texts = [normalize_address(t) for t in texts]
        elif key == "company":
            texts = [normalize_domain(t) for t in texts]
    except InvalidAddress as exc:
        raise SlaError(str(exc), at) from None
    if key == "priority":
        for text in texts:
            if text not in Priority.values:
                raise SlaError(f"a priority is one of {', '.join(Priority.values)}, not "
                               f"{text!r}", at)
    return sorted(set(texts))


@dataclass(frozen=True)
class PolicySpec:
    """A policy as checked: targets in minutes (None: not timed), ``calendar`` by name
    (empty: around the clock)."""

    name: str
    conditions: dict[str, list[str]]
    calendar: str
    first_response: int | None
    next_response: int | None
    resolution: int | None
    warning: str = DEFAULT_WARNING

    def targets(self) -> dict[str, int | None]:
        return {target: getattr(self, target) for target in SlaTarget.values}


_POLICY_KEYS = ("name", "conditions", "calendar", *SlaTarget.values, "warning")


def check_policy(data: Any) -> PolicySpec:
    """A policy's fields as written, checked (its calendar's existence is checked where it
    is saved)."""
    data = _only(data, _POLICY_KEYS, "a policy")
    name = _name(data, "a policy")
    conditions = data.get("conditions") or {}
    if not isinstance(conditions, dict) \
            or set(written_keys(conditions)) - set(CONDITION_KEYS):
        raise SlaError(f"a policy's conditions are a mapping of {', '.join(CONDITION_KEYS)}",
                       data)
    checked = {key: _condition_texts(conditions[key], key, conditions)
               for key in CONDITION_KEYS if key in conditions}
    calendar = data.get("calendar") or ""
    if not isinstance(calendar, str):
        raise SlaError("calendar is a calendar's name (none: around the clock)", data)
    targets = {target: parse_duration(data[target], target.replace("_", " "), data)
               if data.get(target) is not None else None for target in SlaTarget.values}
    if not any(targets.values()):
        raise SlaError(f"a policy needs a target: {', '.join(SlaTarget.values)}", data)
    return PolicySpec(name, checked, calendar.strip(), warning=_warning(data.get("warning"),
                                                                       data), **targets)


def warning_lead(warning: str, target: timedelta) -> timedelta | None:
    """How long before a target's due time it warns (None: it does not)."""
    if warning.endswith("%"):
        share = int(warning[:-1])
        return target * (100 - share) / 100 if share else None
    lead = timedelta(minutes=parse_duration(warning, "warning"))
    return lead if lead < target else None

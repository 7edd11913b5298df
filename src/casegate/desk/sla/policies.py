"""The SLA calendars and policies as data: adding, removing, moving; every change a
numbered version that can be rolled back; both sets as one YAML file, imported all or
nothing. Calendars and policies are known by their names.

.. code-block:: yaml

    calendars:
      - name: Paris office
        timezone: Europe/Paris
        hours: {mon: [09:00-17:00], tue: [09:00-17:00], wed: [09:00-17:00],
                thu: [09:00-17:00], fri: [09:00-17:00]}
        holidays: [2026-12-25]
    policies:
      - name: Urgent
        conditions: {priority: urgent}
        calendar: Paris office
        first_response: 1h
        resolution: 8h
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from casegate.desk.models import SlaCalendar, SlaPolicy, SlaVersion
from casegate.desk.ordering import make_room, moved, renumber, replace_rows
from casegate.desk.references import by_number_or_name
from casegate.desk.rule_files import (
    LINE_KEY,
    checked_items,
    dump,
    file_diff,
    load_with_lines,
)
from casegate.desk.sla.calendar import WEEKDAYS
from casegate.desk.sla.rules import (
    CONDITION_KEYS,
    DEFAULT_WARNING,
    CalendarSpec,
    PolicySpec,
    SlaError,
    check_calendar,
    check_policy,
    shown_duration,
)
from casegate.desk.vocabulary import SlaTarget
from casegate.routing.versions import audit_actor


class SlaSetError(SlaError):
    """A file or a version was refused; nothing changed."""


def calendar_dict(calendar: SlaCalendar) -> dict[str, Any]:
    # PostgreSQL keeps no order of keys: the weekdays and the conditions are put in theirs.
    shown: dict[str, Any] = {"name": calendar.name, "timezone": calendar.timezone,
                             "hours": {day: calendar.hours[day] for day in WEEKDAYS
                                       if day in calendar.hours}}
    if calendar.holidays:
        shown["holidays"] = calendar.holidays
    return shown


def policy_dict(policy: SlaPolicy) -> dict[str, Any]:
    """A policy as the API, the export and the versions show it (defaults left out)."""
    shown: dict[str, Any] = {"name": policy.name}
    if policy.conditions:
        shown["conditions"] = {key: values[0] if len(values) == 1 else values
                               for key in CONDITION_KEYS
                               if (values := policy.conditions.get(key))}
    if policy.calendar is not None:
        shown["calendar"] = policy.calendar.name
    for target in SlaTarget.values:
        minutes = getattr(policy, f"{target}_minutes")
        if minutes:
            shown[target] = shown_duration(minutes)
    if policy.warning != DEFAULT_WARNING:
        shown["warning"] = policy.warning
    return shown


def _calendars() -> list[SlaCalendar]:
    return list(SlaCalendar.objects.order_by("name"))


def _policies() -> list[SlaPolicy]:
    return list(SlaPolicy.objects.select_related("calendar").order_by("position", "id"))


def _version(summary: str) -> SlaVersion:
    return SlaVersion.objects.create(
        summary=summary[:500], actor=audit_actor(),
        calendars=[calendar_dict(c) for c in _calendars()],
        policies=[policy_dict(p) for p in _policies()])


def find_calendar(name: str) -> SlaCalendar:
    found = SlaCalendar.objects.filter(name=name.strip()).first()
    if found is None:
        raise SlaError(f"there is no calendar {name!r}; see: casegate sla calendar list")
    return found


def find_policy(reference: str | int) -> SlaPolicy:
    """A policy by its number or its name."""
    found = by_number_or_name(SlaPolicy.objects.all(), reference)
    if found is None:
        raise SlaError(f"there is no SLA policy {str(reference).strip()!r}; see: casegate sla "
                       "policy list")
    return found


def _calendar_fields(spec: CalendarSpec) -> dict[str, Any]:
    return {"timezone": spec.timezone, "hours": spec.hours, "holidays": spec.holidays}


def _policy_fields(spec: PolicySpec, calendars: dict[str, SlaCalendar]) -> dict[str, Any]:
    if spec.calendar and spec.calendar not in calendars:
        raise SlaError(f"policy {spec.name!r}: there is no calendar {spec.calendar!r}")
    return {"conditions": spec.conditions, "warning": spec.warning,
            "calendar": calendars[spec.calendar] if spec.calendar else None,
            **{f"{target}_minutes": minutes for target, minutes in spec.targets().items()}}


def _by_name() -> dict[str, SlaCalendar]:
    return {c.name: c for c in _calendars()}


@transaction.atomic
def save_calendar(data: dict[str, Any]) -> SlaCalendar:
    """A new calendar, or new hours for the one of that name."""
    spec = check_calendar(data)
    calendar, created = SlaCalendar.objects.update_or_create(name=spec.name,
                                                             defaults=_calendar_fields(spec))
    _version(f"{'add' if created else 'change'} calendar {spec.name}")
    return calendar


@transaction.atomic
def remove_calendar(name: str) -> None:
    calendar = find_calendar(name)
    users = [p.name for p in SlaPolicy.objects.filter(calendar=calendar)]
    if users:
        raise SlaError(f"calendar {calendar.name!r} is the calendar of {', '.join(users)}")
    calendar.delete()
    _version(f"remove calendar {calendar.name}")


@transaction.atomic
def add_policy(data: dict[str, Any], position: int | None = None) -> SlaPolicy:
    """A new policy, last or at ``position`` (1 is tried first)."""
    spec = check_policy(data)
    if SlaPolicy.objects.filter(name=spec.name).exists():
        raise SlaError(f"there is an SLA policy named {spec.name!r} already")
    fields = _policy_fields(spec, _by_name())
    place = make_room(SlaPolicy, position)
    policy = SlaPolicy.objects.create(name=spec.name, position=place, **fields)
    _version(f"add policy {spec.name}")
    return policy


def intake_policy(address: str, hours: int) -> dict[str, Any]:
    """The policy giving an intake's cases a first response within ``hours``, around the
    clock (what ``casegate intake add --first-response-hours`` adds)."""
    return {"name": f"First response at {address}", "conditions": {"intake": address},
            "first_response": f"{hours}h"}


@transaction.atomic
def remove_policy(reference: str | int) -> None:
    """The cases it timed keep their due times; their clock stops."""
    policy = find_policy(reference)
    policy.delete()
    renumber(SlaPolicy, [p.pk for p in _policies()])
    _version(f"remove policy {policy.name}")


@transaction.atomic
def move_policy(reference: str | int, position: int) -> SlaPolicy:
    policy = find_policy(reference)
    renumber(SlaPolicy, moved([row.pk for row in _policies()], policy.pk, position))
    _version(f"move policy {policy.name} to {position}")
    policy.refresh_from_db()
    return policy


@dataclass
class SlaSet:
    calendars: list[CalendarSpec] = field(default_factory=list)
    policies: list[PolicySpec] = field(default_factory=list)


def _replace(wanted: SlaSet, summary: str) -> SlaVersion | None:
    """Make the calendars and policies exactly ``wanted`` as one version (None: no change)."""
    before = _shown_now()
    calendars = _by_name()
    for calendar in wanted.calendars:
        calendars[calendar.name], _ = SlaCalendar.objects.update_or_create(
            name=calendar.name, defaults=_calendar_fields(calendar))
    replace_rows(SlaPolicy, [(spec.name, _policy_fields(spec, calendars))
                             for spec in wanted.policies])
    kept = {spec.name for spec in wanted.calendars}
    SlaCalendar.objects.exclude(name__in=kept).delete()
    if _shown_now() == before:
        return None
    return _version(summary)


def _shown_now() -> dict[str, Any]:
    return {"calendars": [calendar_dict(c) for c in _calendars()],
            "policies": [policy_dict(p) for p in _policies()]}


def history(limit: int = 50) -> list[SlaVersion]:
    return list(SlaVersion.objects.order_by("-number")[:limit])


@transaction.atomic
def rollback(number: int) -> SlaVersion | None:
    """Make the calendars and policies what they were right after version ``number`` (0:
    none at all)."""
    wanted = SlaSet()
    if number:
        version = SlaVersion.objects.filter(number=number).first()
        if version is None:
            raise SlaSetError(f"there is no version {number}; see: casegate sla history")
        wanted = SlaSet([check_calendar(c) for c in version.calendars],
                        [check_policy(p) for p in version.policies])
    return _replace(wanted, f"rollback to version {number}")


# Both sets as a YAML file.

_HEADER = "# casegate SLA: calendars, then policies, tried in this order\n"


def export_sla() -> str:
    return dump(_HEADER, _shown_now())


def parse_sla(text: str, source: str = "sla.yaml") -> SlaSet:
    """The file's calendars and policies, checked; :class:`SlaSetError` names every bad
    line."""
    document = load_with_lines(text, source, SlaSetError)
    if document is None:
        return SlaSet()
    if not isinstance(document, dict) \
            or set(document) - {"calendars", "policies", LINE_KEY} \
            or not all(isinstance(document.get(key) or [], list)
                       for key in ("calendars", "policies")):
        raise SlaSetError(f"{source}:1: the file holds two keys, calendars and policies, "
                          "each a list")
    errors: list[str] = []
    calendars = checked_items(document.get("calendars") or [], check_calendar, "calendar",
                              source, errors)
    policies = checked_items(document.get("policies") or [], check_policy, "policy", source,
                             errors)
    names = {spec.name for _, spec in calendars}
    errors += [f"{source}:{line}: there is no calendar {spec.calendar!r} in the file"
               for line, spec in policies if spec.calendar and spec.calendar not in names]
    if errors:
        raise SlaSetError("\n".join([*errors, "nothing was changed"]))
    return SlaSet([spec for _, spec in calendars], [spec for _, spec in policies])


@dataclass
class ImportResult:
    diff: str
    version: int | None
    calendars: int
    policies: int


def import_sla(text: str, source: str = "sla.yaml", dry_run: bool = False) -> ImportResult:
    """Make the calendars and policies the file's, as one version; with ``dry_run`` only say
    what would change."""
    wanted = parse_sla(text, source)
    before = export_sla()
    shown_calendars = {c.name: SlaCalendar(name=c.name, **_calendar_fields(c))
                       for c in sorted(wanted.calendars, key=lambda c: c.name)}
    after = dump(_HEADER, {
        "calendars": [calendar_dict(c) for c in shown_calendars.values()],
        "policies": [policy_dict(SlaPolicy(name=p.name, **_policy_fields(p, shown_calendars)))
                     for p in wanted.policies]})
    diff = file_diff(before, after, "current SLA", source)
    result = ImportResult(diff, None, len(wanted.calendars), len(wanted.policies))
    if dry_run or not diff:
        return result
    with transaction.atomic():
        version = _replace(wanted, f"import {source}")
    result.version = version.number if version else None
    return result

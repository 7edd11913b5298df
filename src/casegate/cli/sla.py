"""``casegate sla``: the desk's SLA calendars and policies.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import sys

from casegate.cli.base import (
    OptionError,
    Subcommands,
    add_list,
    command_group,
    count,
    emit,
    read_source,
    read_yaml,
)
from casegate.desk.vocabulary import Priority, SlaTarget

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def register(subcommands: Subcommands) -> None:
    sla = command_group(subcommands, "sla", "service levels: business hours and due times")
    _register_calendar(command_group(sla, "calendar", "business hours, time zone, holidays",
                                     dest="what"))
    _register_policy(command_group(sla, "policy", "which cases get which due times",
                                   dest="what"))
    p = sla.add_parser("export", help="print the calendars and policies as YAML")
    p.set_defaults(func=sla_export)
    p = sla.add_parser("import", help="make the calendars and policies a YAML file's (all "
                                      "or nothing)")
    p.add_argument("file", help="the YAML file (- for standard input)")
    p.add_argument("--dry-run", action="store_true", help="print what would change only")
    p.set_defaults(func=sla_import)
    p = sla.add_parser("history", help="the numbered versions of the calendars and policies")
    p.add_argument("--limit", type=count, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=sla_history)
    p = sla.add_parser("rollback", help="bring the calendars and policies back to a version")
    p.add_argument("version", type=int, help="0: none at all")
    p.set_defaults(func=sla_rollback)


def _register_calendar(calendar: Subcommands) -> None:
    p = calendar.add_parser("add", help="a calendar, or new hours for one of that name")
    p.add_argument("name")
    p.add_argument("--timezone", help="an IANA time zone, such as Europe/Paris")
    p.add_argument("--hours", action="append", default=[], metavar="DAYS=RANGES",
                   help="mon-fri=09:00-12:00,13:00-17:00 (again for other days)")
    p.add_argument("--holiday", action="append", default=[], metavar="YYYY-MM-DD")
    p.add_argument("--file", help="the calendar as YAML (the keys of an export's item)")
    p.set_defaults(func=calendar_add)
    add_list(calendar, calendar_list)
    p = calendar.add_parser("remove")
    p.add_argument("name")
    p.set_defaults(func=calendar_remove)


def _register_policy(policy: Subcommands) -> None:
    p = policy.add_parser("add", help="a policy, tried after those before it")
    p.add_argument("name", nargs="?", default="")
    p.add_argument("--file", help="the policy as YAML (the keys of an export's item)")
    p.add_argument("--intake", action="append", default=[], metavar="ADDR")
    p.add_argument("--priority", action="append", default=[], choices=Priority.values)
    p.add_argument("--company", action="append", default=[], metavar="DOMAIN",
                   help="the requester's company, by its domain")
    p.add_argument("--calendar", default="", help="its name; default: around the clock")
    for target in SlaTarget.values:
        p.add_argument(f"--{target.replace('_', '-')}", dest=target, metavar="TIME",
                       help="such as 2h, 90m, 1h30m")
    p.add_argument("--warning", default=None,
                   help="80%%: when 80%% of a target's time is used (the default); 30m: 30 "
                        "minutes before it is due; 0%%: never")
    p.add_argument("--position", type=int, default=None, help="1 is tried first; default: "
                                                              "last")
    p.set_defaults(func=policy_add)
    add_list(policy, policy_list)
    p = policy.add_parser("remove", help="its cases keep their due times; their clock stops")
    p.add_argument("policy", help="its number or name")
    p.set_defaults(func=policy_remove)
    p = policy.add_parser("move", help="change when a policy is tried")
    p.add_argument("policy", help="its number or name")
    p.add_argument("position", type=int, help="1 is tried first")
    p.set_defaults(func=policy_move)


def _hours(options: list[str]) -> dict[str, list[str]]:
    """``mon-fri=09:00-17:00`` and ``sat=10:00-14:00`` as a calendar's hours."""
    hours: dict[str, list[str]] = {}
    for option in options:
        days, _, ranges = option.partition("=")
        first, _, last = days.strip().lower().partition("-")
        if first not in _WEEKDAYS or (last and last not in _WEEKDAYS) or not ranges:
            raise OptionError(f"--hours {option!r}: DAYS=RANGES, such as "
                              "mon-fri=09:00-12:00,13:00-17:00")
        span = _WEEKDAYS[_WEEKDAYS.index(first):_WEEKDAYS.index(last or first) + 1]
        for day in span:
            hours.setdefault(day, []).extend(r.strip() for r in ranges.split(","))
    return hours


def calendar_add(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import save_calendar

    if args.file:
        data = read_yaml(args.file)
        if isinstance(data, dict):
            data["name"] = args.name
    else:
        data = {"name": args.name, "timezone": args.timezone, "hours": _hours(args.hours),
                "holidays": args.holiday}
    calendar = save_calendar(data)
    print(f"saved calendar {calendar.name!r}")


def calendar_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import SlaCalendar
    from casegate.desk.sla.policies import calendar_dict

    rows = [calendar_dict(c) for c in SlaCalendar.objects.order_by("name")]
    if args.json:
        emit(rows, True, [])
        return
    for row in rows:
        hours = "; ".join(f"{day} {','.join(ranges)}" for day, ranges in row["hours"].items())
        print(f"{row['name']}  {row['timezone']}  {hours}  holidays: "
              f"{len(row.get('holidays', []))}")


def calendar_remove(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import remove_calendar

    remove_calendar(args.name)
    print(f"removed the calendar {args.name!r}")


def policy_add(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import add_policy

    if args.file:
        data = read_yaml(args.file)
        if args.name and isinstance(data, dict):
            data["name"] = args.name
    else:
        conditions = {key: values for key, values in (
            ("intake", args.intake), ("priority", args.priority), ("company", args.company))
            if values}
        data = {"name": args.name, "conditions": conditions, "calendar": args.calendar,
                "warning": args.warning,
                **{target: getattr(args, target) for target in SlaTarget.values}}
    policy = add_policy(data, args.position)
    print(f"added SLA policy #{policy.pk} {policy.name!r} at position {policy.position}")


def policy_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import SlaPolicy
    from casegate.desk.sla.policies import policy_dict

    rows = [{"position": p.position, "id": p.pk, **policy_dict(p)}
            for p in SlaPolicy.objects.select_related("calendar").order_by("position", "id")]
    emit(rows, args.json, ["position", "id", "name", "calendar", *SlaTarget.values])


def policy_remove(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import remove_policy

    remove_policy(args.policy)
    print(f"removed the SLA policy {args.policy}")


def policy_move(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import move_policy

    policy = move_policy(args.policy, args.position)
    print(f"SLA policy {policy.name!r} is now at position {policy.position}")


def sla_export(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import export_sla

    sys.stdout.write(export_sla())


def sla_import(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import import_sla

    source = "<stdin>" if args.file == "-" else args.file
    result = import_sla(read_source(args.file), source, dry_run=args.dry_run)
    sys.stdout.write(result.diff or "no change\n")
    counted = f"{result.calendars} calendars and {result.policies} policies"
    if args.dry_run:
        print(f"dry run: {counted} checked, nothing changed")
    elif result.version is not None:
        print(f"imported {counted} as version {result.version}")


def sla_history(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import history

    rows = [{"version": v.number, "at": v.created_at.isoformat(timespec="seconds"),
             "actor": v.actor, "summary": v.summary, "calendars": len(v.calendars),
             "policies": len(v.policies)} for v in history(args.limit)]
    emit(rows, args.json, ["version", "at", "actor", "summary"])


def sla_rollback(args: argparse.Namespace) -> None:
    from casegate.desk.sla.policies import rollback

    version = rollback(args.version)
    print(f"rolled back to version {args.version}"
          + (f" (recorded as version {version.number})" if version else ": no change"))

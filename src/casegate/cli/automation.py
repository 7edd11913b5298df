"""``casegate trigger`` and ``casegate macro``: the desk's triggers and macros.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from casegate.cli.base import (
    OptionError,
    Subcommands,
    add_list,
    command_group,
    emit,
    read_source,
)
from casegate.desk.automation.vocabulary import ActionKind, ConditionField, TriggerEvent


def register(subcommands: Subcommands) -> None:
    _register_trigger(command_group(subcommands, "trigger",
                                    "what the desk does by itself on case events"))
    _register_macro(command_group(subcommands, "macro",
                                  "actions and a reply agents apply in one step"))


def _add_actions(p: argparse.ArgumentParser) -> None:
    p.add_argument("--action", nargs=2, action="append", default=[], metavar=("KIND", "VALUE"),
                   help=f"in order; KIND: {', '.join(ActionKind.values)} (tags "
                        "comma-separated)")
    p.add_argument("--text", default="", help="the text of notify actions")


def _register_trigger(trigger: Subcommands) -> None:
    p = trigger.add_parser("add", help="a trigger, from options or a YAML file")
    p.add_argument("name", nargs="?", default="")
    p.add_argument("--file", help="one trigger as YAML (the keys of an export's item)")
    p.add_argument("--event", action="append", default=[], choices=TriggerEvent.values)
    for group in ("all", "any"):
        p.add_argument(f"--{group}", nargs=3, action="append", default=[],
                       metavar=("FIELD", "OPERATOR", "VALUE"),
                       help=f"a condition {'every' if group == 'all' else 'one'} of which "
                            f"must hold; FIELD: {', '.join(ConditionField.values)}")
    _add_actions(p)
    p.add_argument("--description", default="")
    p.add_argument("--disabled", action="store_true")
    p.add_argument("--position", type=int, default=None, help="1 runs first; default: last")
    p.set_defaults(func=trigger_add)
    add_list(trigger, trigger_list)
    p = trigger.add_parser("show", help="one trigger as YAML")
    p.add_argument("trigger", help="its number or name")
    p.set_defaults(func=trigger_show)
    p = trigger.add_parser("remove")
    p.add_argument("trigger", help="its number or name")
    p.set_defaults(func=trigger_remove)
    p = trigger.add_parser("move", help="change when a trigger runs")
    p.add_argument("trigger", help="its number or name")
    p.add_argument("position", type=int, help="1 runs first")
    p.set_defaults(func=trigger_move)
    for name in ("enable", "disable"):
        p = trigger.add_parser(name)
        p.add_argument("trigger", help="its number or name")
        p.set_defaults(func=trigger_enable, enabled=name == "enable")
    p = trigger.add_parser("export", help="print the triggers as YAML")
    p.set_defaults(func=trigger_export)
    p = trigger.add_parser("import", help="make the triggers a YAML file's (all or nothing)")
    p.add_argument("file", help="the YAML file (- for standard input)")
    p.add_argument("--dry-run", action="store_true", help="print what would change only")
    p.set_defaults(func=trigger_import)
    p = trigger.add_parser("history", help="the numbered versions of the triggers")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=trigger_history)
    p = trigger.add_parser("rollback", help="bring the triggers back to a version")
    p.add_argument("version", type=int, help="0: no triggers")
    p.set_defaults(func=trigger_rollback)
    p = trigger.add_parser("test", help="which triggers would fire and what they would "
                                        "change; changes and sends nothing")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("case", nargs="?", type=int, metavar="CASE_ID")
    target.add_argument("--message", type=argparse.FileType("rb"), metavar="FILE",
                        help="a message as if it had just come to --intake")
    p.add_argument("--intake", default="", metavar="ADDR", help="the intake of --message")
    p.add_argument("--event", choices=TriggerEvent.values, default=None,
                   help="default: customer_replied for a case, case_created for a message")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=trigger_test)


def _register_macro(macro: Subcommands) -> None:
    p = macro.add_parser("add")
    p.add_argument("name")
    _add_actions(p)
    reply = p.add_mutually_exclusive_group()
    reply.add_argument("--reply", default="", help="mailed to the requester, placeholders "
                                                   "such as {{requester.name}} filled")
    reply.add_argument("--reply-file", type=argparse.FileType("r"), metavar="FILE")
    p.add_argument("--owner", default=None, metavar="USER", help="personal; default: shared")
    p.set_defaults(func=macro_add)
    add_list(macro, macro_list)
    p = macro.add_parser("remove")
    p.add_argument("macro", help="its number or name")
    p.set_defaults(func=macro_remove)
    p = macro.add_parser("apply", help="apply a macro to a case")
    p.add_argument("macro", help="its number or name")
    p.add_argument("case", type=int, metavar="CASE_ID")
    p.add_argument("--as", dest="user", default=None, metavar="USER",
                   help="the agent applying it: their macros, and the reply is theirs "
                        "(default: any macro, the reply the desk's)")
    p.set_defaults(func=macro_apply)


def _condition(field: str, operator: str, value: str) -> dict[str, Any]:
    if field == ConditionField.SPAM:
        return {"field": field, operator: value.lower() in ("true", "yes", "1")}
    values = [v.strip() for v in value.split(",")] if "," in value and operator in (
        "is", "is_not", "includes", "excludes") else value
    return {"field": field, operator: values}


def _actions(pairs: list[list[str]], text: str) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    for kind, value in pairs:
        if kind in (ActionKind.ADD_TAGS, ActionKind.REMOVE_TAGS):
            actions.append({kind: [t for t in value.split(",") if t.strip()]})
        elif kind == ActionKind.NOTIFY:
            actions.append({kind: value, "text": text})
        else:
            actions.append({kind: value})
    return actions


def trigger_add(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import add_trigger

    if args.file:
        try:
            data = yaml.safe_load(read_source(args.file))
        except yaml.YAMLError as exc:
            raise OptionError(f"{args.file}: not valid YAML: {exc}") from None
        if args.name and isinstance(data, dict):
            data["name"] = args.name
    else:
        data = {"name": args.name, "events": args.event,
                "conditions": {"all": [_condition(*c) for c in args.all],
                               "any": [_condition(*c) for c in args.any]},
                "actions": _actions(args.action, args.text),
                "enabled": not args.disabled, "description": args.description}
    trigger = add_trigger(data, args.position)
    print(f"added trigger #{trigger.pk} {trigger.name!r} at position {trigger.position}")


def trigger_list(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import trigger_dict
    from casegate.desk.models import Trigger

    rows = [{"position": t.position, "id": t.pk, **trigger_dict(t), "enabled": t.enabled}
            for t in Trigger.objects.order_by("position", "id")]
    emit(rows, args.json, ["position", "id", "name", "events", "enabled"])


def trigger_show(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import find_trigger, trigger_dict

    sys.stdout.write(yaml.safe_dump(trigger_dict(find_trigger(args.trigger)), sort_keys=False,
                                    allow_unicode=True, width=100))


def trigger_remove(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import remove_trigger

    remove_trigger(args.trigger)
    print(f"removed the trigger {args.trigger}")


def trigger_move(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import move_trigger

    trigger = move_trigger(args.trigger, args.position)
    print(f"trigger {trigger.name!r} is now at position {trigger.position}")


def trigger_enable(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import set_enabled

    trigger = set_enabled(args.trigger, args.enabled)
    print(f"trigger {trigger.name!r} is {'enabled' if trigger.enabled else 'disabled'}")


def trigger_export(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import export_triggers

    sys.stdout.write(export_triggers())


def trigger_import(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import import_triggers

    source = "<stdin>" if args.file == "-" else args.file
    result = import_triggers(read_source(args.file), source, dry_run=args.dry_run)
    sys.stdout.write(result.diff or "no change\n")
    if args.dry_run:
        print(f"dry run: {result.triggers} triggers checked, nothing changed")
    elif result.version is not None:
        print(f"imported {result.triggers} triggers as version {result.version}")


def trigger_history(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import history

    rows = [{"version": v.number, "at": v.created_at.isoformat(timespec="seconds"),
             "actor": v.actor, "summary": v.summary, "triggers": len(v.triggers)}
            for v in history(args.limit)]
    emit(rows, args.json, ["version", "at", "actor", "summary"])


def trigger_rollback(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import rollback

    version = rollback(args.version)
    print(f"rolled back to version {args.version}"
          + (f" (recorded as version {version.number})" if version else ": no change"))


def trigger_test(args: argparse.Namespace) -> None:
    from casegate.desk.automation.simulator import (
        as_dict,
        describe,
        simulate_case,
        simulate_message,
    )

    if args.message is not None:
        if not args.intake:
            raise OptionError("--message needs --intake ADDR: the intake it comes to")
        outcome = simulate_message(args.message.read(), args.intake,
                                   args.event or TriggerEvent.CASE_CREATED)
    else:
        outcome = simulate_case(args.case, args.event or TriggerEvent.CUSTOMER_REPLIED)
    print(json.dumps(as_dict(outcome), indent=2) if args.json else describe(outcome))


def macro_add(args: argparse.Namespace) -> None:
    from casegate.desk.automation.macros import add_macro

    reply = args.reply_file.read() if args.reply_file else args.reply
    macro = add_macro(args.name, _actions(args.action, args.text), reply, args.owner)
    print(f"added macro #{macro.pk} {macro.name!r}"
          + (f" of {args.owner}" if args.owner else " (shared)"))


def macro_list(args: argparse.Namespace) -> None:
    from casegate.desk.automation.macros import macro_dict, macros_for

    emit([macro_dict(m) for m in macros_for(None)], args.json,
         ["id", "name", "owner", "actions"])


def macro_remove(args: argparse.Namespace) -> None:
    from casegate.desk.automation.macros import remove_macro

    macro = remove_macro(args.macro)
    print(f"removed the macro {macro.name!r}")


def macro_apply(args: argparse.Namespace) -> None:
    import getpass

    from django.contrib.auth import get_user_model

    from casegate.desk.automation.macros import apply_macro

    user = None
    if args.user is not None:
        user = get_user_model().objects.filter(username=args.user, is_active=True).first()
        if user is None:
            raise OptionError(f"there is no active user {args.user!r}; see: casegate agent "
                              "list")
    applied = apply_macro(args.macro, args.case, user, getpass.getuser())
    for change in applied.changes:
        print(change)
    if applied.reply is not None:
        print(f"reply {applied.reply.pk} {applied.reply.delivery_status or 'not sent'}")

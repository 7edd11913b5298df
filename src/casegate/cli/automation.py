"""``casegate trigger``, ``casegate automation`` and ``casegate macro``: the desk's
triggers, automations and macros.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml

from casegate.cli.base import (
    OptionError,
    Subcommands,
    add_list,
    command_group,
    emit,
    read_yaml,
)
from casegate.cli.rule_files import register_file_commands
from casegate.desk.automation.vocabulary import (
    AUTOMATION_FIELDS,
    ActionKind,
    ConditionField,
    TimeField,
    TriggerEvent,
)
from casegate.text import whole_number

if TYPE_CHECKING:
    from casegate.desk.automation.rulesets import RuleSet


def register(subcommands: Subcommands) -> None:
    _register_trigger(command_group(subcommands, "trigger",
                                    "what the desk does by itself on case events"))
    _register_automation(command_group(subcommands, "automation",
                                       "what the desk does by itself when hours have passed"))
    _register_macro(command_group(subcommands, "macro",
                                  "actions and a reply agents apply in one step"))


def _add_actions(p: argparse.ArgumentParser) -> None:
    p.add_argument("--action", nargs=2, action="append", default=[], metavar=("KIND", "VALUE"),
                   help=f"in order; KIND: {', '.join(ActionKind.values)} (tags "
                        "comma-separated)")
    p.add_argument("--text", default="", help="the text of notify actions")


def _add_conditions(p: argparse.ArgumentParser, fields: list[str]) -> None:
    for group in ("all", "any"):
        p.add_argument(f"--{group}", nargs=3, action="append", default=[],
                       metavar=("FIELD", "OPERATOR", "VALUE"),
                       help=f"a condition {'every' if group == 'all' else 'one'} of which "
                            f"must hold; FIELD: {', '.join(fields)}")


def _add_rule_options(p: argparse.ArgumentParser, noun: str, fields: list[str]) -> None:
    p.add_argument("name", nargs="?", default="")
    p.add_argument("--file", help=f"one {noun} as YAML (the keys of an export's item)")
    _add_conditions(p, fields)
    _add_actions(p)
    p.add_argument("--description", default="")
    p.add_argument("--disabled", action="store_true")
    p.add_argument("--position", type=int, default=None, help="1 runs first; default: last")


def _register_set(group: Subcommands, kind: str) -> None:
    """The sub-commands triggers and automations share: the set in order, its versions and
    its YAML file."""
    noun = kind[:-1]
    add_list(group, rules_list).set_defaults(kind=kind)
    p = group.add_parser("show", help=f"one {noun} as YAML")
    p.add_argument("rule", metavar=noun, help="its number or name")
    p.set_defaults(func=rules_show, kind=kind)
    p = group.add_parser("remove")
    p.add_argument("rule", metavar=noun, help="its number or name")
    p.set_defaults(func=rules_remove, kind=kind)
    p = group.add_parser("move", help=f"change when a {noun} runs")
    p.add_argument("rule", metavar=noun, help="its number or name")
    p.add_argument("position", type=int, help="1 runs first")
    p.set_defaults(func=rules_move, kind=kind)
    for name in ("enable", "disable"):
        p = group.add_parser(name)
        p.add_argument("rule", metavar=noun, help="its number or name")
        p.set_defaults(func=rules_enable, kind=kind, enabled=name == "enable")
    register_file_commands(group, kind)


def _register_trigger(trigger: Subcommands) -> None:
    p = trigger.add_parser("add", help="a trigger, from options or a YAML file")
    _add_rule_options(p, "trigger", ConditionField.values)
    p.add_argument("--event", action="append", default=[], choices=TriggerEvent.values)
    p.set_defaults(func=trigger_add)
    _register_set(trigger, "triggers")
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


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date and time such as "
                                         "2026-05-01T09:00+00:00") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs its time zone, such as +00:00")
    return moment


def _register_automation(automation: Subcommands) -> None:
    p = automation.add_parser("add", help="an automation, from options or a YAML file")
    _add_rule_options(p, "automation", [*TimeField.values, *AUTOMATION_FIELDS])
    p.set_defaults(func=automation_add)
    _register_set(automation, "automations")
    p = automation.add_parser("run", help="run the automations once now, as the worker's "
                                          "clock does every 5 minutes")
    p.add_argument("--now", type=_moment, default=None, metavar="TIME",
                   help="as if it were this time (ISO 8601 with its zone)")
    p.set_defaults(func=automation_run)
    p = automation.add_parser("test", help="what each automation would do to a case; "
                                           "changes and sends nothing")
    p.add_argument("case", type=int, metavar="CASE_ID")
    p.add_argument("--now", type=_moment, default=None, metavar="TIME",
                   help="as if it were this time (ISO 8601 with its zone)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=automation_test)


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
    register_file_commands(macro, "macros")
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
    if field in TimeField.values:
        number = whole_number(value)
        return {"field": field, operator: value if number is None else number}
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


def _rule_data(args: argparse.Namespace) -> Any:
    if not args.file:
        return {"name": args.name,
                "conditions": {"all": [_condition(*c) for c in args.all],
                               "any": [_condition(*c) for c in args.any]},
                "actions": _actions(args.action, args.text),
                "enabled": not args.disabled, "description": args.description}
    data = read_yaml(args.file)
    if args.name and isinstance(data, dict):
        data["name"] = args.name
    return data


def trigger_add(args: argparse.Namespace) -> None:
    from casegate.desk.automation.triggers import add_trigger

    data = _rule_data(args)
    if not args.file:
        data["events"] = args.event
    trigger = add_trigger(data, args.position)
    print(f"added trigger #{trigger.pk} {trigger.name!r} at position {trigger.position}")


def automation_add(args: argparse.Namespace) -> None:
    from casegate.desk.automation.automations import AUTOMATIONS

    automation = AUTOMATIONS.add(_rule_data(args), args.position)
    print(f"added automation #{automation.pk} {automation.name!r} at position "
          f"{automation.position}")


def _rules(kind: str) -> RuleSet:
    if kind == "triggers":
        from casegate.desk.automation.triggers import TRIGGERS

        return TRIGGERS
    from casegate.desk.automation.automations import AUTOMATIONS

    return AUTOMATIONS


def rules_list(args: argparse.Namespace) -> None:
    rules = _rules(args.kind)
    rows = [{"position": r.position, "id": r.pk, **rules.as_dict(r), "enabled": r.enabled}
            for r in rules.ordered()]
    emit(rows, args.json, ["position", "id", "name", *rules.keys, "enabled"])


def rules_show(args: argparse.Namespace) -> None:
    rules = _rules(args.kind)
    sys.stdout.write(yaml.safe_dump(rules.as_dict(rules.find(args.rule)), sort_keys=False,
                                    allow_unicode=True, width=100))


def rules_remove(args: argparse.Namespace) -> None:
    rules = _rules(args.kind)
    rules.remove(args.rule)
    print(f"removed the {rules.noun} {args.rule}")


def rules_move(args: argparse.Namespace) -> None:
    rules = _rules(args.kind)
    rule = rules.move(args.rule, args.position)
    print(f"{rules.noun} {rule.name!r} is now at position {rule.position}")


def rules_enable(args: argparse.Namespace) -> None:
    rules = _rules(args.kind)
    rule = rules.set_enabled(args.rule, args.enabled)
    print(f"{rules.noun} {rule.name!r} is {'enabled' if rule.enabled else 'disabled'}")


def automation_run(args: argparse.Namespace) -> None:
    from casegate.desk.automation.scheduled import run_automations

    acted = run_automations(args.now)
    if not acted:
        print("no automation is enabled")
    for name, count in acted.items():
        print(f"{name}: acted on {count} case{'' if count == 1 else 's'}")


def automation_test(args: argparse.Namespace) -> None:
    from casegate.desk.automation.scheduled import describe, preview

    previews = preview(args.case, args.now)
    print(json.dumps([p.as_dict() for p in previews], indent=2) if args.json
          else describe(previews))


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

"""``casegate rule`` and what routes mail besides the rules: ``address-list`` (lists that
rules skip or are limited to), ``route`` (named next hops for rules) and ``transport``
(next hops that override MX).

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys

from casegate.cli.base import (
    OptionError,
    Subcommands,
    add_list,
    command_group,
    count,
    emit,
    read_source,
)


def register(subcommands: Subcommands) -> None:
    _register_address_list(command_group(
        subcommands, "address-list",
        "named lists of addresses and domains that rules skip or are limited to"))
    _register_route(command_group(subcommands, "route", "named next hops for rules"))
    _register_rule(command_group(subcommands, "rule", "routing rules"))
    _register_transport(command_group(subcommands, "transport", "next hops that override MX"))


def _register_address_list(lists: Subcommands) -> None:
    p = lists.add_parser("set", help="create a list or replace its entries")
    p.add_argument("name")
    p.add_argument("entries", nargs="*", metavar="ADDR|DOMAIN")
    p.set_defaults(func=address_list_set)
    p = lists.add_parser("remove")
    p.add_argument("name")
    p.set_defaults(func=address_list_remove)
    add_list(lists, address_list_list)


def _register_route(route: Subcommands) -> None:
    p = route.add_parser("add", help="add a route or change its host")
    p.add_argument("name")
    p.add_argument("hostport", metavar="HOST:PORT")
    p.add_argument("--require-tls", action="store_true")
    p.set_defaults(func=route_add)
    p = route.add_parser("remove")
    p.add_argument("name")
    p.set_defaults(func=route_remove)
    add_list(route, route_list)


def _register_rule(rule: Subcommands) -> None:
    _add_rule_options(rule.add_parser("add"))
    add_list(rule, rule_list)
    p = rule.add_parser("remove")
    p.add_argument("id", type=int)
    p.set_defaults(func=rule_remove)
    p = rule.add_parser("move", help="change a rule's priority")
    p.add_argument("id", type=int)
    p.add_argument("position", type=int, help="1 is the highest priority")
    p.set_defaults(func=rule_move)
    p = rule.add_parser("export", help="print the rule set as YAML")
    p.set_defaults(func=rule_export)
    p = rule.add_parser("import", help="make the rule set a YAML file's (all or nothing)")
    p.add_argument("file", help="the YAML file (- for standard input)")
    p.add_argument("--dry-run", action="store_true", help="print what would change only")
    p.set_defaults(func=rule_import)
    p = rule.add_parser("history", help="the numbered versions of the rule set")
    p.add_argument("--limit", type=count, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=rule_history)
    p = rule.add_parser("rollback", help="bring the rule set back to a version")
    p.add_argument("version", type=int)
    p.set_defaults(func=rule_rollback)
    p = rule.add_parser("test", help="what the rules do with a recipient; sends nothing")
    p.add_argument("--rcpt", required=True, metavar="ADDR")
    p.add_argument("--sender", default="", metavar="ADDR")
    p.add_argument("--spam", action="store_true", help="as if classified as spam")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=rule_test)
    for name in ("enable", "disable"):
        p = rule.add_parser(name)
        p.add_argument("id", type=int)
        p.set_defaults(func=rule_enable, enabled=name == "enable")


def _add_rule_options(p: argparse.ArgumentParser) -> None:
    match = p.add_mutually_exclusive_group(required=True)
    match.add_argument("--match", metavar="ADDR")
    match.add_argument("--match-pattern", metavar="REGEX")
    match.add_argument("--match-group", metavar="GROUP",
                       help="recipients who are members of GROUP, directly or through groups")
    match.add_argument("--match-all", action="store_true")
    change = p.add_mutually_exclusive_group()
    change.add_argument("--replace-recipient", metavar="ADDR")
    change.add_argument("--replace-user", metavar="USER")
    change.add_argument("--replace-domain", metavar="DOMAIN")
    p.add_argument("--also-deliver", action="append", default=[], metavar="ADDR")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--reject", nargs="?", const="", metavar="TEXT",
                        help="refuse the message at RCPT with 550 5.7.1 and TEXT; a reject "
                             "wins over every other rule")
    action.add_argument("--quarantine", action="store_true", help="hold the message")
    p.add_argument("--bypass-spam", action="store_true")
    p.add_argument("--apply-to", default=None, metavar="TYPES",
                   help="account types to affect: users, groups, unrecognized (comma-separated)"
                        " or all / recognized; default: all, or unrecognized for --match-all")
    p.add_argument("--unit", default="", metavar="PATH",
                   help="set the rule at this organisational unit (default: the top level)")
    for who in ("senders", "recipients"):
        lists_of = p.add_mutually_exclusive_group()
        lists_of.add_argument(f"--skip-{who}", metavar="LIST", default="",
                              help=f"bypass the rule for the {who} on this address list")
        lists_of.add_argument(f"--only-{who}", metavar="LIST", default="",
                              help=f"apply the rule only to the {who} on this address list")
    p.add_argument("--original-recipient-header", nargs="?", const="X-Casegate-Original-To",
                   default="", metavar="NAME",
                   help="record the original envelope recipient in this header")
    p.add_argument("--spam-headers", action="store_true",
                   help="add X-Casegate-Spam and X-Casegate-Phishing verdict headers")
    p.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                   help="add a custom header (repeatable)")
    p.add_argument("--subject-prefix", default="", metavar="TEXT")
    p.add_argument("--route", default="", metavar="NAME",
                   help="send to this named next hop instead of MX or the mailbox")
    p.add_argument("--remove-attachments", action="store_true",
                   help="replace each attachment with a short notice")
    p.add_argument("--require-tls", action="store_true",
                   help="defer rather than send the onward hop in clear")
    p.add_argument("--rate-limit", type=int, default=None, metavar="N",
                   help="messages per minute each matched recipient takes (451 beyond)")
    p.add_argument("--description", default="")
    p.add_argument("--position", type=int, default=None, help="1 is the highest priority")
    p.add_argument("--disabled", action="store_true")
    p.set_defaults(func=rule_add)


def _register_transport(transport: Subcommands) -> None:
    p = transport.add_parser("add")
    p.add_argument("domain")
    p.add_argument("hostport", metavar="HOST:PORT")
    p.add_argument("--require-tls", action="store_true",
                   help="defer instead of sending in clear when the host lacks STARTTLS")
    p.set_defaults(func=transport_add)
    p = transport.add_parser("remove")
    p.add_argument("domain")
    p.set_defaults(func=transport_remove)
    add_list(transport, transport_list)


def address_list_set(args: argparse.Namespace) -> None:
    from casegate.routing.lists import save_list

    saved = save_list(args.name, args.entries)
    print(f"address list {saved.name}: {len(saved.entries)} entries")


def address_list_remove(args: argparse.Namespace) -> None:
    from casegate.routing.lists import remove_list

    remove_list(args.name)
    print(f"removed the address list {args.name}")


def address_list_list(args: argparse.Namespace) -> None:
    from casegate.routing.models import AddressList

    rows = [{"name": a.name, "entries": a.entries} for a in AddressList.objects.all()]
    emit(rows, args.json, ["name", "entries"])


def route_add(args: argparse.Namespace) -> None:
    from casegate.routing.routes import save_route

    route = save_route(args.name, args.hostport, args.require_tls)
    print(f"route {route.name}: {route.host}:{route.port}"
          + (" (TLS required)" if route.require_tls else ""))


def route_remove(args: argparse.Namespace) -> None:
    from casegate.routing.routes import remove_route

    remove_route(args.name)
    print(f"removed the route {args.name}")


def route_list(args: argparse.Namespace) -> None:
    from casegate.routing.models import Route

    rows = [{"name": r.name, "host": r.host, "port": r.port, "require_tls": r.require_tls}
            for r in Route.objects.all()]
    emit(rows, args.json, ["name", "host", "port", "require_tls"])


def _headers(texts: list[str]) -> list[tuple[str, str]]:
    headers = []
    for text in texts:
        name, sep, value = text.partition(":")
        if not sep:
            raise OptionError(f"--header {text!r}: write it as 'Name: value'")
        headers.append((name.strip(), value.strip()))
    return headers


def rule_add(args: argparse.Namespace) -> None:
    from casegate.routing.models import Rule
    from casegate.routing.services import RuleSpec, add_rule

    match_type, match_value = Rule.MATCH_ALL, ""
    for match, value in ((Rule.MATCH_ADDRESS, args.match),
                         (Rule.MATCH_PATTERN, args.match_pattern),
                         (Rule.MATCH_GROUP, args.match_group)):
        if value:
            match_type, match_value = match, value
    rewrite, rewrite_value = "", ""
    for change, value in ((Rule.REWRITE_RECIPIENT, args.replace_recipient),
                          (Rule.REWRITE_USER, args.replace_user),
                          (Rule.REWRITE_DOMAIN, args.replace_domain)):
        if value:
            rewrite, rewrite_value = change, value
    rule = add_rule(RuleSpec(
        match_type=match_type, match_value=match_value, rewrite=rewrite,
        rewrite_value=rewrite_value, also_deliver=args.also_deliver,
        bypass_spam=args.bypass_spam, apply_to=args.apply_to, description=args.description,
        enabled=not args.disabled, position=args.position,
        action="reject" if args.reject is not None else
        "quarantine" if args.quarantine else "modify",
        reject_text=args.reject or "",
        org_unit=args.unit,
        sender_list=args.skip_senders or args.only_senders,
        sender_list_mode="bypass" if args.skip_senders else "only" if args.only_senders else "",
        recipient_list=args.skip_recipients or args.only_recipients,
        recipient_list_mode=("bypass" if args.skip_recipients else
                             "only" if args.only_recipients else ""),
        original_recipient_header=args.original_recipient_header,
        spam_headers=args.spam_headers, custom_headers=_headers(args.header),
        subject_prefix=args.subject_prefix, route=args.route,
        remove_attachments=args.remove_attachments, require_tls=args.require_tls,
        rate_limit=args.rate_limit,
    ))
    print(f"added rule #{rule.pk} at position {rule.position}")


def rule_list(args: argparse.Namespace) -> None:
    from casegate.routing.services import rules_as_dicts

    emit(rules_as_dicts(), args.json, ["position", "id", "match", "match_value",
                                       "change_recipient", "change_value", "also_deliver",
                                       "apply_to", "org_unit", "enabled"])


def rule_remove(args: argparse.Namespace) -> None:
    from casegate.routing.services import remove_rule

    remove_rule(args.id)
    print(f"removed rule #{args.id}")


def rule_move(args: argparse.Namespace) -> None:
    from casegate.routing.services import move_rule

    rule = move_rule(args.id, args.position)
    print(f"rule #{rule.pk} is now at position {rule.position}")


def rule_export(args: argparse.Namespace) -> None:
    from casegate.routing.ruleset import export_rules

    sys.stdout.write(export_rules())


def rule_import(args: argparse.Namespace) -> None:
    from casegate.routing.ruleset import import_rules

    source = "<stdin>" if args.file == "-" else args.file
    result = import_rules(read_source(args.file), source, dry_run=args.dry_run)
    sys.stdout.write(result.diff or "no change\n")
    if args.dry_run:
        print(f"dry run: {result.rules} rules checked, nothing changed")
    elif result.version is not None:
        print(f"imported {result.rules} rules as version {result.version}")


def rule_history(args: argparse.Namespace) -> None:
    from casegate.routing.versions import history

    rows = [{"version": v.number, "at": v.created_at.isoformat(timespec="seconds"),
             "actor": v.actor, "summary": v.summary, "operations": len(v.operations)}
            for v in history(args.limit)]
    emit(rows, args.json, ["version", "at", "actor", "summary"])


def rule_rollback(args: argparse.Namespace) -> None:
    from casegate.routing.versions import rollback

    version = rollback(args.version)
    print(f"rolled back to version {args.version}"
          + (f" (recorded as version {version.number})" if version else ""))


def rule_test(args: argparse.Namespace) -> None:
    from casegate.routing.simulator import describe, simulate
    from casegate.routing.snapshot import load_table

    result = simulate(load_table(), args.rcpt, args.spam, args.sender)
    print(json.dumps(result, indent=2) if args.json else describe(result))


def rule_enable(args: argparse.Namespace) -> None:
    from casegate.routing.services import set_enabled

    rule = set_enabled(args.id, args.enabled)
    print(f"rule #{rule.pk} is {'enabled' if rule.enabled else 'disabled'}")


def transport_add(args: argparse.Namespace) -> None:
    from casegate.delivery.services import add_transport

    transport = add_transport(args.domain, args.hostport, args.require_tls)
    print(f"mail for {transport.domain} goes to {transport.host}:{transport.port}")


def transport_remove(args: argparse.Namespace) -> None:
    from casegate.delivery.services import remove_transport

    remove_transport(args.domain)
    print(f"removed the transport for {args.domain}")


def transport_list(args: argparse.Namespace) -> None:
    from casegate.delivery.models import Transport

    rows = [{"domain": t.domain, "host": t.host, "port": t.port, "require_tls": t.require_tls}
            for t in Transport.objects.all()]
    emit(rows, args.json, ["domain", "host", "port", "require_tls"])

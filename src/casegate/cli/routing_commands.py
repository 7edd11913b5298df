"""``casegate rule add`` and what rules refer to: units, address lists, routes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casegate.cli.commands import emit
from casegate.errors import CasegateError


class OptionError(CasegateError):
    """A command-line option could not be read."""


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
    for kind, value in ((Rule.MATCH_ADDRESS, args.match), (Rule.MATCH_PATTERN, args.match_pattern),
                        (Rule.MATCH_GROUP, args.match_group)):
        if value:
            match_type, match_value = kind, value
    rewrite, rewrite_value = "", ""
    for kind, value in ((Rule.REWRITE_RECIPIENT, args.replace_recipient),
                        (Rule.REWRITE_USER, args.replace_user),
                        (Rule.REWRITE_DOMAIN, args.replace_domain)):
        if value:
            rewrite, rewrite_value = kind, value
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


def rule_export(args: argparse.Namespace) -> None:
    from casegate.routing.ruleset import export_rules

    sys.stdout.write(export_rules())


def rule_import(args: argparse.Namespace) -> None:
    from casegate.routing.ruleset import import_rules

    if args.file == "-":
        text, source = sys.stdin.read(), "<stdin>"
    else:
        try:
            text, source = Path(args.file).read_text(encoding="utf-8"), args.file
        except (OSError, UnicodeDecodeError) as exc:
            raise OptionError(f"cannot read {args.file}: {exc}") from None
    result = import_rules(text, source, dry_run=args.dry_run)
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


def account_set(args: argparse.Namespace) -> None:
    from casegate.directory.services import set_suspended, set_unit

    if args.unit is not None:
        owner = set_unit(args.address, args.unit)
        print(f"{owner.address} is in {owner.org_unit.path if owner.org_unit else '/'}")
    if args.suspend or args.reinstate:
        account = set_suspended(args.address, args.suspend)
        print(f"{account.address} is {'suspended' if account.suspended else 'active'}")


def group_member(args: argparse.Namespace) -> None:
    from casegate.directory.services import add_member, remove_member

    if args.adding:
        add_member(args.address, args.member)
        print(f"added {args.member} to {args.address}")
    else:
        remove_member(args.address, args.member)
        print(f"removed {args.member} from {args.address}")


def unit_add(args: argparse.Namespace) -> None:
    from casegate.directory.services import add_unit

    print(f"added the unit {add_unit(args.path).path}")


def unit_remove(args: argparse.Namespace) -> None:
    from casegate.directory.services import remove_unit

    remove_unit(args.path)
    print(f"removed the unit {args.path}")


def unit_list(args: argparse.Namespace) -> None:
    from casegate.directory.models import OrgUnit

    rows = sorted(({"path": u.path, "accounts": u.accounts.count(), "groups": u.groups.count()}
                   for u in OrgUnit.objects.all()), key=lambda row: row["path"])
    emit(rows, args.json, ["path", "accounts", "groups"])


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

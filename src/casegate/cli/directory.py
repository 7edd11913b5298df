"""``casegate domain``, ``account``, ``group`` and ``unit``: the company's directory.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
from operator import itemgetter

from casegate.cli.base import Subcommands, add_list, command_group, emit


def register(subcommands: Subcommands) -> None:
    _register_domain(command_group(subcommands, "domain", "the company's mail domains"))
    _register_account(command_group(subcommands, "account", "real user accounts"))
    _register_group(command_group(subcommands, "group", "groups and their members"))
    _register_unit(command_group(subcommands, "unit", "organisational units"))


def _register_domain(domain: Subcommands) -> None:
    p = domain.add_parser("add")
    p.add_argument("name")
    p.add_argument("--mailbox-transport", default="", metavar="smtp:HOST:PORT|lmtp:HOST:PORT")
    p.set_defaults(func=domain_add)
    add_list(domain, domain_list)


def _register_account(account: Subcommands) -> None:
    p = account.add_parser("add")
    p.add_argument("address")
    p.add_argument("--name", default="")
    p.add_argument("--unit", default="", metavar="PATH", help="organisational unit, /Sales")
    p.set_defaults(func=account_add)
    p = account.add_parser("set", help="move to a unit, suspend or reinstate")
    p.add_argument("address")
    p.add_argument("--unit", default=None, metavar="PATH", help="/ for the top level")
    state = p.add_mutually_exclusive_group()
    state.add_argument("--suspend", action="store_true",
                       help="counts as unrecognized for routing until reinstated")
    state.add_argument("--reinstate", action="store_true")
    p.set_defaults(func=account_set)
    p = account.add_parser("remove")
    p.add_argument("address")
    p.set_defaults(func=account_remove)
    add_list(account, account_list)


def _register_group(group: Subcommands) -> None:
    p = group.add_parser("add")
    p.add_argument("address")
    p.add_argument("--member", nargs="+", action="extend", default=[], metavar="ADDR")
    p.add_argument("--name", default="")
    p.add_argument("--unit", default="", metavar="PATH", help="organisational unit, /Sales")
    p.set_defaults(func=group_add)
    for name in ("add-member", "remove-member"):
        p = group.add_parser(name)
        p.add_argument("address", help="the group")
        p.add_argument("member")
        p.set_defaults(func=group_member, adding=name == "add-member")
    p = group.add_parser("remove")
    p.add_argument("address")
    p.set_defaults(func=group_remove)
    add_list(group, group_list)


def _register_unit(unit: Subcommands) -> None:
    p = unit.add_parser("add")
    p.add_argument("path", help="/Sales or /Sales/EMEA (the parent must exist)")
    p.set_defaults(func=unit_add)
    p = unit.add_parser("remove")
    p.add_argument("path")
    p.set_defaults(func=unit_remove)
    add_list(unit, unit_list)


def domain_add(args: argparse.Namespace) -> None:
    from casegate.directory.services import add_domain

    domain = add_domain(args.name, args.mailbox_transport)
    print(f"added domain {domain.name}")


def domain_list(args: argparse.Namespace) -> None:
    from casegate.directory.models import Domain

    rows = [{"name": d.name, "mailbox_transport": d.mailbox_transport or "maildir"}
            for d in Domain.objects.all()]
    emit(rows, args.json, ["name", "mailbox_transport"])


def account_add(args: argparse.Namespace) -> None:
    from casegate.directory.services import add_account

    account = add_account(args.address, args.name, args.unit)
    print(f"added account {account.address}")


def account_set(args: argparse.Namespace) -> None:
    from casegate.directory.services import set_suspended, set_unit

    if args.unit is not None:
        owner = set_unit(args.address, args.unit)
        print(f"{owner.address} is in {owner.org_unit.path if owner.org_unit else '/'}")
    if args.suspend or args.reinstate:
        account = set_suspended(args.address, args.suspend)
        print(f"{account.address} is {'suspended' if account.suspended else 'active'}")


def account_remove(args: argparse.Namespace) -> None:
    from casegate.directory.services import remove_account

    remove_account(args.address)
    print(f"removed account {args.address}")


def account_list(args: argparse.Namespace) -> None:
    from casegate.directory.models import Account

    rows = [{"address": a.address, "name": a.display_name} for a in Account.objects.all()]
    emit(rows, args.json, ["address", "name"])


def group_add(args: argparse.Namespace) -> None:
    from casegate.directory.services import add_group

    group = add_group(args.address, args.member, args.name, args.unit)
    print(f"added group {group.address} with {len(args.member)} member(s)")


def group_member(args: argparse.Namespace) -> None:
    from casegate.directory.services import add_member, remove_member

    if args.adding:
        add_member(args.address, args.member)
        print(f"added {args.member} to {args.address}")
    else:
        remove_member(args.address, args.member)
        print(f"removed {args.member} from {args.address}")


def group_remove(args: argparse.Namespace) -> None:
    from casegate.directory.services import remove_group

    remove_group(args.address)
    print(f"removed group {args.address}")


def group_list(args: argparse.Namespace) -> None:
    from casegate.directory.models import Group

    rows = [{"address": g.address, "name": g.name,
             "members": [m.address for m in g.members.all()]}
            for g in Group.objects.prefetch_related("members")]
    emit(rows, args.json, ["address", "members"])


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
                   for u in OrgUnit.objects.all()), key=itemgetter("path"))
    emit(rows, args.json, ["path", "accounts", "groups"])

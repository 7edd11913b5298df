"""The ``casegate`` command line.

Every command exits 0 on success; otherwise it prints one line with the reason on
stderr and exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from casegate.config import get_config
from casegate.desk.vocabulary import IntakeKind, Priority
from casegate.errors import CasegateError


class UsageError(CasegateError):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _add_list(actions: argparse._SubParsersAction, func: object) -> argparse.ArgumentParser:
    parser = actions.add_parser("list")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=func)
    return parser


def build_parser() -> Parser:
    from casegate.cli import commands as c
    from casegate.cli import routing_commands as r

    parser = Parser(prog="casegate", description="Route support and sales mail into cases.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("init", help="create $CASEGATE_HOME and the database")
    p.set_defaults(func=c.init)

    p = sub.add_parser("serve", help="run the SMTP gateway, the HTTP app and a delivery worker")
    p.add_argument("--smtp", default="127.0.0.1:2525", metavar="HOST:PORT")
    p.add_argument("--http", default=None, metavar="HOST:PORT")
    p.add_argument("--no-worker", action="store_true",
                   help="do not start a delivery worker (run `casegate worker` elsewhere)")
    p.set_defaults(func=c.serve)

    p = sub.add_parser("worker", help="run a delivery worker only")
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=c.worker)

    p = sub.add_parser("demo", help="set up the demo domain, account, group, intakes and rules")
    p.set_defaults(func=c.demo)

    domain = sub.add_parser("domain", help="the company's mail domains").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = domain.add_parser("add")
    p.add_argument("name")
    p.add_argument("--mailbox-transport", default="", metavar="smtp:HOST:PORT|lmtp:HOST:PORT")
    p.set_defaults(func=c.domain_add)
    _add_list(domain, c.domain_list)

    account = sub.add_parser("account", help="real user accounts").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = account.add_parser("add")
    p.add_argument("address")
    p.add_argument("--name", default="")
    p.add_argument("--unit", default="", metavar="PATH", help="organisational unit, /Sales")
    p.set_defaults(func=c.account_add)
    p = account.add_parser("set", help="move to a unit, suspend or reinstate")
    p.add_argument("address")
    p.add_argument("--unit", default=None, metavar="PATH", help="/ for the top level")
    state = p.add_mutually_exclusive_group()
    state.add_argument("--suspend", action="store_true",
                       help="counts as unrecognized for routing until reinstated")
    state.add_argument("--reinstate", action="store_true")
    p.set_defaults(func=r.account_set)
    p = account.add_parser("remove")
    p.add_argument("address")
    p.set_defaults(func=c.account_remove)
    _add_list(account, c.account_list)

    group = sub.add_parser("group", help="groups and their members").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = group.add_parser("add")
    p.add_argument("address")
    p.add_argument("--member", nargs="+", action="extend", default=[], metavar="ADDR")
    p.add_argument("--name", default="")
    p.add_argument("--unit", default="", metavar="PATH", help="organisational unit, /Sales")
    p.set_defaults(func=c.group_add)
    for name in ("add-member", "remove-member"):
        p = group.add_parser(name)
        p.add_argument("address", help="the group")
        p.add_argument("member")
        p.set_defaults(func=r.group_member, adding=name == "add-member")

    unit = sub.add_parser("unit", help="organisational units").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = unit.add_parser("add")
    p.add_argument("path", help="/Sales or /Sales/EMEA (the parent must exist)")
    p.set_defaults(func=r.unit_add)
    p = unit.add_parser("remove")
    p.add_argument("path")
    p.set_defaults(func=r.unit_remove)
    _add_list(unit, r.unit_list)

    lists = sub.add_parser("address-list", help="named lists of addresses and domains that "
                           "rules skip or are limited to").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = lists.add_parser("set", help="create a list or replace its entries")
    p.add_argument("name")
    p.add_argument("entries", nargs="*", metavar="ADDR|DOMAIN")
    p.set_defaults(func=r.address_list_set)
    p = lists.add_parser("remove")
    p.add_argument("name")
    p.set_defaults(func=r.address_list_remove)
    _add_list(lists, r.address_list_list)

    route = sub.add_parser("route", help="named next hops for rules").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = route.add_parser("add", help="add a route or change its host")
    p.add_argument("name")
    p.add_argument("hostport", metavar="HOST:PORT")
    p.add_argument("--require-tls", action="store_true")
    p.set_defaults(func=r.route_add)
    p = route.add_parser("remove")
    p.add_argument("name")
    p.set_defaults(func=r.route_remove)
    _add_list(route, r.route_list)
    p = group.add_parser("remove")
    p.add_argument("address")
    p.set_defaults(func=c.group_remove)
    _add_list(group, c.group_list)

    desk = sub.add_parser("desk", help="the built-in case desk").add_subparsers(
        dest="area", required=True, parser_class=Parser)
    intake = desk.add_parser("intake", help="intake addresses").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = intake.add_parser("add")
    p.add_argument("--kind", choices=IntakeKind.values, default=IntakeKind.CASE.value)
    p.add_argument("--address", default=None, help="default: a unique random address")
    p.add_argument("--domain", default=None, help="domain of the random address")
    p.add_argument("--name", default="")
    p.add_argument("--acknowledge", action="store_true",
                   help="answer each new case with an acknowledgement")
    p.add_argument("--reply-from", default="", metavar="ADDR",
                   help="From of acknowledgements (default: the address the customer used)")
    p.add_argument("--team", default="", help="the team its cases belong to")
    p.add_argument("--first-response-hours", type=int, default=0, metavar="H",
                   help="SLA: the first agent reply is due H hours after a case opens")
    p.set_defaults(func=c.intake_add)
    _add_list(intake, c.intake_list)

    p = sub.add_parser("verify", help="send a test message and report every hop")
    p.add_argument("address")
    p.add_argument("--smtp", default="127.0.0.1:2525", metavar="HOST:PORT",
                   help="the gateway's SMTP address (default 127.0.0.1:2525)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=c.verify)

    rule = sub.add_parser("rule", help="routing rules").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = rule.add_parser("add")
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
    p.set_defaults(func=r.rule_add)
    _add_list(rule, c.rule_list)
    p = rule.add_parser("remove")
    p.add_argument("id", type=int)
    p.set_defaults(func=c.rule_remove)
    p = rule.add_parser("move", help="change a rule's priority")
    p.add_argument("id", type=int)
    p.add_argument("position", type=int, help="1 is the highest priority")
    p.set_defaults(func=c.rule_move)
    p = rule.add_parser("export", help="print the rule set as YAML")
    p.set_defaults(func=r.rule_export)
    p = rule.add_parser("import", help="make the rule set a YAML file's (all or nothing)")
    p.add_argument("file", help="the YAML file (- for standard input)")
    p.add_argument("--dry-run", action="store_true", help="print what would change only")
    p.set_defaults(func=r.rule_import)
    p = rule.add_parser("history", help="the numbered versions of the rule set")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=r.rule_history)
    p = rule.add_parser("rollback", help="bring the rule set back to a version")
    p.add_argument("version", type=int)
    p.set_defaults(func=r.rule_rollback)
    p = rule.add_parser("test", help="what the rules do with a recipient; sends nothing")
    p.add_argument("--rcpt", required=True, metavar="ADDR")
    p.add_argument("--sender", default="", metavar="ADDR")
    p.add_argument("--spam", action="store_true", help="as if classified as spam")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=c.rule_test)
    for name in ("enable", "disable"):
        p = rule.add_parser(name)
        p.add_argument("id", type=int)
        p.set_defaults(func=c.rule_enable, enabled=name == "enable")

    transport = sub.add_parser("transport", help="next hops that override MX").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = transport.add_parser("add")
    p.add_argument("domain")
    p.add_argument("hostport", metavar="HOST:PORT")
    p.add_argument("--require-tls", action="store_true",
                   help="defer instead of sending in clear when the host lacks STARTTLS")
    p.set_defaults(func=c.transport_add)
    p = transport.add_parser("remove")
    p.add_argument("domain")
    p.set_defaults(func=c.transport_remove)
    _add_list(transport, c.transport_list)

    dkim = sub.add_parser("dkim", help="signing keys for ARC seals").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = dkim.add_parser("keygen", help="make a key and print the DNS TXT record to publish")
    p.add_argument("domain")
    p.add_argument("--selector", default="casegate")
    p.set_defaults(func=c.dkim_keygen)
    _add_list(dkim, c.dkim_list)

    for name in ("cases", "leads"):
        listing = sub.add_parser(name, help=f"{name} opened by the desk").add_subparsers(
            dest="action", required=True, parser_class=Parser)
        p = _add_list(listing, c.conversations_list)
        p.add_argument("--limit", type=int, default=1000)
        p.set_defaults(kind=name)
        p = listing.add_parser("show")
        p.add_argument("id", type=int)
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=c.conversation_show, kind=name)
        p = listing.add_parser("set", help=f"change a {name[:-1]}'s fields")
        p.add_argument("id", type=int)
        p.add_argument("--status")
        if name == "cases":
            p.add_argument("--priority", choices=Priority.values)
            p.add_argument("--assignee", metavar="USERNAME", help='"" unassigns')
            p.add_argument("--team")
            p.add_argument("--tags", metavar="TAG,TAG", help="replace the tags")
            p.add_argument("--due", metavar="ISO-TIME", help="first response due (with zone)")
        p.set_defaults(func=c.conversation_set, kind=name)
        p = listing.add_parser("reply", help="answer the requester by mail (or add a note)")
        p.add_argument("id", type=int)
        text = p.add_mutually_exclusive_group(required=True)
        text.add_argument("--text")
        text.add_argument("--file", type=argparse.FileType("r", encoding="utf-8"),
                          help="the reply's text (- for stdin)")
        p.add_argument("--note", action="store_true", help="an internal note, never mailed")
        p.add_argument("--as", dest="author", metavar="USERNAME", default=None)
        p.set_defaults(func=c.conversation_reply, kind=name)
    p = listing.add_parser(  # the loop ended on "leads"
        "convert", help="convert a qualified lead: link its contact and company")
    p.add_argument("id", type=int)
    p.set_defaults(func=c.lead_convert)
    agent = sub.add_parser("agent", help="people who answer cases").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = agent.add_parser("add")
    p.add_argument("email")
    p.add_argument("--name", default="")
    p.add_argument("--username", default=None, help="default: the address")
    p.add_argument("--team", action="append", default=[], dest="teams")
    p.add_argument("--no-notify", action="store_true", help="no mail about customer messages")
    p.set_defaults(func=c.agent_add)
    _add_list(agent, c.agent_list)

    user = sub.add_parser("user", help="console users and their roles").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = user.add_parser("add", help="create a user (or change their role and password)")
    p.add_argument("username")
    p.add_argument("--role", required=True,
                   choices=["super", "mail-settings", "agent", "viewer"])
    p.add_argument("--email", default="")
    secret = p.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of stdin")
    secret.add_argument("--password", help="visible to other local users; prefer stdin")
    p.set_defaults(func=c.user_add)
    _add_list(user, c.user_list)

    token = sub.add_parser("token", help="REST API tokens").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = token.add_parser("create", help="print a new token (shown once)")
    p.add_argument("username")
    p.add_argument("--name", default="")
    p.set_defaults(func=c.token_create)
    p = token.add_parser("revoke")
    p.add_argument("prefix")
    p.set_defaults(func=c.token_revoke)
    _add_list(token, c.token_list)

    contacts = sub.add_parser("contacts", help="people who wrote to the desk").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    _add_list(contacts, c.contacts_list)

    quarantine = sub.add_parser("quarantine", help="mail held as spam").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = _add_list(quarantine, c.quarantine_list)
    p.add_argument("--all", action="store_true", help="also released and deleted entries")
    for action in ("release", "delete"):
        p = quarantine.add_parser(action)
        p.add_argument("id", type=int)
        p.set_defaults(func=c.quarantine_decide, decision=action)

    queue = sub.add_parser("queue", help="deliveries").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    p = _add_list(queue, c.queue_list)
    p.add_argument("--state", default=None,
                   help="only deliveries in this state, such as deferred, held or failed")
    p.add_argument("--history", action="store_true", help="with every attempt and action")
    for action in ("retry", "hold", "release", "delete"):
        p = queue.add_parser(action)
        target = p.add_mutually_exclusive_group(required=True)
        target.add_argument("id", type=int, nargs="?")
        target.add_argument("--all", action="store_true")
        p.add_argument("--reason", default="")
        p.set_defaults(func=c.queue_action, action_name=action)
    return parser


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casegate.settings")
    import django

    django.setup()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        setup_django()
        from casegate.cli.commands import run

        return run(args)
    except CasegateError as exc:
        print(f"casegate: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line, the traceback on request
        if get_config().debug:
            raise
        reason = " ".join(str(exc).split()) or "no details"
        print(f"casegate: internal error {type(exc).__name__}: {reason}"
              " (set CASEGATE_DEBUG=1 to see where)", file=sys.stderr)
        return 70

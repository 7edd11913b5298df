"""The implementations of the ``casegate`` commands (Django is set up before they run)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError

from casegate.config import get_config
from casegate.errors import CasegateError


def emit(rows: list[dict[str, Any]], as_json: bool, columns: Iterable[str]) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    columns = list(columns)
    for row in rows:
        print("  ".join(f"{row.get(col)}" for col in columns))


def run(args: argparse.Namespace) -> int:
    try:
        if args.func in (serve, worker):
            result = args.func(args)
        else:  # the audit log names who changed something from the command line
            from auditlog.context import set_extra_data

            with set_extra_data({"actor_email": f"cli:{getpass.getuser()}"}):
                result = args.func(args)
    except DatabaseError as exc:
        if args.func is not init and ("no such table" in str(exc) or "does not exist" in str(exc)):
            detail = " ".join(str(exc).split())
            raise CasegateError(
                f"the database is not initialised ({detail}); run: casegate init"
            ) from None
        raise CasegateError(f"database error: {' '.join(str(exc).split())}") from None
    return int(result or 0)


def init(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection

    config = get_config()
    config.home.mkdir(parents=True, exist_ok=True)
    config.mailbox_root.mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0, interactive=False)
    where = connection.settings_dict["NAME"]
    print(f"casegate home {config.home}; database {connection.vendor} {where} is ready")


def serve(args: argparse.Namespace) -> None:
    from casegate.serve import serve as run_serve

    run_serve(get_config(), args.smtp, args.http, with_worker=not args.no_worker)


def worker(args: argparse.Namespace) -> None:
    from casegate.serve import run_worker

    run_worker(get_config(), args.parent_pid)


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


def intake_add(args: argparse.Namespace) -> None:
    from casegate.desk.services import add_intake

    intake = add_intake(args.kind, args.address, args.name, args.domain,
                        acknowledge=args.acknowledge, reply_from=args.reply_from,
                        team=args.team, first_response_hours=args.first_response_hours)
    print(intake.address)


def intake_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Intake

    rows = [{"id": i.pk, "address": i.address, "kind": i.kind, "name": i.name}
            for i in Intake.objects.all()]
    emit(rows, args.json, ["id", "kind", "address"])


def verify(args: argparse.Namespace) -> None:
    from casegate.config import get_config
    from casegate.verify import verify as run

    host, _, port = args.smtp.rpartition(":")
    result = run(args.address, host or "127.0.0.1", int(port), get_config().hostname,
                 args.timeout)
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    if not result.ok:
        raise SystemExit(1)


def rule_test(args: argparse.Namespace) -> None:
    from casegate.routing.simulator import describe, simulate
    from casegate.routing.snapshot import load_table

    result = simulate(load_table(), args.rcpt, args.spam, args.sender)
    print(json.dumps(result, indent=2) if args.json else describe(result))


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


def dkim_keygen(args: argparse.Namespace) -> None:
    from casegate.delivery.forwarding import generate_key

    _, record = generate_key(args.domain, args.selector)
    print(record)


def dkim_list(args: argparse.Namespace) -> None:
    from casegate.delivery.forwarding import txt_record
    from casegate.delivery.models import SigningKey

    rows = [{"domain": k.domain, "selector": k.selector, "record": txt_record(k),
             "created_at": k.created_at.isoformat()} for k in SigningKey.objects.all()]
    emit(rows, args.json, ["domain", "selector", "created_at"])


def conversations_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Case, Lead
    from casegate.desk.output import conversation_as_dict

    if args.kind == "cases":
        found = Case.objects.select_related("intake", "assignee")
    else:
        found = Lead.objects.select_related("intake")
    rows = [conversation_as_dict(c) for c in found.order_by("id")[: args.limit]]
    emit(rows, args.json, ["id", "status", "requester", "subject"])


def conversation_show(args: argparse.Namespace) -> None:
    from casegate.desk.output import conversation_detail
    from casegate.desk.services import DeskError

    detail = conversation_detail("case" if args.kind == "cases" else "lead", args.id)
    if detail is None:
        raise DeskError(f"there is no {args.kind[:-1]} {args.id}; see: casegate {args.kind} list")
    if args.json:
        print(json.dumps(detail, indent=2, ensure_ascii=False))
        return
    print(f"#{detail['id']} [{detail['status']}] {detail['subject']}")
    print(f"from {detail['requester']} to {detail['original_recipient']}")
    for field in ("priority", "assignee", "team", "first_response_due_at"):
        if detail.get(field):
            print(f"{field.replace('_', ' ')}: {detail[field]}")
    if detail.get("tags"):
        print(f"tags: {', '.join(detail['tags'])}")
    for message in detail["messages"]:
        who = message["author"] or message["sender"]
        status = f" [{message['delivery_status']}]" if message["delivery_status"] else ""
        print(f"\n--- {message['direction']}{status} {message['created_at']} {who}")
        print(message["new_text"] or message["text"])
        for attachment in message["attachments"]:
            problem = f" ({attachment['problem']})" if attachment["problem"] else ""
            print(f"[attachment {attachment['filename'] or attachment['content_id']}"
                  f" {attachment['size']} bytes{problem}]")


def _case_changes(args: argparse.Namespace) -> dict[str, object]:
    from django.utils.dateparse import parse_datetime

    from casegate.desk.services import DeskError

    changes: dict[str, object] = {}
    for name in ("status", "priority", "team"):
        if getattr(args, name, None) is not None:
            changes[name] = getattr(args, name)
    if getattr(args, "assignee", None) is not None:
        changes["assignee"] = args.assignee or None
    if getattr(args, "tags", None) is not None:
        changes["tags"] = [t for t in args.tags.split(",") if t.strip()]
    if getattr(args, "due", None) is not None:
        due = parse_datetime(args.due) if args.due else None
        if args.due and due is None:
            raise DeskError(f"--due {args.due!r} is not an ISO date and time")
        changes["first_response_due_at"] = due
    return changes


def conversation_set(args: argparse.Namespace) -> None:
    from casegate.desk.services import DeskError, set_status, update_case

    if args.kind == "leads":
        if args.status is None:
            raise DeskError("say what to change: --status")
        lead = set_status("lead", args.id, args.status, getpass.getuser())
        print(f"lead {lead.pk} is {lead.status}")
        return
    changes = _case_changes(args)
    if not changes:
        raise DeskError("say what to change: --status, --priority, --assignee, --team, --tags "
                        "or --due")
    case = update_case(args.id, getpass.getuser(), **changes)
    print(f"case {case.pk}: " + ", ".join(f"{k} {getattr(case, k)}" for k in changes))


def conversation_reply(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model

    from casegate.desk.replies import post_reply
    from casegate.desk.services import DeskError

    author = None
    if args.author:
        author = get_user_model().objects.filter(username=args.author).first()
        if author is None:
            raise DeskError(f"there is no user {args.author!r}; see: casegate agent list")
    text = args.text if args.text is not None else args.file.read()
    message = post_reply("lead" if args.kind == "leads" else "case", args.id, author, text,
                         public=not args.note)
    if args.note:
        print(f"note {message.pk} added")
    else:
        print(f"reply {message.pk} {message.delivery_status or 'not sent'}: "
              f"{message.recipients.replace(chr(10), ', ') or message.parse_problems}")


def agent_add(args: argparse.Namespace) -> None:
    from casegate.desk.services import add_agent

    agent = add_agent(args.email, args.name, args.username, args.teams, not args.no_notify)
    print(f"agent {agent.user.get_username()} <{agent.user.email}>")


def agent_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Agent

    rows = [{"username": a.user.get_username(), "email": a.user.email,
             "name": a.user.get_full_name(), "teams": a.teams, "notify": a.notify}
            for a in Agent.objects.select_related("user").order_by("user__username")]
    emit(rows, args.json, ["username", "email", "teams"])


ROLE_NAMES = {"super": "super administrator", "mail-settings": "mail-settings administrator",
              "agent": "agent", "viewer": "viewer"}


def user_add(args: argparse.Namespace) -> None:
    from casegate.console.roles import add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    user = add_user(args.username, ROLE_NAMES[args.role], password, args.email)
    print(f"user {user.get_username()}: {ROLE_NAMES[args.role]}")


def user_list(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model

    from casegate.console.roles import roles_of

    rows = [{"username": u.get_username(), "email": u.email, "active": u.is_active,
             "roles": sorted(roles_of(u)) if not u.is_superuser else ["super administrator"]}
            for u in get_user_model().objects.order_by("username")]
    emit(rows, args.json, ["username", "email", "roles"])


def token_create(args: argparse.Namespace) -> None:
    from casegate.api.tokens import create_token

    print(create_token(args.username, args.name))


def token_revoke(args: argparse.Namespace) -> None:
    from casegate.api.tokens import revoke_token

    revoke_token(args.prefix)
    print(f"token {args.prefix} revoked")


def token_list(args: argparse.Namespace) -> None:
    from casegate.api.tokens import list_tokens

    emit(list_tokens(), args.json, ["prefix", "username", "name", "last_used_at"])


def lead_convert(args: argparse.Namespace) -> None:
    from casegate.desk.services import convert_lead

    lead = convert_lead(args.id, getpass.getuser())
    company = lead.contact.company.domain if lead.contact and lead.contact.company else "none"
    print(f"lead {lead.pk} converted: contact {lead.contact.address}, company {company}")


def contacts_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Contact

    rows = [{"address": c.address, "name": c.name,
             "company": c.company.domain if c.company else None,
             "cases": [x.pk for x in c.cases.all()], "leads": [x.pk for x in c.leads.all()]}
            for c in Contact.objects.select_related("company").prefetch_related("cases", "leads")]
    emit(rows, args.json, ["address", "company", "cases"])


def quarantine_list(args: argparse.Namespace) -> None:
    from casegate.gateway.models import Quarantine
    from casegate.gateway.quarantine import quarantine_as_dict

    entries = Quarantine.objects.select_related("message").order_by("id")
    if not args.all:
        entries = entries.filter(state=Quarantine.HELD)
    rows = [quarantine_as_dict(q) for q in entries]
    emit(rows, args.json, ["id", "recipient", "sender", "reason"])


def quarantine_decide(args: argparse.Namespace) -> None:
    from casegate.gateway.quarantine import delete, release

    if args.decision == "delete":
        delete(args.id)
        print(f"deleted #{args.id}")
        return
    deliveries = release(args.id)
    print(f"released #{args.id} to {', '.join(d.recipient for d in deliveries)}")


def queue_list(args: argparse.Namespace) -> None:
    from casegate.delivery.models import Delivery
    from casegate.delivery.services import delivery_as_dict

    deliveries = Delivery.objects.order_by("id")
    if args.state:
        deliveries = deliveries.filter(state=args.state)
    if args.history:
        deliveries = deliveries.prefetch_related("attempt_log", "actions")
    rows = [delivery_as_dict(d, args.history) for d in deliveries]
    emit(rows, args.json, ["id", "queue_id", "recipient", "kind", "state", "last_reply"])


def queue_action(args: argparse.Namespace) -> None:
    from casegate.delivery.services import act_on_queue

    changed = act_on_queue(args.action_name, None if args.all else [args.id], args.reason)
    print(f"{args.action_name}: {changed} deliver{'y' if changed == 1 else 'ies'}")


def demo(args: argparse.Namespace) -> None:
    from casegate.demo import setup_demo

    print(setup_demo())

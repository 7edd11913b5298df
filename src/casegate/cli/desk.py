"""``casegate desk intake``, ``cases``, ``leads``, ``suspended``, ``agent``, ``view`` and
``contacts``: the case desk.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from casegate.cli.base import Subcommands, add_list, command_group, count, emit
from casegate.desk.vocabulary import (
    CASE_SORTS,
    CaseQueue,
    CaseStatus,
    DeskText,
    IntakeKind,
    Priority,
    SuspensionCause,
)


def register(subcommands: Subcommands) -> None:
    desk = command_group(subcommands, "desk", "the built-in case desk", dest="area")
    _register_intake(command_group(desk, "intake", "intake addresses"))
    for kind in ("cases", "leads"):
        _register_conversations(command_group(subcommands, kind, f"{kind} opened by the desk"),
                                kind)
    _register_suspended(command_group(subcommands, "suspended",
                                      "mail to intakes set aside instead of opening cases"))
    _register_agent(command_group(subcommands, "agent", "people who answer cases"))
    _register_view(command_group(subcommands, "view",
                                 "saved case lists: filters, a search and a sort"))
    contacts = command_group(subcommands, "contacts", "people who wrote to the desk")
    add_list(contacts, contacts_list)
    p = subcommands.add_parser(
        "search", help="find cases and leads by their words, sender, status, tags…",
        description="Words and \"exact phrases\" are looked for in every message of a case"
                    " (subject, text with its quoted part, sender, recipients) and its"
                    " attachments' names; -word excludes; from: to: status: tag: assignee:"
                    " intake: before:YYYY-MM-DD after:YYYY-MM-DD has:attachment narrow.")
    p.add_argument("query", nargs="+", help="the search, e.g. 'refund from:acme.example -spam'")
    p.add_argument("--limit", type=count, default=50, help="at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=search)


def _register_view(view: Subcommands) -> None:
    p = add_list(view, view_list)
    p.add_argument("--as", dest="user", default=None, metavar="USERNAME",
                   help="the views this user sees, counted as they see them (default: every "
                        "view, counted over every case)")
    p = view.add_parser("add", help="save a case list as a view")
    p.add_argument("name")
    p.add_argument("--owner", default=None, metavar="USERNAME",
                   help="whose view it is (default: shared with everyone)")
    p.add_argument("--queue", choices=CaseQueue.values, default=CaseQueue.ALL.value)
    p.add_argument("--intake", type=int, default=None, help="a case intake's number")
    p.add_argument("--status", choices=CaseStatus.values, default="")
    p.add_argument("--team", default="")
    p.add_argument("--query", default="", help="a search, as in: casegate search")
    p.add_argument("--sort", default="-id",
                   help=f"one of {', '.join(CASE_SORTS)}; '-' first for descending")
    p.set_defaults(func=view_add)
    p = view.add_parser("remove")
    p.add_argument("view", help="its number or name")
    p.add_argument("--owner", default=None, metavar="USERNAME",
                   help="of this user's views (default: a shared one first)")
    p.set_defaults(func=view_remove)


def _register_intake(intake: Subcommands) -> None:
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
                   help="add an SLA policy: the first agent reply is due H hours (around "
                        "the clock) after a case opens; see casegate sla")
    p.add_argument("--survey", action="store_true",
                   help="mail the requester a satisfaction survey when a case is solved")
    p.add_argument("--signature", default="",
                   help="under agents' replies when the agent has none (placeholders filled)")
    p.set_defaults(func=intake_add)
    add_list(intake, intake_list)
    p = intake.add_parser("show", help="an intake's settings and its own texts, as JSON")
    p.add_argument("intake", help="the intake's address or id")
    p.set_defaults(func=intake_show)
    p = intake.add_parser("set", help="the satisfaction survey and the signature of an intake")
    p.add_argument("intake", help="the intake's address or id")
    p.add_argument("--survey", action=argparse.BooleanOptionalAction, default=None,
                   help="mail a satisfaction survey when a case is solved (or not)")
    signature = p.add_mutually_exclusive_group()
    signature.add_argument("--signature", default=None,
                           help="under agents' replies when the agent has none ('': none)")
    signature.add_argument("--signature-file", default=None, metavar="FILE")
    p.set_defaults(func=intake_set)
    p = intake.add_parser("text", help="an intake's own acknowledgement or survey text in one"
                                       " language (placeholders as in macros; a survey's needs"
                                       " {{survey.link}})")
    p.add_argument("intake", help="the intake's address or id")
    p.add_argument("kind", choices=DeskText.values)
    p.add_argument("language", help="en, fr, pt, id, he or ar")
    p.add_argument("--subject", default="", help="default: the built-in subject")
    body = p.add_mutually_exclusive_group(required=True)
    body.add_argument("--body", default=None)
    body.add_argument("--body-file", default=None, metavar="FILE")
    body.add_argument("--built-in", action="store_true", help="use the built-in text again")
    p.set_defaults(func=intake_text)
    for action, summary in (("block", "suspend the mail of an address or a whole domain"),
                            ("unblock", "file the mail of a blocked sender again")):
        p = intake.add_parser(action, help=summary)
        p.add_argument("intake", help="the intake's address or id")
        p.add_argument("sender", metavar="ADDRESS_OR_DOMAIN")
        p.set_defaults(func=intake_block, blocking=action == "block")
    p = intake.add_parser("blocked", help="the senders intakes block")
    p.add_argument("intake", nargs="?", default="", help="only this intake (address or id)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=intake_blocked)


def _register_suspended(suspended: Subcommands) -> None:
    p = add_list(suspended, suspended_list)
    p.add_argument("--intake", default="", help="only this intake (address or id)")
    p.add_argument("--cause", choices=SuspensionCause.values)
    for action, summary in (("recover", "file as if just arrived: opens a case or lead"),
                            ("delete", "drop the mail")):
        p = suspended.add_parser(action, help=summary)
        p.add_argument("ids", type=int, nargs="+", metavar="ID")
        p.set_defaults(func=suspended_decide, decision=action)


def _register_conversations(listing: Subcommands, kind: str) -> None:
    """``cases …`` or ``leads …``: the handlers read which from ``kind``."""
    p = add_list(listing, conversations_list)
    p.add_argument("--limit", type=count, default=1000)
    p.set_defaults(kind=kind)
    p = listing.add_parser("show")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=conversation_show, kind=kind)
    p = listing.add_parser("set", help=f"change a {kind[:-1]}'s fields")
    p.add_argument("id", type=int)
    p.add_argument("--status")
    if kind == "cases":
        p.add_argument("--priority", choices=Priority.values)
        p.add_argument("--assignee", metavar="USERNAME", help='"" unassigns')
        p.add_argument("--team")
        p.add_argument("--tags", metavar="TAG,TAG", help="replace the tags")
        p.add_argument("--due", metavar="ISO-TIME", help="first response due (with zone)")
    p.set_defaults(func=conversation_set, kind=kind)
    p = listing.add_parser("reply", help="answer the requester by mail (or add a note)")
    p.add_argument("id", type=int)
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text")
    text.add_argument("--file", type=argparse.FileType("r", encoding="utf-8"),
                      help="the reply's text (- for stdin)")
    p.add_argument("--note", action="store_true", help="an internal note, never mailed")
    p.add_argument("--as", dest="author", metavar="USERNAME", default=None)
    p.set_defaults(func=conversation_reply, kind=kind)
    if kind == "cases":
        _register_merging(listing)
    if kind == "leads":
        p = listing.add_parser(
            "convert", help="convert a qualified lead: link its contact and company")
        p.add_argument("id", type=int)
        p.set_defaults(func=lead_convert)


def _register_merging(cases: Subcommands) -> None:
    p = cases.add_parser("merge", help="move the other cases' messages onto one and close them")
    p.add_argument("id", type=int, help="the case that stays")
    p.add_argument("others", type=int, nargs="+", metavar="OTHER")
    p.set_defaults(func=cases_merge)
    p = cases.add_parser("unmerge", help="undo a merge: the case gets its messages back")
    p.add_argument("id", type=int, help="the merged case")
    p.set_defaults(func=cases_unmerge)
    p = cases.add_parser("split", help="move one message into a new case of its own")
    p.add_argument("message", type=int, metavar="MESSAGE_ID",
                   help="the message's id (cases show --json lists them)")
    p.set_defaults(func=cases_split)


def _register_agent(agent: Subcommands) -> None:
    p = agent.add_parser("add")
    p.add_argument("email")
    p.add_argument("--name", default="")
    p.add_argument("--username", default=None, help="default: the address")
    p.add_argument("--team", action="append", default=[], dest="teams")
    p.add_argument("--no-notify", action="store_true", help="no mail about customer messages")
    p.add_argument("--signature", default="",
                   help="under the agent's replies, placeholders filled ({{agent.name}},"
                        " {{case.team}}, {{case.number}}…); {{agent.signature}} in macros'")
    p.set_defaults(func=agent_add)
    add_list(agent, agent_list)
    p = agent.add_parser("signature", help="set the signature under an agent's replies")
    p.add_argument("username")
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", default=None, help="the signature ('': none, the intake's)")
    text.add_argument("--file", default=None, metavar="FILE")
    p.set_defaults(func=agent_signature)


def intake_add(args: argparse.Namespace) -> None:
    from casegate.desk.services import add_intake

    intake = add_intake(args.kind, args.address, args.name, args.domain,
                        acknowledge=args.acknowledge, reply_from=args.reply_from,
                        team=args.team, first_response_hours=args.first_response_hours,
                        survey=args.survey, signature=args.signature)
    print(intake.address)


def _file_or(text: str | None, path: str | None) -> str | None:
    """The text given, or the contents of the file given (None: neither)."""
    if path is not None:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    return text


def intake_show(args: argparse.Namespace) -> None:
    from casegate.desk.services import intake_as_dict
    from casegate.desk.suspension import find_intake

    print(json.dumps(intake_as_dict(find_intake(args.intake)), indent=2, ensure_ascii=False))


def intake_set(args: argparse.Namespace) -> None:
    from casegate.desk.services import configure_intake
    from casegate.desk.suspension import find_intake

    intake = configure_intake(find_intake(args.intake), args.survey,
                              _file_or(args.signature, args.signature_file))
    print(f"{intake.address}: survey {'on' if intake.survey else 'off'}, "
          f"signature {'set' if intake.signature else 'none'}")


def intake_text(args: argparse.Namespace) -> None:
    from casegate.desk.suspension import find_intake
    from casegate.desk.texts import set_text

    body = "" if args.built_in else _file_or(args.body, args.body_file) or ""
    own = set_text(find_intake(args.intake), args.kind, args.language, args.subject, body)
    print(f"{args.kind} ({args.language}): {'own text' if own else 'built-in text'}")


def intake_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Intake

    rows = [{"id": i.pk, "address": i.address, "kind": i.kind, "name": i.name}
            for i in Intake.objects.all()]
    emit(rows, args.json, ["id", "kind", "address"])


def intake_block(args: argparse.Namespace) -> None:
    from casegate.desk.suspension import block_sender, unblock_sender

    if args.blocking:
        blocked = block_sender(args.intake, args.sender)
        print(f"{blocked.intake.address} blocks {blocked.entry}")
    else:
        unblock_sender(args.intake, args.sender)
        print(f"{args.intake} no longer blocks {args.sender}")


def intake_blocked(args: argparse.Namespace) -> None:
    from casegate.desk.suspension import blocked_as_dict, blocked_senders

    emit([blocked_as_dict(b) for b in blocked_senders(args.intake)], args.json,
         ["intake", "entry"])


def suspended_list(args: argparse.Namespace) -> None:
    from casegate.desk.suspension import suspended_as_dict, waiting

    rows = [suspended_as_dict(m) for m in waiting(args.intake, args.cause or "")]
    emit(rows, args.json, ["id", "cause", "spam_score", "sender", "subject", "reason"])


def suspended_decide(args: argparse.Namespace) -> None:
    from casegate.desk.suspension import delete, recover

    if args.decision == "delete":
        deleted = delete(args.ids, getpass.getuser())
        print(f"deleted {', '.join(f'#{m.pk}' for m in deleted)}")
        return
    for entry in recover(args.ids, getpass.getuser()):
        filed_on = (f"case {entry.case.pk}" if entry.case else f"lead {entry.lead.pk}"
                    if entry.lead else "nothing new (a message stored before)")
        print(f"recovered #{entry.pk}: {filed_on}")


def conversations_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Case, Lead
    from casegate.desk.output import conversation_as_dict

    found = (Case.objects.select_related("intake", "assignee") if args.kind == "cases"
             else Lead.objects.select_related("intake"))
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


def cases_merge(args: argparse.Namespace) -> None:
    from casegate.desk.merging import merge

    case = merge(args.id, args.others, getpass.getuser())
    print(f"merged {', '.join(f'CG-{n}' for n in args.others)} into CG-{case.pk}")


def cases_unmerge(args: argparse.Namespace) -> None:
    from casegate.desk.merging import unmerge

    case = unmerge(args.id, getpass.getuser())
    print(f"CG-{case.pk} has its messages back and is open")


def cases_split(args: argparse.Namespace) -> None:
    from casegate.desk.merging import split
    from casegate.desk.vocabulary import CaseChannel

    case = split(args.message, getpass.getuser(), CaseChannel.COMMAND_LINE)
    print(f"message {args.message} is now CG-{case.pk}")


def lead_convert(args: argparse.Namespace) -> None:
    from casegate.desk.services import convert_lead

    lead = convert_lead(args.id, getpass.getuser())
    contact = lead.contact
    assert contact is not None  # converting links the lead to a contact
    company = contact.company.domain if contact.company else "none"
    print(f"lead {lead.pk} converted: contact {contact.address}, company {company}")


def agent_add(args: argparse.Namespace) -> None:
    from casegate.desk.services import add_agent

    agent = add_agent(args.email, args.name, args.username, args.teams, not args.no_notify,
                      args.signature)
    print(f"agent {agent.user.get_username()} <{agent.user.email}>")


def agent_signature(args: argparse.Namespace) -> None:
    from casegate.desk.signatures import set_agent_signature

    agent = set_agent_signature(args.username, _file_or(args.text, args.file) or "")
    print(f"agent {agent.user.get_username()}: signature {'set' if agent.signature else 'none'}")


def agent_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Agent

    rows = [{"username": a.user.get_username(), "email": a.user.email,
             "name": a.user.get_full_name(), "teams": a.teams, "notify": a.notify,
             "signature": a.signature}
            for a in Agent.objects.select_related("user").order_by("user__username")]
    emit(rows, args.json, ["username", "email", "teams"])


def contacts_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Contact

    rows = [{"address": c.address, "name": c.name,
             "company": c.company.domain if c.company else None,
             "cases": [x.pk for x in c.cases.all()], "leads": [x.pk for x in c.leads.all()]}
            for c in Contact.objects.select_related("company").prefetch_related("cases", "leads")]
    emit(rows, args.json, ["address", "company", "cases"])


def search(args: argparse.Namespace) -> None:
    from casegate.desk.search import START, STOP
    from casegate.desk.search import search as run_search
    from casegate.desk.search_query import SearchSyntaxError, parse_query
    from casegate.errors import CasegateError

    try:
        query = parse_query(" ".join(args.query))
    except SearchSyntaxError as exc:
        raise CasegateError(f"search: {exc}") from None
    hits = run_search(query, limit=args.limit)
    if args.json:
        print(json.dumps([hit.as_dict() for hit in hits], indent=2, ensure_ascii=False))
        return
    for hit in hits:
        print(f"{hit.kind} {hit.id}  {hit.status}  {hit.requester}  {hit.subject}")
        if hit.snippet:
            print("    " + " ".join(hit.snippet.replace(START, "[").replace(STOP, "]").split()))


def _active_user(username: str | None) -> Any:
    from django.contrib.auth import get_user_model

    from casegate.desk.changes import DeskError

    if username is None:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise DeskError(f"there is no active user {username!r}; see: casegate user list")
    return user


def view_list(args: argparse.Namespace) -> None:
    from casegate.desk.saved_views import view_count, view_dict, views_for

    user = _active_user(args.user)
    emit([view_dict(view, view_count(view, user)) for view in views_for(user)], args.json,
         ["id", "name", "owner", "count", "filters"])


def view_add(args: argparse.Namespace) -> None:
    from casegate.desk.case_list import CaseFilter
    from casegate.desk.saved_views import add_view

    wanted = CaseFilter.from_dict({"queue": args.queue, "intake": args.intake,
                                   "status": args.status, "team": args.team,
                                   "q": args.query, "sort": args.sort})
    view = add_view(args.name, wanted, _active_user(args.owner))
    print(f"added view #{view.pk} {view.name!r}"
          + (f" of {args.owner}" if args.owner else " (shared)"))


def view_remove(args: argparse.Namespace) -> None:
    from casegate.desk.saved_views import find_view, remove_view

    view = remove_view(find_view(args.view, _active_user(args.owner)).pk)
    print(f"removed the view {view.name!r}")

"""``casegate mailbox``: mailbox accounts fetched over IMAP or POP3, and ``casegate fetch``.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from casegate.cli.base import Subcommands, add_list, command_group, emit
from casegate.config import get_config
from casegate.errors import CasegateError


def register(subcommands: Subcommands) -> None:
    mailbox = command_group(subcommands, "mailbox",
                            "mailboxes casegate fetches mail from (IMAP, POP3)")
    p = mailbox.add_parser(
        "add", help="fetch a mailbox's mail into the desk",
        description="Fetch the mail of an IMAP folder or a POP3 maildrop as if it had been"
                    " sent to --deliver-to. The secret is read when casegate logs in, from"
                    " the password file or the token command's output; it is never stored.")
    server = p.add_mutually_exclusive_group(required=True)
    server.add_argument("--imap", metavar="HOST[:PORT]")
    server.add_argument("--pop3", metavar="HOST[:PORT]")
    p.add_argument("name")
    p.add_argument("--user", required=True)
    secret = p.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password-file", metavar="FILE")
    secret.add_argument("--oauth2-token-command", metavar="COMMAND",
                        help="prints an OAuth2 access token (SASL XOAUTH2: Microsoft 365,"
                             " Google)")
    p.add_argument("--tls", choices=["implicit", "starttls", "none"], default="implicit",
                   help="TLS from the start (default; ports 993/995), STARTTLS (143/110) or"
                        " none (a server on this host only)")
    p.add_argument("--folder", default="INBOX", help="the IMAP folder (default: INBOX)")
    p.add_argument("--deliver-to", required=True, metavar="ADDRESS",
                   help="the address the mail is filed as sent to (an intake, say)")
    p.add_argument("--since", metavar="DATE", type=_date,
                   help="mail received before this date (YYYY-MM-DD) is not imported")
    p.add_argument("--after-fetch", default="keep", metavar="keep|seen|move:FOLDER|delete",
                   help="what is done on the server with a message once it is stored"
                        " (default: keep; POP3: keep or delete)")
    p.set_defaults(func=mailbox_add)
    for name, handler, summary in (
            ("remove", mailbox_remove, "stop fetching it and forget its state"),
            ("pause", mailbox_pause, "stop fetching it for now"),
            ("resume", mailbox_resume, "fetch it again, at once"),
            ("test", mailbox_test, "log in and count the folder's messages")):
        p = mailbox.add_parser(name, help=summary)
        p.add_argument("name")
        p.set_defaults(func=handler)
    add_list(mailbox, mailbox_list)

    p = subcommands.add_parser(
        "fetch", help="fetch every mailbox's mail (serve runs this too)",
        description="Fetch every mailbox that is not paused until stopped (SIGTERM), each"
                    " on its own, so one that fails never holds up the others.")
    p.add_argument("--once", action="store_true",
                   help="one round of each mailbox, then exit (1 if any failed)")
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=fetch, long_running=True)


def _date(text: str) -> datetime:
    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def mailbox_add(args: argparse.Namespace) -> None:
    from casegate.mailboxes.services import add_mailbox
    from casegate.mailboxes.vocabulary import Protocol, Tls

    mailbox = add_mailbox(
        args.name, Protocol.IMAP if args.imap else Protocol.POP3, args.imap or args.pop3,
        args.user, password_file=args.password_file or "",
        token_command=args.oauth2_token_command or "", tls=Tls(args.tls), folder=args.folder,
        deliver_to=args.deliver_to, since=args.since, after_fetch=args.after_fetch)
    print(f"added mailbox {mailbox.name} ({mailbox.address}), delivered to"
          f" {mailbox.deliver_to}")


def mailbox_list(args: argparse.Namespace) -> None:
    from casegate.mailboxes.services import status_rows

    rows = status_rows()
    if not args.json:
        for row in rows:
            row["server"] = f"{row['protocol']}://{row['host']}:{row['port']}"
            row["last_error"] = row["last_error"] or "-"
    emit(rows, args.json, ["name", "server", "deliver_to", "state", "last_success_at",
                           "fetched", "set_aside", "last_error"])


def mailbox_remove(args: argparse.Namespace) -> None:
    from casegate.mailboxes.services import remove_mailbox

    remove_mailbox(args.name)
    print(f"removed mailbox {args.name}")


def mailbox_pause(args: argparse.Namespace) -> None:
    from casegate.mailboxes.services import set_paused

    set_paused(args.name, True)
    print(f"mailbox {args.name} is paused")


def mailbox_resume(args: argparse.Namespace) -> None:
    from casegate.mailboxes.services import set_paused

    set_paused(args.name, False)
    print(f"mailbox {args.name} is fetched again")


def mailbox_test(args: argparse.Namespace) -> None:
    from casegate.mailboxes.runner import message_count
    from casegate.mailboxes.services import mailbox_named

    mailbox = mailbox_named(args.name)
    try:
        count = message_count(mailbox)
    except CasegateError as exc:
        raise CasegateError(f"mailbox {mailbox.name}: {exc}") from None
    print(f"mailbox {mailbox.name}: logged in to {mailbox.host}:{mailbox.port} as"
          f" {mailbox.user}; {mailbox.folder} holds {count} messages")


def fetch(args: argparse.Namespace) -> None:
    from casegate.mailboxes.models import Mailbox
    from casegate.mailboxes.runner import fetch as run_fetch

    run_fetch(get_config(), once=args.once, parent_pid=args.parent_pid)
    if args.once and Mailbox.objects.filter(paused=False, failures__gt=0).exists():
        raise SystemExit(1)

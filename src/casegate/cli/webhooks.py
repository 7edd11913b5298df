"""``casegate webhook``: the URLs case events are posted to, and what became of each post.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse

from casegate.cli.base import Subcommands, add_list, command_group, count, emit
from casegate.cli.rule_files import register_file_commands
from casegate.desk.automation.vocabulary import TriggerEvent


def register(subcommands: Subcommands) -> None:
    webhook = command_group(subcommands, "webhook", "post case events to other systems")
    p = webhook.add_parser("add", help="a webhook; its secret is printed this once")
    p.add_argument("name")
    p.add_argument("url", help="http:// or https://")
    p.add_argument("--event", action="append", default=[], choices=TriggerEvent.values,
                   help="an event it is sent (repeat; none: only triggers' webhook actions "
                        "call it)")
    p.set_defaults(func=webhook_add)
    add_list(webhook, webhook_list)
    p = webhook.add_parser("remove", help="a webhook, its waiting events and its log")
    p.add_argument("webhook", help="its number or name")
    p.set_defaults(func=webhook_remove)
    p = webhook.add_parser("pause", help="send nothing; its events wait")
    p.add_argument("webhook", help="its number or name")
    p.add_argument("--reason", default="", help="shown with it")
    p.set_defaults(func=webhook_pause)
    p = webhook.add_parser("resume", help="send again, the waiting events first")
    p.add_argument("webhook", help="its number or name")
    p.set_defaults(func=webhook_resume)
    p = webhook.add_parser("test", help="post a signed ping now and print the answer")
    p.add_argument("webhook", help="its number or name")
    p.set_defaults(func=webhook_test)
    p = webhook.add_parser("log", help="the latest attempts, newest first")
    p.add_argument("webhook", nargs="?", default=None, help="its number or name (default: all)")
    p.add_argument("--limit", type=count, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=webhook_log)
    register_file_commands(webhook, "webhooks")


def webhook_add(args: argparse.Namespace) -> None:
    from casegate.desk.webhooks.hooks import add_webhook

    created = add_webhook(args.name, args.url, args.event)
    print(f"added webhook #{created.webhook.pk} {created.webhook.name!r}")
    print(f"secret (shown only now; receivers check signatures with it): {created.secret}")


def webhook_list(args: argparse.Namespace) -> None:
    from casegate.desk.models import Webhook
    from casegate.desk.webhooks.hooks import webhook_dict

    rows = [webhook_dict(w) for w in Webhook.objects.order_by("name")]
    if not args.json:
        for row in rows:
            row["state"] = f"paused: {row['paused_reason']}" if row["paused"] else "active"
            row["events"] = ",".join(row["events"]) or "-"
    emit(rows, args.json, ["id", "name", "url", "events", "secret", "waiting", "state"])


def webhook_remove(args: argparse.Namespace) -> None:
    from casegate.desk.webhooks.hooks import remove_webhook

    webhook = remove_webhook(args.webhook)
    print(f"removed the webhook {webhook.name!r}")


def webhook_pause(args: argparse.Namespace) -> None:
    from casegate.desk.webhooks.hooks import pause_webhook

    webhook = pause_webhook(args.webhook, args.reason)
    print(f"webhook {webhook.name!r} is paused: {webhook.paused_reason}")


def webhook_resume(args: argparse.Namespace) -> None:
    from casegate.desk.webhooks.hooks import resume_webhook

    webhook = resume_webhook(args.webhook)
    print(f"webhook {webhook.name!r} is active")


def webhook_test(args: argparse.Namespace) -> None:
    from casegate.desk.webhooks.hooks import find_webhook
    from casegate.desk.webhooks.sending import send_webhook_test

    attempt = send_webhook_test(find_webhook(args.webhook))
    answer = f"HTTP {attempt.status}" if attempt.status is not None else "no answer"
    print(f"{answer} in {attempt.seconds:.3f} s" + (f": {attempt.error}" if attempt.error
                                                     else ""))


def webhook_log(args: argparse.Namespace) -> None:
    from casegate.desk.webhooks.hooks import attempt_dict, attempts, find_webhook

    webhook = find_webhook(args.webhook) if args.webhook is not None else None
    rows = [attempt_dict(a) for a in attempts(webhook, args.limit)]
    if not args.json:
        for row in rows:
            row["status"] = row["status"] or "-"
    emit(rows, args.json, ["at", "webhook", "event", "delivery", "status", "outcome", "error"])

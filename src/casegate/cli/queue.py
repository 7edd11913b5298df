"""``casegate quarantine``, ``queue`` and ``trace``: mail held as spam, and deliveries, with
what an operator does to them; a message's hops.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import json

from casegate.cli.base import Subcommands, add_list, command_group, emit


def register(subcommands: Subcommands) -> None:
    _register_quarantine(command_group(subcommands, "quarantine", "mail held as spam"))
    _register_queue(command_group(subcommands, "queue", "deliveries"))
    p = subcommands.add_parser("trace", help="a message's hops, found by queue id or Message-ID")
    p.add_argument("query", help="a queue id or a Message-ID (or part of one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=trace)


def _register_quarantine(quarantine: Subcommands) -> None:
    p = add_list(quarantine, quarantine_list)
    p.add_argument("--all", action="store_true", help="also released and deleted entries")
    for action in ("release", "delete"):
        p = quarantine.add_parser(action)
        p.add_argument("id", type=int)
        p.set_defaults(func=quarantine_decide, decision=action)


def _register_queue(queue: Subcommands) -> None:
    p = add_list(queue, queue_list)
    p.add_argument("--state", default=None,
                   help="only deliveries in this state, such as deferred, held or failed")
    p.add_argument("--history", action="store_true", help="with every attempt and action")
    for action in ("retry", "hold", "release", "delete"):
        p = queue.add_parser(action)
        target = p.add_mutually_exclusive_group(required=True)
        target.add_argument("id", type=int, nargs="?")
        target.add_argument("--all", action="store_true")
        p.add_argument("--reason", default="")
        p.set_defaults(func=queue_action, action_name=action)


def quarantine_list(args: argparse.Namespace) -> None:
    from casegate.gateway.quarantine import quarantine_as_dict
    from casegate.spool.models import Quarantine

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
    from casegate.delivery.services import delivery_as_dict
    from casegate.spool.models import Delivery

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


def trace(args: argparse.Namespace) -> None:
    from casegate.errors import CasegateError
    from casegate.trace import TraceFilter, find_messages, message_hops

    found = [message_hops(m["queue_id"])
             for m in find_messages(TraceFilter(message_id=args.query), limit=20)]
    messages = [{"queue_id": m["queue_id"], "message_id": m["message_id"],
                 "mail_from": m["mail_from"], "received_at": m["received_at"].isoformat(),
                 "hops": [{**hop, "at": hop["at"].isoformat()} for hop in m["hops"]]}
                for m in found if m is not None]
    if not messages:
        raise CasegateError(f"no message has the queue id or Message-ID {args.query!r}")
    if args.json:
        print(json.dumps(messages, indent=2, ensure_ascii=False))
        return
    for message in messages:
        print(f"{message['queue_id']} {message['message_id']} from <{message['mail_from']}>")
        for hop in message["hops"]:
            print(f"  {hop['at']}  {hop['hop']}: {hop['detail']}")

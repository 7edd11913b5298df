"""``casegate quarantine``, ``queue`` and ``trace``: mail held as spam, and deliveries, with
what an operator does to them; a message's hops.

Handlers import what they use when they run, so that reading the arguments stays fast.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from casegate.cli.base import Subcommands, add_list, command_group, emit
from casegate.filtering.vocabulary import DMARC_RESULTS
from casegate.spool.vocabulary import BULK_LIMIT, QuarantineDecision

if TYPE_CHECKING:
    from casegate.gateway.quarantine import QuarantineFilter


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
    _add_quarantine_filters(p)
    for decision in QuarantineDecision:
        p = quarantine.add_parser(decision.value, help=decision.label)
        target = p.add_mutually_exclusive_group(required=True)
        target.add_argument("id", type=int, nargs="*", default=[], help="quarantine entry ids")
        target.add_argument("--all-matching", action="store_true",
                            help=f"every held entry matching the filters (at most {BULK_LIMIT})")
        _add_quarantine_filters(p)
        p.set_defaults(func=quarantine_decide, decision=decision.value)


def _add_quarantine_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search", default="", metavar="TEXT",
                        help="in the subject, the sender (envelope or From:) or the recipient")
    parser.add_argument("--reason", default="", metavar="TEXT",
                        help="in the reason it was held or the classifier's")
    parser.add_argument("--dmarc", choices=[str(r) for r in DMARC_RESULTS], default="",
                        help="DMARC's result")
    parser.add_argument("--min-score", type=float, default=None, metavar="N",
                        help="the classifier's score is at least N")
    parser.add_argument("--since", type=datetime.fromisoformat, default=None, metavar="ISO",
                        help="held since (YYYY-MM-DD[ HH:MM], UTC unless an offset is given)")
    parser.add_argument("--until", type=_until, default=None, metavar="ISO",
                        help="held until (a date alone: to the end of that day)")


def _until(text: str) -> datetime:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return datetime.fromisoformat(text)
    # A date alone means the whole day, as people mean it.
    return datetime.combine(day + timedelta(days=1), time()) - timedelta(microseconds=1)


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


def _quarantine_filter(args: argparse.Namespace, held_only: bool) -> QuarantineFilter:
    from django.utils import timezone

    from casegate.gateway.quarantine import QuarantineFilter

    def aware(moment: datetime | None) -> datetime | None:
        return timezone.make_aware(moment) if moment and timezone.is_naive(moment) else moment

    return QuarantineFilter(text=args.search, reason=args.reason, dmarc=args.dmarc,
                            min_score=args.min_score, since=aware(args.since),
                            until=aware(args.until), held_only=held_only)


def quarantine_list(args: argparse.Namespace) -> None:
    from casegate.gateway.quarantine import find, quarantine_as_dict

    entries = find(_quarantine_filter(args, held_only=not args.all)).order_by("id")
    rows = [quarantine_as_dict(q) for q in entries]
    emit(rows, args.json, ["id", "state", "recipient", "sender", "reason"])


def quarantine_decide(args: argparse.Namespace) -> None:
    from casegate.errors import CasegateError
    from casegate.gateway.quarantine import QuarantineFilter, decide, matching_ids

    wanted = _quarantine_filter(args, held_only=True)
    if args.all_matching:
        entry_ids = matching_ids(wanted)
    elif wanted != QuarantineFilter():
        raise CasegateError("the filters choose entries with --all-matching, not with ids")
    else:
        entry_ids = args.id
    outcome = decide(QuarantineDecision(args.decision), entry_ids)
    for entry_id, recipients in outcome.done.items():
        if args.decision == QuarantineDecision.DELETE:
            print(f"deleted #{entry_id}")
        else:
            print(f"released #{entry_id} to {', '.join(recipients)}")
    if len(outcome.refused) == 1:
        raise CasegateError(outcome.refused[0])
    if outcome.refused:
        raise CasegateError(f"{len(outcome.refused)} of"
                            f" {len(outcome.done) + len(outcome.refused)} left as they were: "
                            + "; ".join(outcome.refused))


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

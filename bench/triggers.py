"""Trigger cost: one event with 1,000 triggers against one, and desk intake with 100
triggers against none, side by side in one run.

    .venv/bin/python bench/triggers.py [--triggers 1000] [--calls 2000] [--messages 400]
        [--intake-triggers 100] [--rounds 3] [--database-url postgresql://...]

A scratch ``$CASEGATE_HOME`` (SQLite unless ``--database-url``) with 50 case intakes.

Part 1, one event: a new case at the first intake whose subject has "refund" is run
through the triggers of ``case_created`` (the simulator's dry run: everything the engine
does for an event, including the read that tells whether the triggers changed, but
nothing saved). The probe trigger (that intake, subject contains refund: a tag and a team)
is alone, then among N-1 others as a desk has them, each naming its intake and its events
(spread over the other 49 intakes and the five events); then among N-1 for any intake
whose subject condition does not hold, which every event must look at (the worst case,
shown for comparison). Best of 5 runs of ``--calls`` events. Target: N triggers spread
over intakes within 1.5x of one.

Part 2, intake: ``--messages`` new messages delivered to the first intake the way the
delivery worker files them (``receive`` then ``file`` in one transaction, batches of 10),
with no triggers; with ``--intake-triggers`` triggers for that intake and event of which
none holds; and with the same of which one acts on every message (a tag and a team, saved
with its history and audit log entry). The three are measured in turn, ``--rounds`` times,
each round starting with another; the ratio is of the medians.
Target: each with triggers at least 0.8x the messages per second without.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

INTAKES = 50
EVENTS = ("case_created", "customer_replied", "agent_replied", "note_added", "field_changed")
PROBE = {"name": "probe", "events": ["case_created"],
         "conditions": {"all": [{"field": "intake", "is": "help0@desk.example"},
                                {"field": "subject", "contains": "refund"}]},
         "actions": [{"add_tags": ["refund"]}, {"team": "Billing"}]}
TARGET_EVENT = 1.5
TARGET_INTAKE = 0.8


def scratch_desk(database_url: str | None, name: str) -> None:
    """Django set up in this process on a scratch ``$CASEGATE_HOME`` (its database SQLite
    unless ``database_url``), migrated."""
    home = tempfile.mkdtemp(prefix=f"casegate-{name}-bench-")
    os.environ.update(CASEGATE_HOME=home, DJANGO_SETTINGS_MODULE="casegate.settings",
                      CASEGATE_BLOB_STORE="database")
    if database_url:
        os.environ["CASEGATE_DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def setup(database_url: str | None) -> None:
    """A scratch desk with the intakes."""
    scratch_desk(database_url, "triggers")
    from casegate.desk.models import Intake

    Intake.objects.bulk_create([Intake(address=f"help{i}@desk.example")
                                for i in range(INTAKES)])


def use_triggers(triggers: list[dict[str, object]]) -> None:
    import yaml

    from casegate.desk.automation.triggers import import_triggers

    import_triggers(yaml.safe_dump({"triggers": triggers}), "bench.yaml")


def spread(count: int) -> list[dict[str, object]]:
    """Triggers as a desk has them: each for one of the other intakes and some events."""
    return [{"name": f"t{i}", "events": [EVENTS[i % 5], EVENTS[(i + 2) % 5]],
             "conditions": {"all": [{"field": "intake", "is": f"help{1 + i % 49}@desk.example"},
                                    {"field": "subject", "contains": f"word{i}"}]},
             "actions": [{"add_tags": [f"t{i}"]}]} for i in range(count)]


def for_any_intake(count: int, event: str = "case_created") -> list[dict[str, object]]:
    """Triggers every event of ``event`` must look at, none of which holds."""
    return [{"name": f"any{i}", "events": [event],
             "conditions": {"all": [{"field": "subject", "contains": f"word{i}"}]},
             "actions": [{"add_tags": [f"any{i}"]}]} for i in range(count)]


def best_per_call(call: Callable[[], object], calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def one_event(args: argparse.Namespace) -> None:
    from django.utils import timezone

    from casegate.desk.automation.engine import run_triggers
    from casegate.desk.automation.facts import EventMessage
    from casegate.desk.models import Case, Intake

    intake = Intake.objects.get(address="help0@desk.example")
    now = timezone.now()
    case = Case.objects.create(intake=intake, subject="A refund please",
                               requester="dana@example.net", created_at=now, received_at=now)
    message = EventMessage(sender="dana@example.net", subject=case.subject,
                           body="I would like a refund for order 42.")

    def event() -> object:
        outcome = run_triggers(case, "case_created", None, "bench.example", message, dry=True)
        assert [f.trigger for f in outcome.fired] == ["probe"], outcome
        return outcome

    costs = {}
    for label, triggers in (("1 trigger", [PROBE]),
                            (f"{args.triggers:,} spread over intakes and events",
                             [PROBE, *spread(args.triggers - 1)]),
                            (f"{args.triggers:,} for any intake (worst case)",
                             [PROBE, *for_any_intake(args.triggers - 1)])):
        use_triggers(triggers)
        costs[label] = best_per_call(event, args.calls)
    base = costs["1 trigger"]
    print(f"one event (case_created), best of 5 x {args.calls:,} events:")
    for label, cost in costs.items():
        print(f"  {label:<45} {cost * 1e6:8.1f} us  {cost / base:5.2f}x")
    spread_ratio = list(costs.values())[1] / base
    ok = spread_ratio <= TARGET_EVENT
    print(f"  target: spread within {TARGET_EVENT}x of one: {'met' if ok else 'NOT met'}")


def raw_message(n: int, subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {n} <c{n}@example.net>"
    message["To"] = "help0@desk.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<bench-{n}-{time.monotonic_ns()}@example.net>"
    message.set_content("Hello,\n\n" + "The panel stopped charging yesterday.\n" * 40)
    return message.as_bytes(policy=SMTP)


def file_messages(count: int, start: int, subject: str) -> float:
    """Seconds to file ``count`` new messages as the delivery worker does."""
    from django.db import transaction

    from casegate.desk.models import Intake
    from casegate.desk.reception import DeskDelivery, receive
    from casegate.routing.snapshot import load_table
    from casegate.spool.messages import enqueue

    intake = Intake.objects.get(address="help0@desk.example")
    table = load_table()
    raws = [raw_message(start + n, f"{subject} {start + n}") for n in range(count)]
    started = time.perf_counter()
    for first in range(0, count, 10):
        deliveries = [DeskDelivery(first + i, f"Q{start + first + i}", intake.pk,
                                   "help0@desk.example", datetime.now(UTC), raw,
                                   f"c{start + first + i}@example.net", "127.0.0.1")
                      for i, raw in enumerate(raws[first:first + 10])]
        received = receive(deliveries)
        with transaction.atomic():
            receipt = received.file({d.id for d in deliveries}, table, "bench.example")
            assert not receipt.failed, receipt.failed
            if receipt.outgoing:
                enqueue(receipt.outgoing)
    return time.perf_counter() - started


def compare_intake(args: argparse.Namespace, setups: dict[str, Callable[[], str]],
                   target: float, what: str) -> None:
    """File ``--messages`` messages under each set up in turn (each prepares the database
    and gives the subject), ``--rounds`` times, and print the rates and the median ratios
    to the first set up's."""
    rates: dict[str, list[float]] = {label: [] for label in setups}
    sent = 0
    file_messages(20, 10_000_000, "warm-up")
    labels = list(setups)
    for round_number in range(args.rounds):
        # Each round starts with another set up, so none always runs on a fuller database.
        turn = round_number % len(labels)
        for label in labels[turn:] + labels[:turn]:
            subject = setups[label]()
            seconds = file_messages(args.messages, sent, subject)
            sent += args.messages
            rates[label].append(args.messages / seconds)
    base = statistics.median(rates[labels[0]])
    print(f"\nintake: {args.messages} messages a run, batches of 10, {args.rounds} rounds "
          "(messages/s each round, median ratio):")
    ok = True
    for label, values in rates.items():
        ratio = statistics.median(values) / base
        ok = ok and ratio >= target
        print(f"  {label:<36} " + " ".join(f"{v:7.1f}" for v in values) + f"   {ratio:4.2f}x")
    print(f"  target: with {what} at least {target}x: {'met' if ok else 'NOT met'}")


def _with_triggers(triggers: list[dict[str, object]], subject: str) -> Callable[[], str]:
    def prepare() -> str:
        use_triggers(triggers)
        return subject

    return prepare


def intake(args: argparse.Namespace) -> None:
    count = args.intake_triggers
    compare_intake(args, {
        "no triggers": _with_triggers([], "Panel dark"),
        f"{count} triggers, none holds": _with_triggers(for_any_intake(count), "Panel dark"),
        f"{count} triggers, one acts on each": _with_triggers(
            [PROBE, *for_any_intake(count - 1)], "Refund for the panel"),
    }, TARGET_INTAKE, "triggers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--intake-triggers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup(args.database_url)
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}")
    one_event(args)
    intake(args)


if __name__ == "__main__":
    main()

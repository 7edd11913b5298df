"""Automations: one pass of the worker's clock over 100,000 open cases.

    .venv/bin/python bench/automations.py [--cases 100000] [--due 1000] [--runs 5]
        [--database-url postgresql://...]

A scratch ``$CASEGATE_HOME`` (SQLite unless ``--database-url``) with one intake and
``--cases`` unsolved cases loaded in bulk, each with its customer's message: new, open and
pending, most of them touched in the last day. Two automations run in order, as a desk has
them: pending for 3 days is solved (``status is pending``, ``hours_since_status_changed
at_least 72``), and an open case whose customer last wrote 2 days ago and is not tagged
``escalated`` gets priority high (the customer's last message is read per case, and the
tags are checked on the candidates only). ``--due`` cases are due for each.

Each run first sets the due cases back as they were, then times a pass that acts on them
(each change saved with its history and audit log entry, the triggers run after it) and a
second pass at the same time, which finds nothing to do. Target: a pass within 5 s on
PostgreSQL.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from triggers import scratch_desk

TARGET = 5.0
AUTOMATIONS = [
    {"name": "Solve pending after 3 days",
     "conditions": {"all": [{"field": "status", "is": "pending"},
                            {"field": "hours_since_status_changed", "at_least": 72}]},
     "actions": [{"status": "solved"}, {"add_tags": ["auto-solved"]}]},
    {"name": "Escalate quiet open cases",
     "conditions": {"all": [{"field": "status", "is": "open"},
                            {"field": "hours_since_customer_message", "at_least": 48},
                            {"field": "tags", "excludes": "escalated"}]},
     "actions": [{"priority": "high"}]},
]


def load(cases: int, due: int) -> None:
    """``cases`` unsolved cases, the first ``due`` due for the first automation and the next
    ``due`` for the second."""
    from django.utils import timezone

    from casegate.desk.models import Case, DeskMessage, Intake

    intake = Intake.objects.create(address="help@desk.example")
    now = timezone.now()
    started = time.perf_counter()
    for first in range(0, cases, 5000):
        batch = []
        for n in range(first, min(cases, first + 5000)):
            recent = now - timedelta(hours=n % 24)
            status = ("pending" if n < due else "open" if n < 2 * due
                      else ("new", "open", "pending")[n % 3])
            batch.append(Case(intake=intake, subject=f"Panel {n} dark",
                              requester=f"c{n}@example.net", created_at=recent,
                              received_at=recent, updated_at=recent,
                              status_changed_at=recent, status=status))
        created = Case.objects.bulk_create(batch)
        DeskMessage.objects.bulk_create([
            DeskMessage(case=case, direction="inbound", sender=case.requester,
                        subject=case.subject, text="The panel stopped charging.",
                        created_at=case.created_at) for case in created])
    print(f"loaded {cases:,} cases with a message each in {time.perf_counter() - started:.1f} s")


def reset(due: int) -> None:
    """The due cases as they were before a pass acted on them."""
    from django.utils import timezone

    from casegate.desk.models import AutomationRun, Case, DeskMessage

    long_ago = timezone.now() - timedelta(days=4)
    ids = list(Case.objects.order_by("pk").values_list("pk", flat=True)[:2 * due])
    Case.objects.filter(pk__in=ids[:due]).update(status="pending", tags=[],
                                                 status_changed_at=long_ago)
    Case.objects.filter(pk__in=ids[due:]).update(status="open", priority="normal")
    DeskMessage.objects.filter(case_id__in=ids[due:]).update(created_at=long_ago)
    AutomationRun.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    scratch_desk(args.database_url, "automations")
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}")
    import yaml

    from casegate.desk.automation.automations import AUTOMATIONS as AUTOMATION_SET
    from casegate.desk.automation.scheduled import run_automations

    AUTOMATION_SET.import_(yaml.safe_dump({"automations": AUTOMATIONS}), "bench.yaml")
    load(args.cases, args.due)
    first, second = [], []
    for _ in range(args.runs):
        reset(args.due)
        started = time.perf_counter()
        acted = run_automations()
        first.append(time.perf_counter() - started)
        assert list(acted.values()) == [args.due, args.due], acted
        started = time.perf_counter()
        acted = run_automations()
        second.append(time.perf_counter() - started)
        assert list(acted.values()) == [0, 0], acted
    print(f"a pass over {args.cases:,} cases, {args.runs} runs (s):")
    print(f"  acting on {args.due:,} + {args.due:,} cases: "
          + ", ".join(f"{s:.2f}" for s in first))
    print("  again, nothing to do:           " + ", ".join(f"{s:.2f}" for s in second))
    ok = max(first) <= TARGET
    print(f"  target: a pass within {TARGET:.0f} s: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
